"""A rollout's progress and report: each item's status, the rollout's state, totals, the
progress query and its answer, the final report, and the pause/resume/cancel requests.

Progress is carried across continue-as-new as one letter per item (see :attr:`ItemStatus.letter`)
plus the reasons of the items that did not end applied.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from nukiflow.contracts.auth import AuthOutcome, OutcomeStatus
from nukiflow.contracts.rollout_plan import RolloutOp
from nukiflow.contracts.validation import Label

# The final report (a workflow result) lists at most this many items that did not end applied,
# and the new ids of at most this many creates; a page of the progress query holds at most
# MAX_PAGE_ITEMS items. That keeps each answer well below Temporal's 2 MB payload limit (an item
# with a long reason is a few hundred bytes). The complete lists are read page by page
# (RolloutHandle.items and RolloutHandle.report).
MAX_REPORTED_ITEMS = 1_000
MAX_REPORTED_CREATES = 10_000
MAX_PAGE_ITEMS = 1_000


class ItemStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    APPLIED = "applied"
    SUPERSEDED = "superseded"
    FAILED = "failed"
    # Not started: the rollout was cancelled or stopped before this item's turn.
    SKIPPED = "skipped"
    # In flight when the rollout was cancelled and still unfinished after the drain time: its
    # change was handed to its auth's workflow and may still land.
    ABANDONED = "abandoned"

    @property
    def letter(self) -> str:
        return _LETTERS[self]

    @property
    def settled(self) -> bool:
        return self not in (ItemStatus.PENDING, ItemStatus.RUNNING)


_LETTERS = {
    ItemStatus.PENDING: "p",
    ItemStatus.RUNNING: "r",
    ItemStatus.APPLIED: "a",
    ItemStatus.SUPERSEDED: "s",
    ItemStatus.FAILED: "f",
    ItemStatus.SKIPPED: "k",
    ItemStatus.ABANDONED: "x",
}
_BY_LETTER = {letter: status for status, letter in _LETTERS.items()}


def status_of_letter(letter: str) -> ItemStatus:
    return _BY_LETTER[letter]


class RolloutState(StrEnum):
    """Kept in the ``NukiStatus`` search attribute."""

    RUNNING = "running"
    PAUSED = "paused"
    CANCELLING = "cancelling"
    STOPPING = "stopping"
    COMPLETED = "completed"
    COMPLETED_WITH_FAILURES = "completed_with_failures"
    CANCELLED = "cancelled"
    STOPPED = "stopped"

    @property
    def final(self) -> bool:
        return self in (
            RolloutState.COMPLETED,
            RolloutState.COMPLETED_WITH_FAILURES,
            RolloutState.CANCELLED,
            RolloutState.STOPPED,
        )


class RolloutTotals(BaseModel):
    total: int = 0
    pending: int = 0
    running: int = 0
    applied: int = 0
    superseded: int = 0
    failed: int = 0
    skipped: int = 0
    abandoned: int = 0

    @property
    def settled(self) -> int:
        return self.total - self.pending - self.running

    @property
    def not_applied(self) -> int:
        return self.superseded + self.failed + self.skipped + self.abandoned

    @classmethod
    def of(cls, counts: dict[ItemStatus, int]) -> RolloutTotals:
        return cls(
            total=sum(counts.values()),
            **{status.value: counts.get(status, 0) for status in ItemStatus},
        )


class ItemReport(BaseModel):
    """One item's state: safe to show (no code)."""

    index: int
    op: RolloutOp
    smartlock_id: int
    # The auth changed; for an applied create, the new auth's id.
    auth_id: str | None = None
    label: str
    status: ItemStatus
    reason: str | None = None


class ProgressQuery(BaseModel):
    """Which items a progress query lists (totals are always complete): one page, in plan
    order, of the items that pass both filters."""

    offset: int = Field(default=0, ge=0)
    # Only items after this plan index: a cursor that pages a running rollout without skipping
    # items when others change state between pages (offset counts shift; indices do not).
    after_index: int = Field(default=-1, ge=-1)
    limit: int = Field(default=50, ge=0, le=MAX_PAGE_ITEMS)
    # Only items in these states (None: every item).
    statuses: list[ItemStatus] | None = None
    # Only items of these operations (None: every item); with statuses=[applied] and
    # ops=[create], the pages hold the new auth ids.
    ops: list[RolloutOp] | None = None


class RolloutProgress(BaseModel):
    rollout_id: str
    name: str | None = None
    state: RolloutState
    totals: RolloutTotals
    # The page of items the query asked for, and how many items (after its cursor) matched.
    items: list[ItemReport] = Field(default_factory=list)
    matched: int = 0
    # Runs so far (1 + continue-as-new count) and this run's history length.
    runs: int = 1
    history_length: int = 0
    started_at: datetime | None = None
    stop_reason: str | None = None


class RolloutReport(BaseModel):
    """How a rollout ended: every item that did not end applied, and why.

    The workflow's result carries at most ReportLimits of both lists and counts the rest as
    omitted; :meth:`nukiflow.fleet.RolloutHandle.report` pages them in, so a report from there
    is complete (both omitted counts zero).
    """

    rollout_id: str
    name: str | None = None
    state: RolloutState
    totals: RolloutTotals
    # In plan order; beyond the report's limit the rest are counted in not_applied_omitted.
    not_applied: list[ItemReport]
    not_applied_omitted: int = 0
    # The ids of the auths the plan's applied creates made, by item index (up to the report's
    # limit; the rest are counted in created_omitted).
    created: dict[int, str] = Field(default_factory=dict)
    created_omitted: int = 0
    runs: int = 1
    started_at: datetime | None = None
    finished_at: datetime | None = None
    stop_reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.state is RolloutState.COMPLETED


class ControlRequest(BaseModel):
    """Input of the pause, resume and cancel updates."""

    reason: Label | None = Field(default=None, max_length=500)


def outcome_reason(outcome: AuthOutcome) -> str:
    """Why an outcome is not 'applied', in one line."""
    reason = outcome.reason
    if outcome.status is OutcomeStatus.SUPERSEDED:
        by = f"superseded by change {outcome.superseded_by!r}" if outcome.superseded_by else None
        reason = ": ".join(part for part in (by or "superseded", reason) if part)
    elif outcome.status is OutcomeStatus.REJECTED:
        reason = f"rejected: {reason or 'invalid change'}"
    return reason or outcome.status.value
