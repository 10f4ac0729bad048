"""The drift sweep's Temporal Schedule: created or updated idempotently, triggered, or a sweep
run by hand.

``ensure_sweep_schedule`` is what ``nukiflow sweep schedule`` and ``nukiflow dev`` call: the
schedule ``nukiflow-drift-sweep`` starts the sweep workflow every ``every`` on the task queue,
skipping a start while the previous sweep still runs (overlap ``SKIP``), and catching up at
most one missed start after Temporal was down. Calling it again with another interval updates
the schedule in place; a paused schedule stays paused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from nukiflow.contracts import search_attributes as sa
from nukiflow.contracts.names import DRIFT_SWEEP_WORKFLOW
from nukiflow.contracts.sweep import (
    MAX_SWEEP_EVERY_SECONDS,
    MIN_SWEEP_EVERY_SECONDS,
    SWEEP_SCHEDULE_ID,
    SWEEP_WORKFLOW_ID,
    SweepInput,
    SweepResult,
)
from nukiflow.contracts.validation import InputError

SWEEP_KIND = "sweep"


@dataclass(frozen=True)
class SweepSchedule:
    schedule_id: str
    every: timedelta
    created: bool


def check_interval(every: timedelta) -> timedelta:
    seconds = every.total_seconds()
    if not MIN_SWEEP_EVERY_SECONDS <= seconds <= MAX_SWEEP_EVERY_SECONDS:
        raise InputError(
            f"the sweep interval must be between {MIN_SWEEP_EVERY_SECONDS:.0f}s and 7d "
            f"(a sweep lists the whole account), not {seconds:g}s"
        )
    return every


def sweep_workflow_id(schedule_id: str) -> str:
    """The id of the sweeps a schedule starts (Temporal appends the scheduled time)."""
    if schedule_id == SWEEP_SCHEDULE_ID:
        return SWEEP_WORKFLOW_ID
    return f"{SWEEP_WORKFLOW_ID}-{schedule_id}"


def _schedule(schedule_id: str, task_queue: str, every: timedelta, sweep: SweepInput) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DRIFT_SWEEP_WORKFLOW,
            sweep,
            id=sweep_workflow_id(schedule_id),
            task_queue=task_queue,
            typed_search_attributes=TypedSearchAttributes(
                [SearchAttributePair(sa.KIND, SWEEP_KIND)]
            ),
            static_summary="drift sweep: the account's auths reported to their entities",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP, catchup_window=max(every, timedelta(minutes=1))
        ),
    )


async def ensure_sweep_schedule(
    client: Client,
    task_queue: str,
    every: timedelta,
    *,
    schedule_id: str = SWEEP_SCHEDULE_ID,
    sweep: SweepInput | None = None,
) -> SweepSchedule:
    """Create the sweep's schedule, or update the one there to this interval and task queue."""
    check_interval(every)
    wanted = _schedule(schedule_id, task_queue, every, sweep or SweepInput())
    try:
        await client.create_schedule(schedule_id, wanted)
        return SweepSchedule(schedule_id, every, created=True)
    except ScheduleAlreadyRunningError:
        pass

    def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
        # Keep its state (paused, notes): only what it does and when changes.
        wanted.state = current.description.schedule.state
        return ScheduleUpdate(schedule=wanted)

    await client.get_schedule_handle(schedule_id).update(update)
    return SweepSchedule(schedule_id, every, created=False)


async def trigger_sweep(client: Client, *, schedule_id: str = SWEEP_SCHEDULE_ID) -> None:
    """Start a sweep now through the schedule (its overlap policy still applies)."""
    await client.get_schedule_handle(schedule_id).trigger()


async def run_sweep(
    client: Client, task_queue: str, *, workflow_id: str, sweep: SweepInput | None = None
) -> SweepResult:
    """Run one sweep outside the schedule and wait for its result."""
    result: SweepResult = await client.execute_workflow(
        DRIFT_SWEEP_WORKFLOW,
        sweep or SweepInput(),
        id=workflow_id,
        task_queue=task_queue,
        result_type=SweepResult,
        search_attributes=TypedSearchAttributes([SearchAttributePair(sa.KIND, SWEEP_KIND)]),
        static_summary="drift sweep, run by hand",
    )
    return result
