"""A fleet rollout: many auth changes across many locks, with bounded concurrency.

Each item runs as the ``nuki.fleet.apply_item`` activity, which sends it through its auth's
entity workflow (a create through the create workflow) with the request id
``<rollout id>:<index>``: a rollout never races other changes to the same auth, and a retried,
resumed or re-submitted item attaches to the change it started instead of making a second one.

Scheduling is deterministic: at most ``max_in_flight`` items overall and ``per_lock`` per lock
(a lock's device applies one operation at a time), items of one auth strictly in plan order,
and the locks with the most items left go first (the busiest lock bounds the rollout's time).

Pause, resume and cancel are updates; progress is a query. History stays bounded: after
``max_items_per_run`` items (or when Temporal suggests it) the run stops starting items, waits up
to ``drain_seconds`` for those in flight, and continues as new carrying one letter per item and
the reasons of the items that did not end applied. Items still in flight after the drain are
re-sent by the next run with the same request id (they attach to their change).

The result (the final report) lists a bounded number of the items that did not end applied and
of the new auth ids, to stay well below Temporal's payload limit. The final run holds every
item's state, and a closed workflow still answers queries while its history is retained: the
progress query pages through all of them, before and after the end.
"""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from nukiflow.activities.fleet_activities import FleetActivities
    from nukiflow.contracts import search_attributes as sa
    from nukiflow.contracts.auth import AuthOutcome, OutcomeStatus
    from nukiflow.contracts.entity import auth_workflow_id, create_workflow_id
    from nukiflow.contracts.rollout import (
        ApplyItemInput,
        ControlRequest,
        FailurePolicy,
        ItemReport,
        ItemStatus,
        ProgressQuery,
        RolloutCarry,
        RolloutInput,
        RolloutOp,
        RolloutProgress,
        RolloutReport,
        RolloutState,
        RolloutTotals,
        item_request_id,
        outcome_reason,
        pack_carry,
        status_of_letter,
        unpack_carry,
        unpack_items,
    )
    from nukiflow.workflows.failure_reasons import describe_activity_failure

# An item's activities may run this much longer than the change's own deadline (its workflow
# answers "failed: deadline" by then; the margin covers the calls around it).
ACTIVITY_MARGIN = timedelta(minutes=10)
_OUTCOME_STATUS = {
    OutcomeStatus.APPLIED: ItemStatus.APPLIED,
    OutcomeStatus.SUPERSEDED: ItemStatus.SUPERSEDED,
    OutcomeStatus.FAILED: ItemStatus.FAILED,
    OutcomeStatus.REJECTED: ItemStatus.FAILED,
}
_ACTIVE = (RolloutState.RUNNING, RolloutState.PAUSED)


