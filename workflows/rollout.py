"""A fleet rollout: many auth changes across many locks, with bounded concurrency.

Each item runs as the ``nuki.fleet.apply_item`` activity, which sends it through its auth's
entity workflow (a create through the create workflow) with the request id
``<rollout id>:<index>``: a rollout never races other changes to the same auth, and a retried,
resumed or re-submitted item attaches to the change it started instead of making a second one.

Scheduling is deterministic (:mod:`nukiflow.workflows.rollout_schedule`): at most
``max_in_flight`` items overall and ``per_lock`` per lock, items of one auth strictly in plan
order, the locks with the most items left first.

Pause, resume and cancel are updates; progress is a query. History stays bounded: after
``max_items_per_run`` items (or when Temporal suggests it) the run stops starting items, waits up
to ``drain_seconds`` for those in flight, and continues as new carrying one letter per item and
the reasons of the items that did not end applied. Items still in flight after the drain are
re-sent by the next run with the same request id (they attach to their change).

The result (the final report) lists a bounded number of the items that did not end applied and
of the new auth ids, to stay well below Temporal's payload limit. The final run holds every
item's state (:mod:`nukiflow.workflows.rollout_book`), and a closed workflow still answers
queries while its history is retained: the progress query pages through all of them, before and
after the end.

An input that holds no plan the workflow can run (built by hand, or damaged) fails the workflow
at once with a non-retryable ``RolloutInputInvalid`` naming what is wrong, instead of failing
its workflow task over and over.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import nukiflow.contracts.fleet_policies as policy
    import nukiflow.contracts.search_attributes as sa
    import nukiflow.workflows.fleet_calls as calls
    import nukiflow.workflows.logic_version as logic_version
    from nukiflow.contracts.auth import AuthOutcome, OutcomeStatus
    from nukiflow.contracts.entity import auth_workflow_id, create_workflow_id
    from nukiflow.contracts.messages import error_message
    from nukiflow.contracts.names import (
        ROLLOUT_CANCEL_UPDATE,
        ROLLOUT_PAUSE_UPDATE,
        ROLLOUT_PROGRESS_QUERY,
        ROLLOUT_RESUME_UPDATE,
        ROLLOUT_WORKFLOW,
    )
    from nukiflow.contracts.rollout import (
        ROLLOUT_INPUT_INVALID,
        ControlRequest,
        FailurePolicy,
        ItemStatus,
        ProgressQuery,
        RolloutInput,
        RolloutOp,
        RolloutProgress,
        RolloutReport,
        RolloutState,
        item_request_id,
        outcome_reason,
        pack_carry,
    )
    from nukiflow.workflows.failure_reasons import describe_activity_failure
    from nukiflow.workflows.rollout_book import RolloutBook
    from nukiflow.workflows.rollout_schedule import Scheduler

# What the progress query without an argument lists: what an operator asks about.
NOT_APPLIED = (
    ItemStatus.FAILED,
    ItemStatus.RUNNING,
    ItemStatus.PENDING,
    ItemStatus.SKIPPED,
    ItemStatus.ABANDONED,
)

# Marks runs whose failed items fail their activity (drawn failed in the timeline); earlier
# runs had the activity complete with the failed outcome.
ITEM_FAILS_PATCH = "rollout-item-activity-fails-for-a-failed-item"

_OUTCOME_STATUS = {
    OutcomeStatus.APPLIED: ItemStatus.APPLIED,
    OutcomeStatus.SUPERSEDED: ItemStatus.SUPERSEDED,
    OutcomeStatus.FAILED: ItemStatus.FAILED,
    OutcomeStatus.REJECTED: ItemStatus.FAILED,
}
_ACTIVE = (RolloutState.RUNNING, RolloutState.PAUSED)


@workflow.defn(name=ROLLOUT_WORKFLOW)
class RolloutWorkflow:
    @workflow.init
    def __init__(self, input: RolloutInput) -> None:
        self._input = input
        self._options = input.options
        # A bad input fails the workflow from ``run`` (an exception here would fail the
        # workflow task instead, retried forever).
        self._invalid: str | None = None
        try:
            self._book = RolloutBook.open(input, workflow.now())
        except ValueError as exc:
            self._invalid = (
                f"the rollout's input holds no plan that can run: {error_message(exc)}; start "
                "rollouts through nukiflow (Fleet.apply_rollout or `nukiflow rollout apply`)"
            )
            self._book = RolloutBook.empty(input, workflow.now(), self._invalid)
        self._scheduler = Scheduler(self._book.items, self._book.pending(), self._options.per_lock)
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        # Items whose activity this run cancelled, and whether they go back to pending.
        self._withdrawn: set[int] = set()
        self._requeue_withdrawn = False
        self._settled_this_run = 0
        self._wake = False
        self._published: RolloutState | None = None

    # -- control -----------------------------------------------------------------------------

    @workflow.update(name=ROLLOUT_PAUSE_UPDATE)
    def pause(self, request: ControlRequest) -> RolloutProgress:
        """Start no more items; those in flight finish."""
        if self._book.state is RolloutState.RUNNING:
            self._book.state = RolloutState.PAUSED
            workflow.logger.info(
                "rollout paused%s", f": {request.reason}" if request.reason else ""
            )
            self._changed()
        return self._progress(ProgressQuery(limit=0))

    @pause.validator
    def _validate_pause(self, request: ControlRequest) -> None:
        if self._book.state not in _ACTIVE:
            raise ValueError(f"the rollout is {self._book.state.value}; it can no longer be paused")

    @workflow.update(name=ROLLOUT_RESUME_UPDATE)
    def resume(self, request: ControlRequest) -> RolloutProgress:
        if self._book.state is RolloutState.PAUSED:
            self._book.state = RolloutState.RUNNING
            workflow.logger.info("rollout resumed")
            self._changed()
        return self._progress(ProgressQuery(limit=0))

    @resume.validator
    def _validate_resume(self, request: ControlRequest) -> None:
        if self._book.state not in _ACTIVE:
            raise ValueError(
                f"the rollout is {self._book.state.value}; it can no longer be resumed"
            )

    @workflow.update(name=ROLLOUT_CANCEL_UPDATE)
    def cancel(self, request: ControlRequest) -> RolloutProgress:
        """Start no more items; wait for those in flight (up to the drain time), then end with
        a report in which the items never started are 'skipped'."""
        if self._book.state in _ACTIVE:
            self._book.state = RolloutState.CANCELLING
            self._book.stop_reason = "cancelled" + (f": {request.reason}" if request.reason else "")
            workflow.logger.info("rollout %s", self._book.stop_reason)
            self._changed()
        return self._progress(ProgressQuery(limit=0))

    @cancel.validator
    def _validate_cancel(self, request: ControlRequest) -> None:
        if self._book.state.final:
            raise ValueError(f"the rollout already ended ({self._book.state.value})")

    @workflow.query(name=ROLLOUT_PROGRESS_QUERY)
    def progress(self, query: ProgressQuery | None = None) -> RolloutProgress:
        """Totals and one page of items; without an argument (as the Temporal UI asks) the
        first page of the items that did not end applied or superseded."""
        if query is None:
            query = ProgressQuery(statuses=list(NOT_APPLIED))
        return self._progress(query)

    # -- the main loop -----------------------------------------------------------------------

    @workflow.run
    async def run(self, input: RolloutInput) -> RolloutReport:
        if self._invalid is not None:
            raise ApplicationError(self._invalid, type=ROLLOUT_INPUT_INVALID, non_retryable=True)
        self._publish()
        self._show()
        rollover = False
        try:
            while True:
                self._wake = False
                if self._book.state in (RolloutState.CANCELLING, RolloutState.STOPPING):
                    break
                if self._book.counts[ItemStatus.PENDING] and self._rollover_due():
                    rollover = True
                    break
                if self._book.state is RolloutState.RUNNING:
                    self._dispatch()
                if not self._in_flight and not self._book.counts[ItemStatus.PENDING]:
                    break
                self._show()
                await workflow.wait_condition(lambda: self._wake)
            await self._drain(requeue=rollover)
        except asyncio.CancelledError:
            # The workflow itself was cancelled (Temporal's cancel): end as the cancel update
            # would, with a report.
            if self._book.state in _ACTIVE:
                self._book.state = RolloutState.CANCELLING
                self._book.stop_reason = "cancelled (the rollout's workflow was cancelled)"
            rollover = False
            await self._drain(requeue=False)

        if rollover:
            await workflow.wait_condition(workflow.all_handlers_finished)
            workflow.logger.info(
                "continuing as new after %d items in run %d",
                self._settled_this_run,
                self._book.runs,
            )
            # Everything but the carried progress stays as it was (report limits included).
            workflow.continue_as_new(
                input.model_copy(update={"carry": pack_carry(self._book.carry())})
            )
        self._finish()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._book.report(self._input.report_limits, finished_at=workflow.now())

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
        book = self._book
        if book.state in (RolloutState.CANCELLING, RolloutState.STOPPING):
            reason = (
                f"not started: the rollout was {book.stop_reason}"
                if book.state is RolloutState.CANCELLING
                else f"not started: the rollout stopped ({book.stop_reason})"
            )
            for index in book.pending():
                book.set(index, ItemStatus.SKIPPED, reason)
            book.state = (
                RolloutState.CANCELLED
                if book.state is RolloutState.CANCELLING
                else RolloutState.STOPPED
            )
        elif book.counts[ItemStatus.APPLIED] == len(book.items):
            book.state = RolloutState.COMPLETED
        else:
            book.state = RolloutState.COMPLETED_WITH_FAILURES
        self._scheduler.clear()
        self._publish()
        self._show()

    # -- items -------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        for index in self._scheduler.next_items(self._options.max_in_flight - len(self._in_flight)):
            self._book.set(index, ItemStatus.RUNNING)
            self._in_flight[index] = asyncio.create_task(self._run_item(index))

    async def _run_item(self, index: int) -> None:
        item = self._book.items[index]
        options = self._options
        outcome: AuthOutcome | None = None
        failure: str | None = None
        try:
            outcome = await calls.apply_item(
                item_request_id(self._input.rollout_id, index),
                item,
                deadline=timedelta(seconds=options.item_deadline_seconds),
                wait_seconds=options.item_wait_seconds,
                heartbeat_seconds=options.heartbeat_seconds,
                # Also the re-asking of an item still in progress (ItemPending).
                retry_policy=policy.rollout_item_policy(options),
                summary=f"item {index}: {item.label()}",
                fail_when_failed=logic_version.since(ITEM_FAILS_PATCH),
            )
        except ActivityError as err:
            outcome = calls.item_failure_outcome(err)
            if outcome is None and index not in self._withdrawn:
                failure = describe_activity_failure(err, f"applying item {index}")
        except asyncio.CancelledError:
            # Withdrawn by this run (drain timed out) or the workflow was cancelled.
            self._withdrawn.add(index)
        finally:
            self._in_flight.pop(index, None)
            self._scheduler.release(index)
        if index in self._withdrawn:
            self._withdrawn.discard(index)
            self._settle_withdrawn(index)
        elif outcome is not None:
            self._record(index, outcome)
        else:
            self._book.set(index, ItemStatus.FAILED, failure or "the item's activity failed")
            self._after_failure(index)
        self._wake = True

    def _settle_withdrawn(self, index: int) -> None:
        if self._requeue_withdrawn and self._book.state in _ACTIVE:
            # Sent again by the next run with the same request id: attaches to its change.
            self._book.set(index, ItemStatus.PENDING)
            return
        item = self._book.items[index]
        if item.op is RolloutOp.CREATE:
            where = create_workflow_id(
                item.smartlock_id, item_request_id(self._input.rollout_id, index)
            )
        else:
            assert item.auth_id is not None
            where = auth_workflow_id(item.smartlock_id, item.auth_id)
        self._book.set(
            index,
            ItemStatus.ABANDONED,
            f"still in flight when the rollout was {self._book.stop_reason or 'ended'}; its "
            f"change was handed to workflow {where} and may still land",
        )

    def _record(self, index: int, outcome: AuthOutcome) -> None:
        status = _OUTCOME_STATUS[outcome.status]
        if self._book.items[index].op is RolloutOp.CREATE and outcome.auth_id is not None:
            self._book.auth_ids[index] = outcome.auth_id
        reason = None if status is ItemStatus.APPLIED else outcome_reason(outcome)
        self._book.set(index, status, reason)
        self._settled_this_run += 1
        if status is ItemStatus.FAILED:
            self._after_failure(index)

    def _after_failure(self, index: int) -> None:
        if self._options.on_failure is FailurePolicy.STOP and self._book.state in _ACTIVE:
            self._book.state = RolloutState.STOPPING
            self._book.stop_reason = f"item {index} failed: {self._book.reasons.get(index)}"
            workflow.logger.info("rollout stopping at the first failure (item %d)", index)
            self._publish()

    def _changed(self) -> None:
        self._wake = True
        self._publish()
        self._show()

    # -- views -------------------------------------------------------------------------------

    def _progress(self, query: ProgressQuery) -> RolloutProgress:
        return self._book.progress(
            query, history_length=workflow.info().get_current_history_length()
        )

    def _publish(self) -> None:
        if self._published is self._book.state:
            return
        workflow.upsert_search_attributes(
            [sa.KIND.value_set("rollout"), sa.STATUS.value_set(self._book.state.value)]
        )
        self._published = self._book.state

    def _show(self) -> None:
        workflow.set_current_details(self._book.details(self._options))
