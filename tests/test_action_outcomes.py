"""What a lock action's answer claims holds through late workers, lost heartbeats and timeouts.

Each test provokes its condition deterministically (no worker on the task queue, heartbeats
that never reach Temporal, an answer the fake cloud holds back, a worker stopped mid-way) and
checks the answer against what the fake cloud and its device really did.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.console import Console
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import (
    ActivityInboundInterceptor,
    ActivityOutboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    Replayer,
    Worker,
)

from nukiflow.activities.nuki_client import NukiClient
from nukiflow.cli.render_actions import render_action_outcome
from nukiflow.client import NukiFlow
from nukiflow.contracts.action import (
    ActionName,
    ActionOutcome,
    ActionStatus,
    ActionTiming,
    LockActionsInput,
    LockStatus,
    lock_workflow_id,
)
from nukiflow.contracts.wire import LockAction, LockState
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.control_models import RequestRecord
from nukiflow.simulator.server import SimulatorServer
from nukiflow.simulator.settings import Faults
from nukiflow.temporal.worker import build_worker
from nukiflow.workflows.lock_actions import LockActionsWorkflow
from tests.conftest import FAST_TIMING, TOKEN, StartWorker
from tests.test_cli import run

# -- helpers ----------------------------------------------------------------------------------


def _action_posts(records: list[RequestRecord], smartlock_id: int) -> list[RequestRecord]:
    return [
        r
        for r in records
        if r.method == "POST" and r.path.startswith(f"/smartlock/{smartlock_id}/action")
    ]


async def _wait_for(predicate: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    """Poll a condition that the test itself brings about (never a race it hopes to win)."""
    give_up = time.monotonic() + within
    while not await predicate():
        if time.monotonic() > give_up:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def _exists(handle: WorkflowHandle[Any, Any]) -> bool:
    try:
        await handle.describe()
    except Exception:  # not started yet
        return False
    return True


async def _event_types(handle: WorkflowHandle[Any, Any]) -> list[EventType.ValueType]:
    return [e.event_type for e in (await handle.fetch_history()).events]


async def _start_lock_workflow(
    client: Client, flow: NukiFlow, smartlock_id: int, action_timing: ActionTiming
) -> WorkflowHandle[Any, Any]:
    """The lock's workflow with this test's action timing; callers attach to it."""
    return await client.start_workflow(
        LockActionsWorkflow.run,
        LockActionsInput(
            smartlock_id=smartlock_id, timing=FAST_TIMING, action_timing=action_timing
        ),
        id=lock_workflow_id(smartlock_id),
        task_queue=flow.task_queue,
    )


async def _replays(client: Client, handle: WorkflowHandle[Any, Any]) -> None:
    await Replayer(
        workflows=[LockActionsWorkflow], data_converter=client.data_converter
    ).replay_workflow(await handle.fetch_history())


class _DropHeartbeats(Interceptor):
    """Activity heartbeats never reach Temporal, as when a worker is killed before its
    asynchronous heartbeat went out: what the workflow decides must not depend on them."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _DropInbound(next)


class _DropInbound(ActivityInboundInterceptor):
    def init(self, outbound: ActivityOutboundInterceptor) -> None:
        super().init(_DropOutbound(outbound))


class _DropOutbound(ActivityOutboundInterceptor):
    def heartbeat(self, *details: Any) -> None:
        return None


class _Gates(Interceptor):
    """Holds activities of the given types back: ``stuck`` ones never return (as when their
    worker hangs or dies mid-call), ``gated`` ones wait until the test opens the gate."""

    def __init__(self, stuck: set[str], gated: set[str]) -> None:
        self.stuck, self.gated = stuck, gated
        self.gate = asyncio.Event()

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _GatedInbound(next, self)


class _GatedInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, gates: _Gates) -> None:
        super().__init__(next)
        self._gates = gates

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        kind = activity.info().activity_type
        if kind in self._gates.stuck:
            await asyncio.Event().wait()  # until cancelled
        if kind in self._gates.gated:
            await self._gates.gate.wait()
        return await super().execute_activity(input)


WorkerWith = Callable[..., Awaitable[Worker]]


