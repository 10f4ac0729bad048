"""Lock actions against a real Temporal dev server and the fake Nuki cloud over HTTP."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Replayer

from nukiflow.activities.action_activities import ActionActivities
from nukiflow.activities.action_matching import Assessment, assess, find_in_log
from nukiflow.activities.action_schedule import poll_offsets
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.client import NukiFlow
from nukiflow.contracts.action import (
    ActionName,
    ActionOutcome,
    ActionRequest,
    ActionStatus,
    LockActionsInput,
    LockStatus,
    lock_workflow_id,
    spec_of,
)
from nukiflow.contracts.action_io import (
    ConfirmActionInput,
    ConfirmProgress,
    LockSnapshot,
    SendActionInput,
    SendProgress,
)
from nukiflow.contracts.timing import PollTiming
from nukiflow.contracts.wire import LockAction, LockState, SmartlockAction, SmartlockLog
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.control_models import RequestRecord
from nukiflow.simulator.settings import Faults
from nukiflow.workflows.lock_actions import LockActionsWorkflow
from tests.conftest import ACTION_TIME, StartWorker


def _posts(records: list[RequestRecord], smartlock_id: int) -> list[RequestRecord]:
    return [
        r
        for r in records
        if r.method == "POST" and r.path.startswith(f"/smartlock/{smartlock_id}/")
    ]


async def _wait_for(predicate: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


# -- pure pieces ----------------------------------------------------------------------------


def _snap(state: int, *, pending: bool = False, mode: int = 2, online: bool = True) -> LockSnapshot:
    return LockSnapshot(
        lock_type=4, server_state=0 if online else 4, state=state, mode=mode, pending=pending
    )


def test_assess_tells_done_from_not_started() -> None:
    unlock, lock = spec_of(ActionName.UNLOCK), spec_of(ActionName.LOCK)
    locked = _snap(LockState.LOCKED)
    assert assess(unlock, locked, _snap(LockState.UNLOCKING), False) is Assessment.RUNNING
    assert assess(unlock, locked, _snap(LockState.LOCKED, pending=True), False) is (
        Assessment.RUNNING
    )
    assert assess(unlock, locked, _snap(LockState.UNLOCKED), False) is Assessment.DONE
    assert assess(unlock, locked, _snap(LockState.LOCKED), False) is Assessment.WAITING
    assert assess(unlock, locked, _snap(LockState.MOTOR_BLOCKED), False) is Assessment.BLOCKED
    # Locking a locked lock: "locked" proves nothing unless the action was seen running.
    assert assess(lock, locked, _snap(LockState.LOCKED), False) is Assessment.UNCLEAR
    assert assess(lock, locked, _snap(LockState.LOCKED), True) is Assessment.DONE


def test_poll_schedule_probes_before_the_learned_time() -> None:
    timing = PollTiming(fast_first_interval_seconds=0.25, fast_max_interval_seconds=0.5)
    learned = poll_offsets(2.0, 0.9, 0.05, timing)
    assert [round(next(learned), 3) for _ in range(4)] == [1.8, 2.0, 2.25, 2.625]
    unprobed = poll_offsets(2.0, None, 0.05, timing)
    assert [round(next(unprobed), 3) for _ in range(3)] == [2.0, 2.25, 2.625]
    cold = poll_offsets(None, 0.9, 0.05, timing)
    assert [round(next(cold), 3) for _ in range(4)] == [0.3, 0.675, 1.175, 1.675]


def test_log_match_is_the_oldest_entry_since_the_first_try() -> None:
    since = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

    def entry(i: int, action: int, minutes: int) -> SmartlockLog:
        return SmartlockLog(
            id=f"{i:024x}",
            smartlock_id=1,
            action=action,
            trigger=4,
            state=0,
            date=since + timedelta(minutes=minutes),
        )

    logs = [entry(3, 3, 2), entry(2, 1, 1), entry(1, 3, 1), entry(0, 3, -1)]  # newest first
    match = find_in_log(logs, 3, since)
    assert match is not None and match.log_id == f"{1:024x}"
    assert find_in_log(logs, 2, since) is None


def test_requests_refuse_options_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="full_lock"):
        ActionRequest(request_id="r", action=ActionName.UNLOCK, full_lock=True)
    with pytest.raises(ValueError, match="force"):
        ActionRequest(request_id="r", action=ActionName.OPEN, force=True)
    with pytest.raises(ValueError):
        ActionRequest(request_id="r", action=ActionName.LOCK, deadline_seconds=0)
    assert ActionRequest(request_id="r", action="lock", force=True, full_lock=True).option == 6


# -- end to end -----------------------------------------------------------------------------


async def test_unlock_is_confirmed_with_its_state_and_time(
    flow: NukiFlow, sim: SimulatorControl, worker: object
) -> None:
    lock = await sim.add_lock()
    outcome = await flow.action(lock.smartlock_id, "unlock")
    assert outcome.status is ActionStatus.CONFIRMED, outcome.reason
    assert outcome.ok
    assert outcome.state == LockState.UNLOCKED and outcome.state_name == "unlocked"
    assert outcome.confirmed_by == "state"
    assert outcome.seconds is not None and ACTION_TIME * 0.5 <= outcome.seconds < 5
    assert outcome.workflow_id == lock_workflow_id(lock.smartlock_id)
    device = await sim.device(lock.smartlock_id)
    assert [a.action for a in device.actions] == [LockAction.UNLOCK]
    assert device.lock_state == LockState.UNLOCKED
    # The outcome's request count is what the fake cloud saw.
    assert outcome.api_requests == len(await sim.requests())


async def test_unlatch_and_options_go_through_the_action_endpoint(
    flow: NukiFlow, sim: SimulatorControl, worker: object
) -> None:
    lock = await sim.add_lock()
    unlatched = await flow.action(lock.smartlock_id, ActionName.UNLATCH, force=True)
    assert unlatched.status is ActionStatus.CONFIRMED, unlatched.reason
    assert unlatched.state_name == "unlatched"
    locked = await flow.action(lock.smartlock_id, ActionName.LOCK, full_lock=True)
    assert locked.status is ActionStatus.CONFIRMED, locked.reason
    # lock'n'go ends where it started (locked): confirmed because it was seen running.
    going = await flow.action(lock.smartlock_id, ActionName.LOCK_N_GO)
    assert going.status is ActionStatus.CONFIRMED, going.reason
    assert going.state == LockState.LOCKED
    posts = _posts(await sim.requests(), lock.smartlock_id)
    assert {p.path for p in posts} == {f"/smartlock/{lock.smartlock_id}/action"}
    device = await sim.device(lock.smartlock_id)
    assert [(a.action, a.option) for a in device.actions] == [
        (LockAction.UNLATCH, 2),
        (LockAction.LOCK, 4),
        (LockAction.LOCK_N_GO, 0),
    ]


async def test_concurrent_callers_run_in_arrival_order_one_at_a_time(
    flow: NukiFlow, sim: SimulatorControl, worker: object
) -> None:
    lock = await sim.add_lock()
    wanted = [
        ActionName.UNLOCK,
        ActionName.LOCK,
        ActionName.UNLATCH,
        ActionName.LOCK,
        ActionName.UNLOCK,
    ]
    tasks: list[asyncio.Task[ActionOutcome]] = []
    for n, name in enumerate(wanted, start=1):
        tasks.append(asyncio.create_task(flow.action(lock.smartlock_id, name)))

        async def accepted(count: int = n) -> bool:
            try:
                return (await flow.lock_state(lock.smartlock_id)).action_counter >= count
            except Exception:  # not started yet
                return False

        # Arrival order = call order: the next caller calls once this one was accepted.
        await _wait_for(accepted)
    outcomes = await asyncio.gather(*tasks)
    assert [o.status for o in outcomes] == [ActionStatus.CONFIRMED] * 5, [
        o.reason for o in outcomes
    ]
    # Each caller got its own outcome.
    assert [o.action for o in outcomes] == wanted
    assert len({o.request_id for o in outcomes}) == 5
    assert [o.number for o in outcomes] == sorted(o.number for o in outcomes)
    device = await sim.device(lock.smartlock_id)
    assert [a.action for a in device.actions] == [spec_of(n).code for n in wanted]
    # None interleave: each action was sent only after the one before had finished, so the
    # cloud never answered 423 and the device started them at least an action time apart.
    posts = _posts(await sim.requests(), lock.smartlock_id)
    assert [p.status for p in posts] == [204] * 5
    starts = [a.time for a in device.actions]
    assert all(b - a >= ACTION_TIME * 0.95 for a, b in itertools.pairwise(starts))


async def test_423_from_the_api_is_retried_until_the_lock_is_free(
    flow: NukiFlow, sim: SimulatorControl, nuki: NukiClient, worker: object
) -> None:
    lock = await sim.add_lock()
    # Someone else's action (not through nukiflow) keeps the lock busy until nukiflow's send
    # has met a 423: the device takes it up only once the test lifts the pause.
    await sim.set_faults(Faults(device_paused=True), lock.smartlock_id)
    await nuki.action(lock.smartlock_id, SmartlockAction(action=LockAction.UNLOCK))
    pending = asyncio.create_task(flow.action(lock.smartlock_id, ActionName.LOCK))

    async def refused() -> bool:
        return 423 in [p.status for p in _posts(await sim.requests(), lock.smartlock_id)]

    await _wait_for(refused)
    await sim.set_faults(Faults(), lock.smartlock_id)
    outcome = await pending
    assert outcome.status is ActionStatus.CONFIRMED, outcome.reason
    assert outcome.state == LockState.LOCKED
    posts = _posts(await sim.requests(), lock.smartlock_id)
    statuses = [p.status for p in posts]
    assert statuses.count(423) >= 1
    assert statuses.count(204) == 2  # the other caller's unlock and our lock, once
    device = await sim.device(lock.smartlock_id)
    assert [a.action for a in device.actions] == [LockAction.UNLOCK, LockAction.LOCK]


async def test_423_until_the_deadline_expires_and_is_never_sent(
    flow: NukiFlow, sim: SimulatorControl, nuki: NukiClient, worker: object
) -> None:
    lock = await sim.add_lock()
    # Someone else's unlock keeps the lock busy far past the deadline: every try meets 423.
    await sim.set_faults(Faults(action_time=60.0), lock.smartlock_id)
    await nuki.action(lock.smartlock_id, SmartlockAction(action=LockAction.UNLOCK))
    # Room for a loaded machine to try before the deadline; the 423s are what end it.
    outcome = await flow.action(lock.smartlock_id, "unlatch", deadline=timedelta(seconds=4))
    assert outcome.status is ActionStatus.EXPIRED, outcome.reason
    assert outcome.reason is not None and "423" in outcome.reason
    # Refused every time, so nothing was queued that could run late.
    statuses = [p.status for p in _posts(await sim.requests(), lock.smartlock_id)]
    assert statuses[0] == 204 and len(statuses) >= 2 and set(statuses[1:]) == {423}
    device = await sim.device(lock.smartlock_id)
    assert [a.action for a in device.actions] == [LockAction.UNLOCK]


async def test_motor_blocked_fails_with_state_254(
    flow: NukiFlow, sim: SimulatorControl, worker: object
) -> None:
    lock = await sim.add_lock()
    await sim.set_faults(Faults(motor_blocked_next=True), lock.smartlock_id)
    outcome = await flow.action(lock.smartlock_id, ActionName.UNLOCK)
    assert outcome.status is ActionStatus.FAILED
    assert outcome.state == LockState.MOTOR_BLOCKED and outcome.state_name == "motor_blocked"
    assert outcome.reason is not None and "motor blocked" in outcome.reason
    # The next action works again (the lock is no longer blocked after it).
    again = await flow.action(lock.smartlock_id, ActionName.UNLOCK)
    assert again.status is ActionStatus.CONFIRMED, again.reason


async def test_offline_lock_expires_and_the_action_never_reaches_it(
    flow: NukiFlow, sim: SimulatorControl, worker: object
) -> None:
    """The dangerous late unlock: the cloud holds actions for an offline lock."""
    lock = await sim.add_lock()
    await sim.set_faults(Faults(offline_mode="hold"), lock.smartlock_id)
    await sim.set_online(lock.smartlock_id, False)
    # Room for a loaded machine to find the lock offline before the deadline (the reason).
    outcome = await flow.action(lock.smartlock_id, "unlock", deadline=timedelta(seconds=4))
    assert outcome.status is ActionStatus.EXPIRED, outcome.reason
    assert outcome.reason is not None and "offline" in outcome.reason
    # The lock comes back: nothing may arrive late.
    await sim.set_online(lock.smartlock_id, True)
    await asyncio.sleep(ACTION_TIME * 3)
    device = await sim.device(lock.smartlock_id)
    assert device.actions == []
    assert device.lock_state == LockState.LOCKED
    assert _posts(await sim.requests(), lock.smartlock_id) == []


async def test_deadline_passing_in_line_expires_without_sending(
    flow: NukiFlow, sim: SimulatorControl, worker: object
) -> None:
    lock = await sim.add_lock()
    # Offline: the first action waits for the lock (it is never sent to an offline one) for as
    # long as the test needs, ahead of the second in line.
    await sim.set_online(lock.smartlock_id, False)
    first = asyncio.create_task(flow.action(lock.smartlock_id, ActionName.UNLOCK))

    async def first_is_current() -> bool:
        try:
            return (await flow.lock_state(lock.smartlock_id)).current is not None
        except Exception:  # not started yet
            return False

    await _wait_for(first_is_current)
    # Room for a loaded machine to accept it before its deadline: then it waits in line.
    second = await flow.action(lock.smartlock_id, ActionName.LOCK, deadline=timedelta(seconds=3))
    # The caller hears at its deadline, not when the action before it ends.
    assert not first.done()
    assert second.status is ActionStatus.EXPIRED, second.reason
    assert second.reason is not None and "waited in line" in second.reason
    await sim.set_online(lock.smartlock_id, True)
    assert (await first).status is ActionStatus.CONFIRMED
    device = await sim.device(lock.smartlock_id)
    assert [a.action for a in device.actions] == [LockAction.UNLOCK]


async def test_sent_but_not_done_by_the_deadline_is_unknown(
    flow: NukiFlow, sim: SimulatorControl, worker: object
) -> None:
    """Nuki accepted it and it is still running at the deadline: it may run, so the answer is
    unknown (never "failed", which would say the door stayed as it was)."""
    lock = await sim.add_lock()
    # Far longer than the deadline and the fast polling window (3 s in the tests' timing).
    await sim.set_faults(Faults(action_time=60.0), lock.smartlock_id)
    # Room for a loaded machine to send it before the deadline; the fast window (3 s) it is
    # watched for anyway is as long.
    outcome = await flow.action(lock.smartlock_id, "unlock", deadline=timedelta(seconds=3))
    assert outcome.status is ActionStatus.UNKNOWN, outcome.reason
    assert outcome.reason is not None and outcome.reason.startswith("may have run")
    assert "not seen completed by the deadline" in outcome.reason
    assert "unlocking" in outcome.reason
    assert outcome.sent_at is not None
    assert outcome.state == LockState.UNLOCKING


async def test_unclear_send_is_checked_before_sending_again(
    flow: NukiFlow, sim: SimulatorControl, worker: object
) -> None:
    """Nuki takes the action but answers 502: the retry must find it, not send it again."""
    lock = await sim.add_lock()
    await sim.set_faults(Faults(server_error_after_commit_rate=1.0), lock.smartlock_id)
    outcome = await flow.action(lock.smartlock_id, ActionName.UNLATCH)
    assert outcome.status is ActionStatus.CONFIRMED, outcome.reason
    assert outcome.confirmed_by == "log"
    posts = _posts(await sim.requests(), lock.smartlock_id)
    assert [p.status for p in posts] == [502]
    device = await sim.device(lock.smartlock_id)
    assert [a.action for a in device.actions] == [LockAction.UNLATCH]  # the door opened once


async def test_5xx_burst_is_retried_and_the_action_runs_once(
    flow: NukiFlow, sim: SimulatorControl, worker: object
) -> None:
    lock = await sim.add_lock()
    # Each refused call costs a retry (Temporal's retry back-off is at least a second).
    await sim.set_faults(Faults(server_error_rate=0.3), lock.smartlock_id)
    for name in (ActionName.UNLOCK, ActionName.LOCK, ActionName.UNLATCH):
        outcome = await flow.action(lock.smartlock_id, name)
        assert outcome.status is ActionStatus.CONFIRMED, outcome.reason
    assert any(r.status >= 500 for r in await sim.requests())
    device = await sim.device(lock.smartlock_id)
    assert [a.action for a in device.actions] == [
        LockAction.UNLOCK,
        LockAction.LOCK,
        LockAction.UNLATCH,
    ]


async def test_worker_stopped_after_the_send_confirms_without_sending_again(
    flow: NukiFlow, sim: SimulatorControl, start_worker: StartWorker
) -> None:
    lock = await sim.add_lock()
    # The device takes the action up only once the test lifts the pause: the first worker is
    # stopped while the action is sure to be unfinished, however slow the machine.
    await sim.set_faults(Faults(device_paused=True), lock.smartlock_id)
    first = await start_worker()
    pending = asyncio.create_task(flow.action(lock.smartlock_id, ActionName.UNLATCH))

    async def confirming() -> bool:
        try:
            view = await flow.lock_state(lock.smartlock_id)
        except Exception:  # not started yet
            return False
        return view.current is not None and view.current.step == "confirming"

    await _wait_for(confirming)
    assert [p.status for p in _posts(await sim.requests(), lock.smartlock_id)] == [204]
    assert (await sim.device(lock.smartlock_id)).pending == 1
    await first.shutdown()
    assert not pending.done()
    await sim.set_faults(Faults(), lock.smartlock_id)
    await start_worker()
    outcome = await asyncio.wait_for(pending, timeout=30)
    assert outcome.status is ActionStatus.CONFIRMED, outcome.reason
    assert outcome.state_name == "unlatched"
    assert [p.status for p in _posts(await sim.requests(), lock.smartlock_id)] == [204]
    device = await sim.device(lock.smartlock_id)
    assert [a.action for a in device.actions] == [LockAction.UNLATCH]


async def test_worker_stopped_during_the_send_does_not_send_twice(
    flow: NukiFlow, sim: SimulatorControl, start_worker: StartWorker
) -> None:
    """The POST reached the cloud, its answer never reached the worker (it stopped)."""
    lock = await sim.add_lock()
    # The POST's answer takes 30 s: the worker stops (1 s grace) while it waits for the 204,
    # however long noticing the POST takes.
    await sim.set_faults(Faults(slow_response=30, slow_writes_only=True), lock.smartlock_id)
    first = await start_worker()
    pending = asyncio.create_task(flow.action(lock.smartlock_id, ActionName.UNLATCH))

    async def executed() -> bool:
        return bool((await sim.device(lock.smartlock_id)).actions)

    await _wait_for(executed)
    await first.shutdown()  # the send activity is cancelled while it waits for the 204
    await sim.clear_faults(lock.smartlock_id)
    await start_worker()
    outcome = await asyncio.wait_for(pending, timeout=30)
    assert outcome.status is ActionStatus.CONFIRMED, outcome.reason
    assert outcome.confirmed_by == "log"  # the retry found it in the lock's log
    device = await sim.device(lock.smartlock_id)
    assert [a.action for a in device.actions] == [LockAction.UNLATCH]
    # The cloud logs a request once answered; the first POST's answer went to nobody.
    assert len(_posts(await sim.requests(), lock.smartlock_id)) <= 1


async def test_same_request_id_returns_the_first_outcome_without_acting_again(
    flow: NukiFlow, sim: SimulatorControl, worker: object
) -> None:
    lock = await sim.add_lock()
    request_id = uuid.uuid4().hex
    first = await flow.action(lock.smartlock_id, "unlatch", request_id=request_id)
    assert first.status is ActionStatus.CONFIRMED, first.reason
    await sim.clear_requests()
    again = await flow.action(lock.smartlock_id, "unlatch", request_id=request_id)
    assert again == first
    assert await sim.requests() == []
    assert len((await sim.device(lock.smartlock_id)).actions) == 1


async def test_bad_input_is_rejected(
    flow: NukiFlow, sim: SimulatorControl, worker: object, temporal_client: Client
) -> None:
    lock = await sim.add_lock()
    unknown = await flow.action(lock.smartlock_id, "open-sesame")
    assert unknown.status is ActionStatus.REJECTED and unknown.action is None
    assert unknown.reason is not None and "action" in unknown.reason
    negative = await flow.action(lock.smartlock_id, "unlock", deadline=timedelta(seconds=-1))
    assert negative.status is ActionStatus.REJECTED
    options = await flow.action(lock.smartlock_id, "unlatch", full_lock=True)
    assert options.status is ActionStatus.REJECTED
    # Nothing reached Temporal for these.
    handle = temporal_client.get_workflow_handle(lock_workflow_id(lock.smartlock_id))
    with pytest.raises(Exception, match="not found"):
        await handle.describe()
    # An opener action on a lock: refused by the cloud's answer the first time, by the
    # workflow's validator once the lock's type is known.
    first = await flow.action(lock.smartlock_id, ActionName.OPEN)
    assert first.status is ActionStatus.REJECTED and first.reason is not None
    assert "Opener" in first.reason
    assert _posts(await sim.requests(), lock.smartlock_id) == []
    await sim.clear_requests()
    second = await flow.action(lock.smartlock_id, ActionName.ACTIVATE_RTO)
    assert second.status is ActionStatus.REJECTED and second.reason is not None
    assert "Opener" in second.reason
    assert await sim.requests() == []  # the validator knew: nothing was asked of Nuki


async def test_unknown_smartlock_fails_with_the_reason(
    flow: NukiFlow, sim: SimulatorControl, worker: object
) -> None:
    outcome = await flow.action(4_000_000_001, ActionName.UNLOCK)
    assert outcome.status is ActionStatus.FAILED
    assert outcome.reason is not None and "404" in outcome.reason
    assert outcome.api_requests == 1


async def test_opener_actions(flow: NukiFlow, sim: SimulatorControl, worker: object) -> None:
    opener = await sim.add_lock(opener=True)
    rto = await flow.action(opener.smartlock_id, ActionName.ACTIVATE_RTO)
    assert rto.status is ActionStatus.CONFIRMED, rto.reason
    assert rto.state_name == "rto_active"
    # Continuous mode ends in the same state: the mode tells it apart.
    continuous = await flow.action(opener.smartlock_id, ActionName.CONTINUOUS_ON)
    assert continuous.status is ActionStatus.CONFIRMED, continuous.reason
    opened = await flow.action(opener.smartlock_id, ActionName.OPEN)
    assert opened.status is ActionStatus.CONFIRMED, opened.reason
    assert opened.state_name == "open"
    refused = await flow.action(opener.smartlock_id, ActionName.UNLOCK)
    assert refused.status is ActionStatus.REJECTED


async def test_state_query_search_attributes_and_learned_timing(
    flow: NukiFlow, sim: SimulatorControl, worker: object, temporal_client: Client
) -> None:
    lock = await sim.add_lock()
    outcomes = [
        await flow.action(lock.smartlock_id, name)
        for name in (ActionName.UNLOCK, ActionName.LOCK) * 3
    ]
    assert all(o.ok for o in outcomes), [o.reason for o in outcomes]
    view = await flow.lock_state(lock.smartlock_id)
    assert view.status is LockStatus.CONFIRMED
    assert view.action_counter == 6 and view.current is None and view.queue == []
    assert view.last_state == LockState.LOCKED and view.last_state_name == "locked"
    assert [o.request_id for o in view.last_outcomes] == [o.request_id for o in outcomes]
    # Learned from this lock: about the device's action time.
    assert set(view.learned_seconds) == {"unlock", "lock"}
    for seconds in view.learned_seconds.values():
        assert ACTION_TIME * 0.8 <= seconds <= ACTION_TIME * 3
    handle = temporal_client.get_workflow_handle(lock_workflow_id(lock.smartlock_id))
    description = await handle.describe()
    assert description.status is WorkflowExecutionStatus.RUNNING
    attrs = {pair.key.name: pair.value for pair in description.typed_search_attributes}
    assert attrs["NukiSmartlockId"] == lock.smartlock_id
    assert attrs["NukiKind"] == "lock"
    assert attrs["NukiStatus"] == "confirmed"
    # The request counts of the outcomes add up to what the cloud saw.
    assert sum(o.api_requests for o in outcomes) == len(await sim.requests())
    # The history replays deterministically with the current code.
    await Replayer(
        workflows=[LockActionsWorkflow], data_converter=temporal_client.data_converter
    ).replay_workflow(await handle.fetch_history())


async def test_continue_as_new_keeps_request_ids_and_learned_timing(
    flow: NukiFlow, sim: SimulatorControl, worker: object, temporal_client: Client
) -> None:
    lock = await sim.add_lock()
    workflow_id = lock_workflow_id(lock.smartlock_id)
    # Start the lock's workflow with a small history budget; callers attach to it.
    first_run = await temporal_client.start_workflow(
        LockActionsWorkflow.run,
        LockActionsInput(
            smartlock_id=lock.smartlock_id, timing=flow.timing, max_history_events=100
        ),
        id=workflow_id,
        task_queue=flow.task_queue,
    )
    first = await flow.action(lock.smartlock_id, ActionName.UNLOCK)
    assert first.ok, first.reason
    # Bursts of concurrent callers across several rollovers: all served, in order.
    names = [ActionName.LOCK, ActionName.UNLOCK] * 4
    for _ in range(2):
        tasks = []
        for name in names:
            tasks.append(asyncio.create_task(flow.action(lock.smartlock_id, name)))
            await asyncio.sleep(0.01)
        outcomes = await asyncio.gather(*tasks)
        assert all(o.ok for o in outcomes), [o.reason for o in outcomes]
    description = await temporal_client.get_workflow_handle(workflow_id).describe()
    assert description.run_id != first_run.result_run_id
    assert description.status is WorkflowExecutionStatus.RUNNING
    view = await flow.lock_state(lock.smartlock_id)
    assert view.action_counter == 1 + 2 * len(names)
    assert set(view.learned_seconds) == {"unlock", "lock"}
    # The lock's name, read by the first run, is carried across the rollovers.
    assert view.lock_name == lock.name
    # The first request id, sent again after the rollovers, gets its first outcome back.
    await sim.clear_requests()
    again = await flow.action(lock.smartlock_id, ActionName.UNLOCK, request_id=first.request_id)
    assert again == first
    assert await sim.requests() == []
    device = await sim.device(lock.smartlock_id)
    assert len(device.actions) == 1 + 2 * len(names)


def _attempt(number: int, details: BaseModel | None) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = replace(
        ActivityEnvironment.default_info(),
        attempt=number,
        heartbeat_details=[] if details is None else [details.model_dump(mode="json")],
    )
    return env


async def test_a_retry_without_its_predecessors_closing_details_checks_before_sending(
    nuki: NukiClient, sim: SimulatorControl
) -> None:
    """Heartbeats travel asynchronously: a worker killed right after its POST may leave no
    details. The next attempt must then assume the POST went out and look in the log."""
    lock = await sim.add_lock()
    since = datetime.now(UTC) - timedelta(seconds=2)
    # Attempt 1 sent the unlatch and died before any of its heartbeats reached the server.
    await nuki.action(lock.smartlock_id, SmartlockAction(action=LockAction.UNLATCH, option=0))

    async def done() -> bool:
        device = await sim.device(lock.smartlock_id)
        return bool(device.actions) and device.pending == 0

    await _wait_for(done)
    send = SendActionInput(
        smartlock_id=lock.smartlock_id,
        action=ActionName.UNLATCH,
        not_after=datetime.now(UTC) + timedelta(seconds=30),
        log_since=since,
    )
    result = await _attempt(2, None).run(ActionActivities(nuki).send_action, send)
    assert result.executed is not None and result.sent_at is None
    device = await sim.device(lock.smartlock_id)
    assert [a.action for a in device.actions] == [LockAction.UNLATCH], "the door opened once"

    # The predecessor's closing details say it was refused before sending: send at once.
    other = await sim.add_lock()
    clean = SendProgress(requests=2, posts=1, closed_attempt=1, last_refusal="423")
    sent = await _attempt(2, clean).run(
        ActionActivities(nuki).send_action,
        send.model_copy(update={"smartlock_id": other.smartlock_id}),
    )
    assert sent.sent_at is not None and sent.executed is None
    logs = [r for r in await sim.requests() if r.path == f"/smartlock/{other.smartlock_id}/log"]
    assert logs == [], "a clear refusal needs no look in the log"


async def test_a_log_verdict_reports_the_state_the_lock_is_in_not_a_stale_read(
    nuki: NukiClient, sim: SimulatorControl
) -> None:
    """The log can show the action done after the last read showed it running (or after no
    read answered): the outcome then carries a fresh read, never the stale or the prior state."""
    lock = await sim.add_lock()
    before = LockSnapshot.of(await nuki.get_smartlock(lock.smartlock_id))
    since = datetime.now(UTC) - timedelta(seconds=2)
    await nuki.action(lock.smartlock_id, SmartlockAction(action=LockAction.UNLATCH, option=0))

    async def done() -> bool:
        return (await sim.device(lock.smartlock_id)).pending == 0

    await _wait_for(done)
    confirm = ConfirmActionInput(
        smartlock_id=lock.smartlock_id,
        action=ActionName.UNLATCH,
        before=before,
        sent_at=datetime.now(UTC) - timedelta(seconds=5),
        log_since=since,
        # The fast window has passed: the first attempt goes straight to the log.
        timing=PollTiming(fast_window_seconds=0.0),
    )
    running = ConfirmProgress(requests=3, seen_running=True, last=_snap(LockState.UNLATCHING))
    for details in (None, running):
        result = await _attempt(1, details).run(ActionActivities(nuki).confirm_action, confirm)
        assert result.by_log and result.completion == 0
        assert result.state == LockState.UNLATCHED, details
