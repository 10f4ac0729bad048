"""Deadlines are instants fixed by the caller when it calls, refused at the edge when they make
no sense, and every wait is bounded by them: actions, auth changes, creates, rollout items."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from nukiflow.activities.fleet_activities import FleetActivities
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.client import NukiFlow
from nukiflow.contracts.action import (
    ActionName,
    ActionRequest,
    ActionStatus,
    QueuedAction,
    lock_workflow_id,
)
from nukiflow.contracts.auth import (
    AuthChange,
    AuthOutcome,
    AuthPatch,
    CreateAuthRequest,
    OutcomeStatus,
)
from nukiflow.contracts.deadline import DeadlineError, resolve_deadline
from nukiflow.contracts.entity import PendingChange, auth_workflow_id, create_workflow_id
from nukiflow.contracts.rollout import ApplyItemInput, RolloutItem, RolloutOp
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.control_models import RequestRecord
from nukiflow.simulator.settings import Faults
from tests.conftest import StartWorker
from tests.test_cli import run

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


async def _wait_for(predicate: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
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


def _writes(records: list[RequestRecord], smartlock_id: int) -> list[RequestRecord]:
    return [
        r
        for r in records
        if r.method in ("POST", "PUT", "DELETE") and r.path.startswith(f"/smartlock/{smartlock_id}")
    ]


async def _past(instant: datetime) -> None:
    """Wait until the wall clock has passed ``instant`` (a precondition the test brings about)."""

    async def passed() -> bool:
        return datetime.now(UTC) > instant

    await _wait_for(passed)


# -- the shared rule ----------------------------------------------------------------------------


def test_a_deadline_becomes_the_instant_it_names_now() -> None:
    resolve = resolve_deadline
    day = timedelta(days=1)
    assert resolve(None, default=timedelta(seconds=60), maximum=day, now=NOW) == NOW + timedelta(
        seconds=60
    )
    assert resolve(timedelta(seconds=15), default=day, maximum=day, now=NOW) == NOW + timedelta(
        seconds=15
    )
    berlin = datetime(2030, 1, 1, 13, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert resolve(berlin, default=day, maximum=day, now=NOW) == datetime(
        2030, 1, 1, 12, 30, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("deadline", "message"),
    [
        (timedelta(0), "longer than zero"),
        (timedelta(seconds=-5), "longer than zero"),
        (timedelta(days=2), "at most 24 h"),
        (NOW, "has passed"),
        (NOW - timedelta(seconds=1), "has passed"),
        (NOW + timedelta(days=2), "more than 24 h ahead"),
        (datetime(2030, 1, 1, 12, 30), "time zone"),
        (30, "timedelta or a date-time"),
        (math.inf, "timedelta or a date-time"),
    ],
)
def test_a_deadline_that_makes_no_sense_is_refused_never_defaulted(
    deadline: object, message: str
) -> None:
    with pytest.raises(DeadlineError, match=message):
        resolve_deadline(
            deadline, default=timedelta(seconds=60), maximum=timedelta(days=1), now=NOW
        )


def test_payloads_recorded_with_seconds_still_decode_and_count_from_acceptance() -> None:
    """Histories recorded before deadlines were instants carry ``deadline_seconds`` only."""
    accepted = NOW
    old_action = ActionRequest.model_validate(
        {
            "request_id": "r",
            "action": "unlock",
            "force": False,
            "full_lock": False,
            "deadline_seconds": 8.0,
        }
    )
    queued = QueuedAction(number=1, request=old_action, accepted_at=accepted)
    assert queued.deadline == accepted + timedelta(seconds=8)
    new_action = ActionRequest(request_id="r", action=ActionName.UNLOCK, deadline_at=NOW)
    late = QueuedAction(number=1, request=new_action, accepted_at=NOW + timedelta(seconds=18))
    assert late.deadline == NOW, "an instant is not counted from a late acceptance"

    old_change = AuthChange.model_validate(
        {"request_id": "c", "kind": "update", "patch": {"name": "x"}, "deadline_seconds": 60}
    )
    pending = PendingChange(number=1, change=old_change, accepted_at=accepted)
    assert pending.change.deadline_from(pending.accepted_at) == accepted + timedelta(seconds=60)
    old_create = CreateAuthRequest.model_validate(
        {"request_id": "c", "smartlock_id": 1, "name": "x", "deadline_seconds": 86400.0}
    )
    assert old_create.deadline_from(accepted) == accepted + timedelta(days=1)
    assert "deadline_at" not in old_create.fields().model_dump()
    old_item = ApplyItemInput.model_validate(
        {
            "request_id": "i",
            "item": {"op": "delete", "smartlock_id": 1, "auth_id": "a" * 24},
            "deadline_seconds": 60.0,
            "wait_seconds": 1.0,
            "heartbeat_seconds": 1.0,
        }
    )
    assert old_item.deadline_at is None and old_item.deadline_seconds == 60.0
    with pytest.raises(ValueError, match="not both"):
        ActionRequest(request_id="r", action="lock", deadline_at=NOW, deadline_seconds=5)
    with pytest.raises(ValueError, match="time zone"):
        AuthChange(request_id="c", kind="delete", deadline_at=datetime(2030, 1, 1))


# -- refused at the facade, before anything reaches Temporal ------------------------------------

BAD_DEADLINES: list[tuple[Callable[[], object], str]] = [
    (lambda: timedelta(0), "longer than zero"),
    (lambda: timedelta(seconds=-1), "longer than zero"),
    (lambda: datetime.now(UTC) - timedelta(seconds=1), "has passed"),
    (lambda: datetime(2030, 1, 1, 12, 0), "time zone"),
]


@pytest.mark.parametrize(("deadline", "message"), BAD_DEADLINES)
async def test_the_facade_rejects_a_bad_action_deadline(
    flow: NukiFlow, temporal_client: Client, deadline: Callable[[], Any], message: str
) -> None:
    outcome = await flow.action(4243, ActionName.UNLOCK, deadline=deadline())
    assert outcome.status is ActionStatus.REJECTED
    assert outcome.reason is not None and message in outcome.reason
    too_far = await flow.action(4243, "lock", deadline=timedelta(hours=25))
    assert too_far.status is ActionStatus.REJECTED
    with pytest.raises(Exception, match="not found"):
        await temporal_client.get_workflow_handle(lock_workflow_id(4243)).describe()


@pytest.mark.parametrize(("deadline", "message"), BAD_DEADLINES)
async def test_the_facade_rejects_a_bad_change_deadline(
    flow: NukiFlow, temporal_client: Client, deadline: Callable[[], Any], message: str
) -> None:
    auth_id = "b" * 24
    outcomes = [
        await flow.update_auth(4244, auth_id, {"name": "x"}, deadline=deadline()),
        await flow.delete_auth(4244, auth_id, deadline=deadline()),
        await flow.create_auth(4244, name="x", code=555123, request_id="d1", deadline=deadline()),
        await flow.update_auth(4244, auth_id, {"name": "x"}, deadline=timedelta(days=31)),
    ]
    for outcome in outcomes:
        assert outcome.status is OutcomeStatus.REJECTED
    for outcome in outcomes[:3]:
        assert outcome.reason is not None and message in outcome.reason
    for workflow_id in (auth_workflow_id(4244, auth_id), create_workflow_id(4244, "d1")):
        with pytest.raises(Exception, match="not found"):
            await temporal_client.get_workflow_handle(workflow_id).describe()


# -- auth changes and creates --------------------------------------------------------------------


async def test_a_change_no_worker_takes_before_its_deadline_is_never_written(
    flow: NukiFlow, sim: SimulatorControl, start_worker: StartWorker, temporal_client: Client
) -> None:
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="guest", code=555551)
    pending = asyncio.create_task(
        flow.update_auth(
            lock.smartlock_id, auth.id, {"code": 555552}, deadline=timedelta(seconds=1)
        )
    )
    handle = temporal_client.get_workflow_handle(auth_workflow_id(lock.smartlock_id, auth.id))
    await _wait_for(lambda: _exists(handle))
    # The call fixed its instant before the workflow existed, so before this moment.
    await _past(datetime.now(UTC) + timedelta(seconds=1))
    assert not pending.done()
    await start_worker()
    outcome = await asyncio.wait_for(pending, timeout=30)
    assert outcome.status is OutcomeStatus.FAILED, outcome.reason
    assert outcome.reason is not None and "never written" in outcome.reason
    assert outcome.writes == 0
    assert _writes(await sim.requests(), lock.smartlock_id) == []
    assert (await sim.device(lock.smartlock_id)).auths[0].code == 555551


async def test_a_create_no_worker_starts_before_its_deadline_sends_nothing(
    flow: NukiFlow, sim: SimulatorControl, start_worker: StartWorker, temporal_client: Client
) -> None:
    lock = await sim.add_lock()
    handle = await flow.start_create_auth(
        lock.smartlock_id, name="late", code=555124, deadline=timedelta(seconds=1)
    )
    assert not isinstance(handle, AuthOutcome), handle.reason
    await _past(datetime.now(UTC) + timedelta(seconds=1))
    await start_worker()
    outcome = await asyncio.wait_for(handle.result(), timeout=30)
    assert outcome.status is OutcomeStatus.FAILED, outcome.reason
    assert outcome.reason is not None and "nothing was sent" in outcome.reason
    assert await sim.requests() == []
    assert (await sim.device(lock.smartlock_id)).auths == []


async def test_the_first_read_of_an_auth_is_bounded_by_the_change_deadline(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    """Every read fails (5xx): the entity's first read gives up at the change's deadline, not
    after a fixed ten minutes."""
    lock = await sim.add_lock()
    await sim.set_faults(Faults(server_error_rate=1.0), lock.smartlock_id)
    auth_id = "c" * 24
    # Room for a loaded machine to see the first attempt fail before the deadline (then the
    # entity's own read runs until it).
    outcome = await asyncio.wait_for(
        flow.update_auth(lock.smartlock_id, auth_id, {"name": "x"}, deadline=timedelta(seconds=4)),
        timeout=60,
    )
    assert outcome.status is OutcomeStatus.FAILED, outcome.reason
    assert outcome.reason is not None and "reading the auth" in outcome.reason
    handle = temporal_client.get_workflow_handle(auth_workflow_id(lock.smartlock_id, auth_id))
    history = await handle.fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    # The first attempt's read failed (nothing written): the entity's own read follows.
    names = [s.activity_type.name for s in scheduled]
    assert names == ["nuki.auth.read_write_settle", "nuki.auth.read"]
    assert scheduled[1].schedule_to_close_timeout.ToTimedelta() <= timedelta(seconds=4)


async def test_a_change_waiting_in_line_is_answered_at_its_deadline(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    """The change before it waits for an offline lock (Nuki holds its write): the later change
    is answered at its own deadline, never written, while the first still waits."""
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="guest", code=555551)
    await sim.set_faults(Faults(offline_mode="hold"), lock.smartlock_id)
    await sim.set_online(lock.smartlock_id, False)
    first = asyncio.create_task(
        flow.update_auth(
            lock.smartlock_id, auth.id, {"code": 555552}, deadline=timedelta(seconds=60)
        )
    )

    async def first_written() -> bool:
        return bool(_writes(await sim.requests(), lock.smartlock_id))

    await _wait_for(first_written)
    # Room for a loaded machine to accept it before its deadline: then it waits in line.
    second = await asyncio.wait_for(
        flow.update_auth(
            lock.smartlock_id, auth.id, {"name": "later"}, deadline=timedelta(seconds=3)
        ),
        timeout=30,
    )
    assert second.status is OutcomeStatus.FAILED, second.reason
    assert second.reason is not None and "passed while it waited behind change #1" in (
        second.reason
    )
    assert "never written" in second.reason
    assert not first.done(), "the first change still waits for the lock"
    await sim.set_online(lock.smartlock_id, True)
    done = await asyncio.wait_for(first, timeout=30)
    assert done.status is OutcomeStatus.APPLIED, done.reason
    assert len(_writes(await sim.requests(), lock.smartlock_id)) == 1
    device = (await sim.device(lock.smartlock_id)).auths[0]
    assert (device.code, device.name) == (555552, "guest")


# -- rollout items -------------------------------------------------------------------------------


async def test_a_rollout_item_past_its_instant_is_answered_not_rejected(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, nuki: NukiClient
) -> None:
    """An item's activity retried after the instant its workflow fixed sends that instant: the
    change it already started answers with its outcome, one never started is failed unwritten
    (not "rejected": the item was fine)."""
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="guest", code=555551)
    item = RolloutItem(
        op=RolloutOp.UPDATE,
        smartlock_id=lock.smartlock_id,
        auth_id=auth.id,
        patch=AuthPatch(name="renamed"),
    )
    activities = FleetActivities(nuki, flow)
    env = ActivityEnvironment()
    started = ApplyItemInput(
        request_id="item-1",
        item=item,
        deadline_at=datetime.now(UTC) + timedelta(seconds=30),
        wait_seconds=30,
        heartbeat_seconds=5,
    )
    first = await env.run(activities.apply_item, started)
    assert first.status is OutcomeStatus.APPLIED, first.reason
    past = datetime.now(UTC) - timedelta(seconds=1)
    again = await env.run(activities.apply_item, started.model_copy(update={"deadline_at": past}))
    assert again == first, "the same request id attaches to the change it started"
    never = await env.run(
        activities.apply_item,
        started.model_copy(
            update={
                "request_id": "item-2",
                "deadline_at": past,
                "item": item.model_copy(update={"patch": AuthPatch(name="too late")}),
            }
        ),
    )
    assert never.status is OutcomeStatus.FAILED, never.reason
    assert never.reason is not None and "never written" in never.reason
    assert (await sim.device(lock.smartlock_id)).auths[0].name == "renamed"


# -- the command line ----------------------------------------------------------------------------


async def test_the_cli_refuses_a_deadline_that_makes_no_sense_with_exit_2(
    cli_env: dict[str, str], temporal_client: Client
) -> None:
    zero = await run(cli_env, "unlock", "4245", "--deadline", "0s")
    assert zero.exit_code == 2, zero.output
    too_far = await run(cli_env, "unlock", "4245", "--deadline", "25h")
    assert too_far.exit_code == 2, too_far.output
    assert "--deadline" in too_far.output and "at most 1d" in too_far.output
    change = await run(
        cli_env, "auth", "update", "4245", "d" * 24, "--name", "x", "--deadline", "31d"
    )
    assert change.exit_code == 2, change.output
    assert "--deadline" in change.output and "at most 30d" in change.output
    with pytest.raises(Exception, match="not found"):
        await temporal_client.get_workflow_handle(lock_workflow_id(4245)).describe()