@pytest.fixture
async def worker_with(
    temporal_client: Client, simulator: SimulatorServer, task_queue: str
) -> AsyncIterator[WorkerWith]:
    """Start a worker on this test's task queue with the given interceptors."""
    async with AsyncExitStack() as stack:

        async def start(*interceptors: Interceptor) -> Worker:
            nuki = await stack.enter_async_context(NukiClient(TOKEN, simulator.base_url))
            worker = build_worker(
                temporal_client,
                nuki,
                task_queue,
                flow=NukiFlow(temporal_client, task_queue=task_queue, timing=FAST_TIMING),
                graceful_shutdown=timedelta(seconds=1),
                interceptors=list(interceptors),
            )
            await stack.enter_async_context(worker)
            return worker

        yield start


# -- finding: sent after the caller's deadline -------------------------------------------------


@pytest.mark.parametrize("absolute", [False, True], ids=["timedelta", "datetime"])
async def test_an_action_no_worker_takes_before_its_deadline_is_never_sent(
    flow: NukiFlow,
    sim: SimulatorControl,
    start_worker: StartWorker,
    temporal_client: Client,
    absolute: bool,
) -> None:
    """The deadline is the caller's instant: a workflow that accepts the action later (no
    worker for a while) expires it instead of sending it late."""
    lock = await sim.add_lock()
    deadline_at = datetime.now(UTC) + timedelta(seconds=1)
    deadline: timedelta | datetime = deadline_at if absolute else timedelta(seconds=1)
    pending = asyncio.create_task(
        flow.action(lock.smartlock_id, ActionName.UNLOCK, deadline=deadline)
    )
    handle = temporal_client.get_workflow_handle(lock_workflow_id(lock.smartlock_id))
    await _wait_for(lambda: _exists(handle))

    async def deadline_passed() -> bool:
        return datetime.now(UTC) > deadline_at + timedelta(seconds=0.2)

    await _wait_for(deadline_passed)
    assert not pending.done(), "no worker has taken the action yet"
    worker_started_at = datetime.now(UTC)
    await start_worker()
    outcome = await asyncio.wait_for(pending, timeout=30)
    assert outcome.status is ActionStatus.EXPIRED, outcome.reason
    assert outcome.reason is not None and "had passed when the lock's workflow took it up" in (
        outcome.reason
    )
    # The instant the facade fixed had passed before any worker ran.
    assert outcome.deadline is not None and outcome.deadline < worker_started_at
    assert _action_posts(await sim.requests(), lock.smartlock_id) == []
    device = await sim.device(lock.smartlock_id)
    assert device.actions == [] and device.lock_state == LockState.LOCKED


# -- finding: "expired, never sent" while the door opened ----------------------------------------


async def test_a_send_that_never_reported_back_is_answered_from_the_log(
    flow: NukiFlow,
    sim: SimulatorControl,
    worker_with: WorkerWith,
    temporal_client: Client,
) -> None:
    """The POST reaches the cloud and the device runs it, but the attempt never returns (its
    answer is held back past the attempt's timeout) and none of its heartbeats reached
    Temporal. The record shows a started attempt without a report: the workflow must look in
    the lock's log, never answer "expired, never sent"."""
    await worker_with(_DropHeartbeats())
    lock = await sim.add_lock()
    handle = await _start_lock_workflow(
        temporal_client,
        flow,
        lock.smartlock_id,
        ActionTiming(call_timeout_seconds=3.5, settle_grace_seconds=5.0),
    )
    # The cloud queues the action at once and answers 10 s later, long after the attempt's
    # 3.5 s: the attempt never reports, and it ends after the deadline (no retry before it).
    await sim.set_faults(Faults(slow_response=10.0, slow_writes_only=True), lock.smartlock_id)
    # Room for a loaded machine to send it before the deadline.
    outcome = await flow.action(
        lock.smartlock_id, ActionName.UNLATCH, deadline=timedelta(seconds=3)
    )
    device = await sim.device(lock.smartlock_id)
    assert [a.action for a in device.actions] == [LockAction.UNLATCH], "the door opened once"
    assert outcome.status is ActionStatus.CONFIRMED, outcome.reason
    assert outcome.confirmed_by == "log"
    assert len(_action_posts(await sim.requests(), lock.smartlock_id)) == 1
    types = await _event_types(handle)
    assert EventType.EVENT_TYPE_MARKER_RECORDED in types  # the patched path was taken
    await _replays(temporal_client, handle)