@workflow.defn(name="NukiRollout")
class RolloutWorkflow:
    @workflow.init
    def __init__(self, input: RolloutInput) -> None:
        self._input = input
        self._options = input.options
        self._items = unpack_items(input.items_packed)
        if len(self._items) != input.count:
            raise ValueError("the packed plan does not hold the announced number of items")
        carry = None if input.carry is None else unpack_carry(input.carry)
        if carry is None:
            self._status = [ItemStatus.PENDING] * len(self._items)
            self._reasons: dict[int, str] = {}
            self._auth_ids: dict[int, str] = {}
            self._state = RolloutState.RUNNING
            self._runs = 1
            self._started_at = workflow.now()
            self._stop_reason: str | None = None
        else:
            # Items in flight when the last run ended are sent again (same request id).
            self._status = [
                ItemStatus.PENDING
                if letter == ItemStatus.RUNNING.letter
                else status_of_letter(letter)
                for letter in carry.statuses
            ]
            self._reasons = dict(carry.reasons)
            self._auth_ids = dict(carry.auth_ids)
            self._state = carry.state
            self._runs = carry.runs + 1
            self._started_at = carry.started_at
            self._stop_reason = carry.stop_reason
        self._counts: dict[ItemStatus, int] = {status: 0 for status in ItemStatus}
        for status in self._status:
            self._counts[status] += 1
        # Pending items per lock, in plan order.
        self._queues: dict[int, deque[int]] = {}
        for index, status in enumerate(self._status):
            if status is ItemStatus.PENDING:
                lock = self._items[index].smartlock_id
                self._queues.setdefault(lock, deque()).append(index)
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._lock_busy: dict[int, int] = {}
        self._auth_busy: set[str] = set()
        # Items whose activity this run cancelled, and whether they go back to pending.
        self._withdrawn: set[int] = set()
        self._requeue_withdrawn = False
        self._settled_this_run = 0
        self._wake = False
        self._published: RolloutState | None = None

    # -- control -----------------------------------------------------------------------------

    @workflow.update
    def pause(self, request: ControlRequest) -> RolloutProgress:
        """Start no more items; those in flight finish."""
        if self._state is RolloutState.RUNNING:
            self._state = RolloutState.PAUSED
            workflow.logger.info(
                "rollout paused%s", f": {request.reason}" if request.reason else ""
            )
            self._changed()
        return self._progress(ProgressQuery(limit=0))

    @pause.validator
    def _validate_pause(self, request: ControlRequest) -> None:
        if self._state not in _ACTIVE:
            raise ValueError(f"the rollout is {self._state.value}; it can no longer be paused")

    @workflow.update
    def resume(self, request: ControlRequest) -> RolloutProgress:
        if self._state is RolloutState.PAUSED:
            self._state = RolloutState.RUNNING
            workflow.logger.info("rollout resumed")
            self._changed()
        return self._progress(ProgressQuery(limit=0))

    @resume.validator
    def _validate_resume(self, request: ControlRequest) -> None:
        if self._state not in _ACTIVE:
            raise ValueError(f"the rollout is {self._state.value}; it can no longer be resumed")

    @workflow.update
    def cancel(self, request: ControlRequest) -> RolloutProgress:
        """Start no more items; wait for those in flight (up to the drain time), then end with
        a report in which the items never started are 'skipped'."""
        if self._state in _ACTIVE:
            self._state = RolloutState.CANCELLING
            self._stop_reason = "cancelled" + (f": {request.reason}" if request.reason else "")
            workflow.logger.info("rollout %s", self._stop_reason)
            self._changed()
        return self._progress(ProgressQuery(limit=0))

    @cancel.validator
    def _validate_cancel(self, request: ControlRequest) -> None:
        if self._state.final:
            raise ValueError(f"the rollout already ended ({self._state.value})")

    @workflow.query
    def progress(self, query: ProgressQuery) -> RolloutProgress:
        return self._progress(query)

    # -- the main loop -----------------------------------------------------------------------

    @workflow.run
    async def run(self, input: RolloutInput) -> RolloutReport:
        self._publish()
        self._show()
        rollover = False
        try:
            while True:
                self._wake = False
                if self._state in (RolloutState.CANCELLING, RolloutState.STOPPING):
                    break
                if self._counts[ItemStatus.PENDING] and self._rollover_due():
                    rollover = True
                    break
                if self._state is RolloutState.RUNNING:
                    self._dispatch()
                if not self._in_flight and not self._counts[ItemStatus.PENDING]:
                    break
                self._show()
                await workflow.wait_condition(lambda: self._wake)
            await self._drain(requeue=rollover)
        except asyncio.CancelledError:
            # The workflow itself was cancelled (Temporal's cancel): end as the cancel update
            # would, with a report.
            if self._state in _ACTIVE:
                self._state = RolloutState.CANCELLING
                self._stop_reason = "cancelled (the rollout's workflow was cancelled)"
            rollover = False
            await self._drain(requeue=False)

        if rollover:
            await workflow.wait_condition(workflow.all_handlers_finished)
            workflow.logger.info(
                "continuing as new after %d items in run %d", self._settled_this_run, self._runs
            )
            # Everything but the carried progress stays as it was (report limits included).
            workflow.continue_as_new(input.model_copy(update={"carry": pack_carry(self._carry())}))
        self._finish()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._report()

    def _rollover_due(self) -> bool:
        info = workflow.info()
        return (
            self._settled_this_run >= self._options.max_items_per_run
            or info.get_current_history_length() >= self._options.max_history_events
            or info.is_continue_as_new_suggested()
        )

    async def _drain(self, *, requeue: bool) -> None:
        """Wait up to the drain time for the items in flight, then withdraw the rest."""
        if not self._in_flight:
            return
        drain = self._options.drain_seconds
        if drain > 0:
            self._show()
            try:
                await workflow.wait_condition(
                    lambda: not self._in_flight,
                    timeout=timedelta(seconds=drain),
                    timeout_summary="items in flight",
                )
                return
            except TimeoutError:
                pass
        self._requeue_withdrawn = requeue
        for index, task in list(self._in_flight.items()):
            self._withdrawn.add(index)
            task.cancel()
        await workflow.wait_condition(lambda: not self._in_flight)

    def _finish(self) -> None:
        if self._state in (RolloutState.CANCELLING, RolloutState.STOPPING):
            reason = (
                f"not started: the rollout was {self._stop_reason}"
                if self._state is RolloutState.CANCELLING
                else f"not started: the rollout stopped ({self._stop_reason})"
            )
            for index, status in enumerate(self._status):
                if status is ItemStatus.PENDING:
                    self._set(index, ItemStatus.SKIPPED, reason)
            self._state = (
                RolloutState.CANCELLED
                if self._state is RolloutState.CANCELLING
                else RolloutState.STOPPED
            )
        elif self._counts[ItemStatus.APPLIED] == len(self._items):
            self._state = RolloutState.COMPLETED
        else:
            self._state = RolloutState.COMPLETED_WITH_FAILURES
        self._queues.clear()
        self._publish()
        self._show()

    # -- scheduling --------------------------------------------------------------------------

    def _dispatch(self) -> None:
        options = self._options
        free = options.max_in_flight - len(self._in_flight)
        if free <= 0:
            return
        candidates = [
            lock
            for lock, queue in self._queues.items()
            if queue and self._lock_busy.get(lock, 0) < options.per_lock
        ]
        # The locks with the most items left first (stable: ties keep plan order).
        candidates.sort(key=lambda lock: -len(self._queues[lock]))
        for lock in candidates:
            while free > 0 and self._lock_busy.get(lock, 0) < options.per_lock:
                index = self._take(lock)
                if index is None:
                    break
                self._start(index)
                free -= 1
            if not self._queues[lock]:
                del self._queues[lock]
            if free <= 0:
                break

    def _take(self, lock: int) -> int | None:
        """The lock's first pending item whose auth has no item in flight."""
        queue = self._queues[lock]
        for position, index in enumerate(queue):
            key = self._items[index].auth_key
            if key is None or key not in self._auth_busy:
                del queue[position]
                return index
        return None

    def _start(self, index: int) -> None:
        item = self._items[index]
        self._set(index, ItemStatus.RUNNING)
        self._lock_busy[item.smartlock_id] = self._lock_busy.get(item.smartlock_id, 0) + 1
        if item.auth_key is not None:
            self._auth_busy.add(item.auth_key)
        self._in_flight[index] = asyncio.create_task(self._run_item(index))

    def _release(self, index: int) -> None:
        item = self._items[index]
        self._in_flight.pop(index, None)
        self._lock_busy[item.smartlock_id] -= 1
        if item.auth_key is not None:
            self._auth_busy.discard(item.auth_key)

    async def _run_item(self, index: int) -> None:
        item = self._items[index]
        options = self._options
        deadline = timedelta(seconds=options.item_deadline_seconds)
        outcome: AuthOutcome | None = None
        failure: str | None = None
        try:
            outcome = await workflow.execute_activity_method(
                FleetActivities.apply_item,
                ApplyItemInput(
                    request_id=item_request_id(self._input.rollout_id, index),
                    item=item,
                    # Fixed now, when the item starts: every attempt sends the same instant.
                    deadline_at=workflow.now() + deadline,
                    wait_seconds=options.item_wait_seconds,
                    heartbeat_seconds=options.heartbeat_seconds,
                ),
                start_to_close_timeout=deadline + ACTIVITY_MARGIN,
                schedule_to_close_timeout=2 * deadline + ACTIVITY_MARGIN,
                heartbeat_timeout=timedelta(seconds=options.heartbeat_seconds),
                # Also the re-asking of an item still in progress (ItemPending).
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=options.item_poll_initial_seconds),
                    backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=options.item_poll_max_seconds),
                ),
                summary=f"item {index}: {item.label()}",
            )
        except ActivityError as err:
            if index not in self._withdrawn:
                failure = describe_activity_failure(err, f"applying item {index}")
        except asyncio.CancelledError:
            # Withdrawn by this run (drain timed out) or the workflow was cancelled.
            self._withdrawn.add(index)
        finally:
            self._release(index)
        if index in self._withdrawn:
            self._withdrawn.discard(index)
            self._settle_withdrawn(index)
        elif outcome is not None:
            self._record(index, outcome)
        else:
            self._set(index, ItemStatus.FAILED, failure or "the item's activity failed")
            self._after_failure(index)
        self._wake = True

    def _settle_withdrawn(self, index: int) -> None:
        if self._requeue_withdrawn and self._state in _ACTIVE:
            # Sent again by the next run with the same request id: attaches to its change.
            self._set(index, ItemStatus.PENDING)
            return
        item = self._items[index]
        if item.op is RolloutOp.CREATE:
            where = create_workflow_id(
                item.smartlock_id, item_request_id(self._input.rollout_id, index)
            )
        else:
            assert item.auth_id is not None
            where = auth_workflow_id(item.smartlock_id, item.auth_id)
        self._set(
            index,
            ItemStatus.ABANDONED,
            f"still in flight when the rollout was {self._stop_reason or 'ended'}; its change "
            f"was handed to workflow {where} and may still land",
        )

    def _record(self, index: int, outcome: AuthOutcome) -> None:
        status = _OUTCOME_STATUS[outcome.status]
        if self._items[index].op is RolloutOp.CREATE and outcome.auth_id is not None:
            self._auth_ids[index] = outcome.auth_id
        self._set(index, status, None if status is ItemStatus.APPLIED else outcome_reason(outcome))
        self._settled_this_run += 1
        if status is ItemStatus.FAILED:
            self._after_failure(index)

    def _after_failure(self, index: int) -> None:
        if self._options.on_failure is FailurePolicy.STOP and self._state in _ACTIVE:
            self._state = RolloutState.STOPPING
            self._stop_reason = f"item {index} failed: {self._reasons.get(index)}"
            workflow.logger.info("rollout stopping at the first failure (item %d)", index)
            self._publish()

    def _set(self, index: int, status: ItemStatus, reason: str | None = None) -> None:
        self._counts[self._status[index]] -= 1
        self._counts[status] += 1
        self._status[index] = status
        if reason is None:
            self._reasons.pop(index, None)
        else:
            self._reasons[index] = reason

    def _changed(self) -> None:
        self._wake = True
        self._publish()
        self._show()

    # -- views -------------------------------------------------------------------------------

    def _totals(self) -> RolloutTotals:
        return RolloutTotals.of(self._counts)

    def _item_report(self, index: int) -> ItemReport:
        item = self._items[index]
        return ItemReport(
            index=index,
            op=item.op,
            smartlock_id=item.smartlock_id,
            auth_id=item.auth_id or self._auth_ids.get(index),
            label=item.label(),
            status=self._status[index],
            reason=self._reasons.get(index),
        )

    def _progress(self, query: ProgressQuery) -> RolloutProgress:
        if query.statuses is None and query.ops is None:
            indices: list[int] | range = range(query.after_index + 1, len(self._items))
        else:
            statuses = None if query.statuses is None else set(query.statuses)
            ops = None if query.ops is None else set(query.ops)
            indices = [
                i
                for i, status in enumerate(self._status)
                if i > query.after_index
                and (statuses is None or status in statuses)
                and (ops is None or self._items[i].op in ops)
            ]
        page = indices[query.offset : query.offset + query.limit]
        items = [self._item_report(i) for i in page]
        matched = len(indices)
        return RolloutProgress(
            rollout_id=self._input.rollout_id,
            name=self._input.name,
            state=self._state,
            totals=self._totals(),
            items=items,
            matched=matched,
            runs=self._runs,
            history_length=workflow.info().get_current_history_length(),
            started_at=self._started_at,
            stop_reason=self._stop_reason,
        )

    def _report(self) -> RolloutReport:
        # Bounded lists keep the result well below Temporal's payload limit; the final run
        # holds every item's state, so the progress query pages in what is left out.
        limits = self._input.report_limits
        not_applied = [
            i for i, status in enumerate(self._status) if status is not ItemStatus.APPLIED
        ]
        created = [
            (i, auth_id)
            for i, auth_id in sorted(self._auth_ids.items())
            if self._status[i] is ItemStatus.APPLIED
        ]
        return RolloutReport(
            rollout_id=self._input.rollout_id,
            name=self._input.name,
            state=self._state,
            totals=self._totals(),
            not_applied=[self._item_report(i) for i in not_applied[: limits.items]],
            not_applied_omitted=max(0, len(not_applied) - limits.items),
            created=dict(created[: limits.creates]),
            created_omitted=max(0, len(created) - limits.creates),
            runs=self._runs,
            started_at=self._started_at,
            finished_at=workflow.now(),
            stop_reason=self._stop_reason,
        )

    def _carry(self) -> RolloutCarry:
        return RolloutCarry(
            statuses="".join(status.letter for status in self._status),
            reasons=self._reasons,
            auth_ids=self._auth_ids,
            state=self._state,
            runs=self._runs,
            started_at=self._started_at,
            stop_reason=self._stop_reason,
        )

    def _publish(self) -> None:
        if self._published is self._state:
            return
        workflow.upsert_search_attributes(
            [sa.KIND.value_set("rollout"), sa.STATUS.value_set(self._state.value)]
        )
        self._published = self._state

    def _show(self) -> None:
        t = self._totals()
        lines = [
            f"**Rollout** {self._input.name or self._input.rollout_id} · **{self._state.value}**",
            f"**Items:** {t.total} · applied {t.applied} · superseded {t.superseded} · "
            f"failed {t.failed} · running {t.running} · pending {t.pending}"
            + (f" · skipped {t.skipped}" if t.skipped else "")
            + (f" · abandoned {t.abandoned}" if t.abandoned else ""),
            f"run {self._runs} · at most {self._options.max_in_flight} in flight, "
            f"{self._options.per_lock} per lock · on failure: {self._options.on_failure.value}",
        ]
        if self._stop_reason:
            lines.append(f"> {self._stop_reason}")
        workflow.set_current_details("\n\n".join(lines))
