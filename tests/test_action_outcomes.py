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
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import (
    ActivityInboundInterceptor,
    ActivityOutboundInterceptor,
    Interceptor,
    Replayer,
    Worker,
)

from activities.nuki_client import NukiClient
from nukiflow.cli_output import render_action_outcome
from nukiflow.client import NukiFlow
from nukiflow.models.action import (
    ActionName,
    ActionOutcome,
    ActionStatus,
    ActionTiming,
    LockActionsInput,
    LockStatus,
    lock_workflow_id,
)
from nukiflow.models.wire import LockAction, LockState
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.control_models import RequestRecord
from nukiflow.simulator.server import SimulatorServer
from nukiflow.simulator.settings import Faults
from nukiflow.worker import build_worker
from tests.conftest import FAST_TIMING, TOKEN, StartWorker
from tests.test_cli import cli_env, run

__all__ = ["cli_env"]  # the fixture, shared with the CLI tests
from workflows.lock_actions import LockActionsWorkflow

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


@pytest.fixture
async def heartbeatless_worker(
    temporal_client: Client, simulator: SimulatorServer, task_queue: str
) -> AsyncIterator[Worker]:
    async with AsyncExitStack() as stack:
        nuki = await stack.enter_async_context(NukiClient(TOKEN, simulator.base_url))
        worker = build_worker(
            temporal_client,
            nuki,
            task_queue,
            flow=NukiFlow(temporal_client, task_queue=task_queue, timing=FAST_TIMING),
            graceful_shutdown=timedelta(seconds=1),
            interceptors=[_DropHeartbeats()],
        )
        await stack.enter_async_context(worker)
        yield worker


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
    heartbeatless_worker: Worker,
    temporal_client: Client,
) -> None:
    """The POST reaches the cloud and the device runs it, but the attempt never returns (its
    answer is held back past the attempt's timeout) and none of its heartbeats reached
    Temporal. The record shows a started attempt without a report: the workflow must look in
    the lock's log, never answer "expired, never sent"."""
    lock = await sim.add_lock()
    handle = await _start_lock_workflow(
        temporal_client,
        flow,
        lock.smartlock_id,
        ActionTiming(call_timeout_seconds=1.0, settle_grace_seconds=5.0),
    )
    # The cloud queues the action at once and answers 3 s later: after the attempt's 1 s.
    await sim.set_faults(Faults(slow_response=3.0, slow_writes_only=True), lock.smartlock_id)
    outcome = await flow.action(
        lock.smartlock_id, ActionName.UNLATCH, deadline=timedelta(seconds=0.8)
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
    heartbeatless_worker: Worker,
    temporal_client: Client,
) -> None:
    """As above, but the device is still running the action when the grace period after the
    deadline ends: the answer says it may have run, and what the lock showed."""
    lock = await sim.add_lock()
    handle = await _start_lock_workflow(
        temporal_client,
        flow,
        lock.smartlock_id,
        ActionTiming(call_timeout_seconds=1.0, settle_grace_seconds=1.0),
    )
    await sim.set_faults(
        Faults(slow_response=3.0, slow_writes_only=True, action_time=30.0), lock.smartlock_id
    )
    outcome = await flow.action(
        lock.smartlock_id, ActionName.UNLOCK, deadline=timedelta(seconds=0.8)
    )
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
    start_worker: StartWorker,
    temporal_client: Client,
) -> None:
    """The action runs, but the confirmation never gets an answer from the cloud (every read
    fails with a 5xx) and its worker stops; it times out at its deadline before another worker
    is there. The cloud answers again, and the lock's log shows the action completed: the
    answer is confirmed (from the log), not "unconfirmed"."""
    lock = await sim.add_lock()
    await sim.set_faults(Faults(action_time=0.5), lock.smartlock_id)
    first = await start_worker()
    pending = asyncio.create_task(
        flow.action(lock.smartlock_id, ActionName.UNLATCH, deadline=timedelta(seconds=1.5))
    )

    async def confirming() -> bool:
        try:
            view = await flow.lock_state(lock.smartlock_id)
        except Exception:  # not started yet
            return False
        return view.current is not None and view.current.step == "confirming"

    await _wait_for(confirming)
    # Sent (confirming begins after the 204): from now on no read can confirm it.
    await sim.set_faults(Faults(action_time=0.5, server_error_rate=1.0), lock.smartlock_id)
    await first.shutdown()

    async def ran() -> bool:
        device = await sim.device(lock.smartlock_id)
        return bool(device.actions) and device.pending == 0

    await _wait_for(ran)
    handle = temporal_client.get_workflow_handle(lock_workflow_id(lock.smartlock_id))

    async def confirmation_timed_out() -> bool:
        return EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT in await _event_types(handle)

    await _wait_for(confirmation_timed_out)
    assert not pending.done()
    await sim.clear_faults(lock.smartlock_id)
    await start_worker()
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
    await sim.set_faults(Faults(action_time=6.0), lock.smartlock_id)
    result = await run(cli_env, "unlock", str(lock.smartlock_id), "--deadline", "0.5s", "--json")
    assert result.exit_code == 3, result.output
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "unknown"
    assert outcome["reason"].startswith("may have run")
    out = io.StringIO()
    render_action_outcome(Console(file=out, width=200), ActionOutcome.model_validate(outcome))
    human = out.getvalue()
    assert "Unknown (it may have run)" in human and "Check the lock" in human