async def test_a_send_that_may_have_gone_out_and_shows_no_outcome_is_unknown(
    flow: NukiFlow,
    sim: SimulatorControl,
    worker_with: WorkerWith,
    temporal_client: Client,
) -> None:
    """As above, but the device is still running the action when the grace period after the
    deadline ends: the answer says it may have run, and what the lock showed."""
    await worker_with(_DropHeartbeats())
    lock = await sim.add_lock()
    handle = await _start_lock_workflow(
        temporal_client,
        flow,
        lock.smartlock_id,
        ActionTiming(call_timeout_seconds=3.5, settle_grace_seconds=1.0),
    )
    # The unlock takes a minute on the device: still running when the grace period ends.
    await sim.set_faults(
        Faults(slow_response=10.0, slow_writes_only=True, action_time=60.0), lock.smartlock_id
    )
    # Room for a loaded machine to send it before the deadline (the attempt outlasts it).
    outcome = await flow.action(lock.smartlock_id, ActionName.UNLOCK, deadline=timedelta(seconds=3))
    assert outcome.status is ActionStatus.UNKNOWN, outcome.reason
    assert outcome.reason is not None and outcome.reason.startswith("may have run")
    assert "may have reached Nuki" in outcome.reason
    assert "the lock showed an operation running (unlocking)" in outcome.reason
    assert (await flow.lock_state(lock.smartlock_id)).status is LockStatus.UNKNOWN
    device = await sim.device(lock.smartlock_id)
    assert [a.action for a in device.actions] == [LockAction.UNLOCK]
    await _replays(temporal_client, handle)


# -- finding: ran, and answered "failed: unconfirmed" ---------------------------------------------


async def test_a_confirmation_cut_off_at_the_deadline_reads_the_log_once_more(
    flow: NukiFlow,
    sim: SimulatorControl,
    worker_with: WorkerWith,
    temporal_client: Client,
) -> None:
    """The action runs, but its confirmation never answers (its worker hangs) and times out
    at its deadline. The lock's log shows the action completed: the answer is confirmed (from
    the log), not "unconfirmed". The look at the log waits until the test has seen the device
    finish and the confirmation time out."""
    gates = _Gates(stuck={"nuki.action.confirm"}, gated={"nuki.action.look"})
    await worker_with(gates)
    lock = await sim.add_lock()
    # Room for a loaded machine to send it before the deadline, where the confirmation ends.
    pending = asyncio.create_task(
        flow.action(lock.smartlock_id, ActionName.UNLATCH, deadline=timedelta(seconds=4))
    )

    async def ran() -> bool:
        device = await sim.device(lock.smartlock_id)
        return bool(device.actions) and device.pending == 0

    await _wait_for(ran)
    handle = temporal_client.get_workflow_handle(lock_workflow_id(lock.smartlock_id))

    async def confirmation_timed_out() -> bool:
        return EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT in await _event_types(handle)

    await _wait_for(confirmation_timed_out)
    assert not pending.done()
    gates.gate.set()
    outcome = await asyncio.wait_for(pending, timeout=30)
    assert outcome.status is ActionStatus.CONFIRMED, outcome.reason
    assert outcome.confirmed_by == "log" and outcome.sent_at is not None
    assert outcome.state == LockState.UNLATCHED
    device = await sim.device(lock.smartlock_id)
    assert [a.action for a in device.actions] == [LockAction.UNLATCH]
    assert len(_action_posts(await sim.requests(), lock.smartlock_id)) == 1
    await _replays(temporal_client, handle)


# -- the command line ----------------------------------------------------------------------------


async def test_the_cli_exits_3_when_an_action_may_have_run(
    cli_env: dict[str, str], flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    """Sent, still running at the deadline: unknown, exit 3 (not 1: it may have run)."""
    lock = await sim.add_lock()
    # The lock's workflow, with the suite's short polling; the command attaches to it.
    assert (await flow.action(lock.smartlock_id, ActionName.LOCK)).ok
    # A minute on the device: still running at the last look.
    await sim.set_faults(Faults(action_time=60.0), lock.smartlock_id)
    # Room for a loaded machine to send it before the deadline; the fast window (3 s) it is
    # watched for anyway is as long.
    result = await run(cli_env, "unlock", str(lock.smartlock_id), "--deadline", "3s", "--json")
    assert result.exit_code == 3, result.output
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "unknown"
    assert outcome["reason"].startswith("may have run")
    out = io.StringIO()
    render_action_outcome(Console(file=out, width=200), ActionOutcome.model_validate(outcome))
    human = out.getvalue()
    assert "Unknown (it may have run)" in human and "Check the lock" in human
