"""A rollout's bookkeeping: every item's status and reason, the new auth ids, the totals, and
the views made of them (a progress page, the final report, the carried progress, the current
details). Plain Python (no Temporal calls): the workflow passes in what it reads from Temporal.
"""

from __future__ import annotations

from datetime import datetime

from nukiflow.contracts.rollout import (
    ItemReport,
    ItemStatus,
    ProgressQuery,
    ReportLimits,
    RolloutCarry,
    RolloutInput,
    RolloutItem,
    RolloutOptions,
    RolloutProgress,
    RolloutReport,
    RolloutState,
    RolloutTotals,
    status_of_letter,
    unpack_carry,
    unpack_items,
)
from nukiflow.workflows.markdown import md

# Failed items the current details list (the latest ones).
FAILURES_SHOWN = 5


class RolloutBook:
    def __init__(
        self,
        input: RolloutInput,
        items: list[RolloutItem],
        statuses: list[ItemStatus],
        carry: RolloutCarry,
    ) -> None:
        self.rollout_id = input.rollout_id
        self.name = input.name
        self.items = items
        self.status = statuses
        self.reasons: dict[int, str] = dict(carry.reasons)
        self.auth_ids: dict[int, str] = dict(carry.auth_ids)
        self.state = carry.state
        self.runs = carry.runs
        self.started_at = carry.started_at
        self.stop_reason = carry.stop_reason
        self.counts: dict[ItemStatus, int] = {status: 0 for status in ItemStatus}
        for status in statuses:
            self.counts[status] += 1

    @classmethod
    def open(cls, input: RolloutInput, now: datetime) -> RolloutBook:
        """The book of this run: the plan unpacked, with the progress the last run carried
        (items in flight when it ended are sent again, with the same request id). Raises
        ValueError when the input does not hold a plan that can run."""
        items = unpack_items(input.items_packed)
        if len(items) != input.count:
            raise ValueError(
                f"the packed plan holds {len(items)} items, not the {input.count} it announces"
            )
        if input.carry is None:
            carry = RolloutCarry(statuses=ItemStatus.PENDING.letter * len(items), started_at=now)
            return cls(input, items, [ItemStatus.PENDING] * len(items), carry)
        carry = unpack_carry(input.carry)
        carry = carry.model_copy(update={"runs": carry.runs + 1})
        if len(carry.statuses) != len(items):
            raise ValueError(
                f"the carried progress has {len(carry.statuses)} items, the plan {len(items)}"
            )
        statuses = [
            ItemStatus.PENDING if letter == ItemStatus.RUNNING.letter else status_of_letter(letter)
            for letter in carry.statuses
        ]
        return cls(input, items, statuses, carry)

    @classmethod
    def empty(cls, input: RolloutInput, now: datetime, reason: str) -> RolloutBook:
        """The book of a run whose input cannot be used: no items, stopped for ``reason``."""
        carry = RolloutCarry(
            statuses="", state=RolloutState.STOPPED, started_at=now, stop_reason=reason
        )
        return cls(input, [], [], carry)

    def pending(self) -> list[int]:
        return [i for i, status in enumerate(self.status) if status is ItemStatus.PENDING]

    def set(self, index: int, status: ItemStatus, reason: str | None = None) -> None:
        self.counts[self.status[index]] -= 1
        self.counts[status] += 1
        self.status[index] = status
        if reason is None:
            self.reasons.pop(index, None)
        else:
            self.reasons[index] = reason

    def totals(self) -> RolloutTotals:
        return RolloutTotals.of(self.counts)

    def item_report(self, index: int) -> ItemReport:
        item = self.items[index]
        return ItemReport(
            index=index,
            op=item.op,
            smartlock_id=item.smartlock_id,
            auth_id=item.auth_id or self.auth_ids.get(index),
            label=item.label(),
            status=self.status[index],
            reason=self.reasons.get(index),
        )

    def progress(self, query: ProgressQuery, *, history_length: int) -> RolloutProgress:
        if query.statuses is None and query.ops is None:
            indices: list[int] | range = range(query.after_index + 1, len(self.items))
        else:
            statuses = None if query.statuses is None else set(query.statuses)
            ops = None if query.ops is None else set(query.ops)
            indices = [
                i
                for i, status in enumerate(self.status)
                if i > query.after_index
                and (statuses is None or status in statuses)
                and (ops is None or self.items[i].op in ops)
            ]
        page = indices[query.offset : query.offset + query.limit]
        return RolloutProgress(
            rollout_id=self.rollout_id,
            name=self.name,
            state=self.state,
            totals=self.totals(),
            items=[self.item_report(i) for i in page],
            matched=len(indices),
            runs=self.runs,
            history_length=history_length,
            started_at=self.started_at,
            stop_reason=self.stop_reason,
        )

    def report(self, limits: ReportLimits, *, finished_at: datetime) -> RolloutReport:
        # Bounded lists keep the result well below Temporal's payload limit; the final run
        # holds every item's state, so the progress query pages in what is left out.
        not_applied = [
            i for i, status in enumerate(self.status) if status is not ItemStatus.APPLIED
        ]
        created = [
            (i, auth_id)
            for i, auth_id in sorted(self.auth_ids.items())
            if self.status[i] is ItemStatus.APPLIED
        ]
        return RolloutReport(
            rollout_id=self.rollout_id,
            name=self.name,
            state=self.state,
            totals=self.totals(),
            not_applied=[self.item_report(i) for i in not_applied[: limits.items]],
            not_applied_omitted=max(0, len(not_applied) - limits.items),
            created=dict(created[: limits.creates]),
            created_omitted=max(0, len(created) - limits.creates),
            runs=self.runs,
            started_at=self.started_at,
            finished_at=finished_at,
            stop_reason=self.stop_reason,
        )

    def carry(self) -> RolloutCarry:
        return RolloutCarry(
            statuses="".join(status.letter for status in self.status),
            reasons=self.reasons,
            auth_ids=self.auth_ids,
            state=self.state,
            runs=self.runs,
            started_at=self.started_at,
            stop_reason=self.stop_reason,
        )

    def details(self, options: RolloutOptions) -> str:
        """The current details the Temporal UI shows (Markdown)."""
        t = self.totals()
        lines = [
            f"**Rollout** {self.name or self.rollout_id} · **{self.state.value}**",
            f"**Items:** {t.total} · applied {t.applied} · superseded {t.superseded} · "
            f"failed {t.failed} · running {t.running} · pending {t.pending}"
            + (f" · skipped {t.skipped}" if t.skipped else "")
            + (f" · abandoned {t.abandoned}" if t.abandoned else ""),
            f"run {self.runs} · at most {options.max_in_flight} in flight, "
            f"{options.per_lock} per lock · on failure: {options.on_failure.value}",
        ]
        if self.stop_reason:
            lines.append(f"> {self.stop_reason}")
        failed = [i for i in self.reasons if self.status[i] is ItemStatus.FAILED]
        if failed:
            shown = failed[-FAILURES_SHOWN:]
            lines.append(
                f"**Latest failures** ({len(shown)} of {len(failed)}; the `progress` query "
                "lists every item not applied):"
            )
            lines.extend(
                f"- item {i}: {md(self.items[i].label())}: {md(self.reasons[i])}" for i in shown
            )
        return "\n\n".join(lines)
