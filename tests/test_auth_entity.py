"""The authorization entity against a real Temporal dev server and the fake cloud over HTTP."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.worker import Worker

from nukiflow.client import NukiFlow
from nukiflow.contracts.auth import AuthOutcome, OutcomeStatus
from nukiflow.contracts.entity import auth_workflow_id
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.settings import Faults
from tests.conftest import StartWorker

FORUM_CODES = [555551, 555552, 555553, 555554, 555555]


async def _keypad(
    sim: SimulatorControl, code: int = 555551, name: str = "front door"
) -> tuple[int, str]:
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name=name, code=code)
    return lock.smartlock_id, auth.id


async def _device_auth_code(sim: SimulatorControl, smartlock_id: int, auth_id: str) -> int | None:
    device = await sim.device(smartlock_id)
    (auth,) = [a for a in device.auths if a.id == auth_id]
    return auth.code


async def _in_order(calls: list[asyncio.Task[AuthOutcome]]) -> list[AuthOutcome]:
    return list(await asyncio.gather(*calls))


async def test_update_is_applied_and_verified(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    smartlock_id, auth_id = await _keypad(sim)
    outcome = await flow.update_auth(smartlock_id, auth_id, {"code": 555552, "name": "back door"})
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    assert outcome.verified is not None
    assert outcome.verified.code == "******"
    assert outcome.verified.name == "back door"
    assert outcome.writes == 1
    assert outcome.reads >= 1
    assert outcome.workflow_id == auth_workflow_id(smartlock_id, auth_id)
    assert await _device_auth_code(sim, smartlock_id, auth_id) == 555552


async def test_update_keeps_time_restrictions_nuki_would_wipe(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    """Nuki replaces the whole auth on update; nukiflow sends the full auth every time."""
    lock = await sim.add_lock()
    start = datetime(2030, 1, 1, tzinfo=UTC)
    auth = await sim.add_auth(
        lock.smartlock_id,
        name="cleaner",
        code=555551,
        allowed_from_date=start,
        allowed_until_date=start + timedelta(days=30),
        allowed_week_days=64 + 16,
        allowed_from_time=8 * 60,
        allowed_until_time=12 * 60,
    )
    outcome = await flow.update_auth(lock.smartlock_id, auth.id, {"code": 555552})
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    device = await sim.device(lock.smartlock_id)
    (stored,) = device.auths
    assert stored.code == 555552
    assert stored.allowed_week_days == 64 + 16
    assert stored.allowed_from_time == 8 * 60
    assert stored.allowed_until_date == start + timedelta(days=30)


async def test_forum_case_concurrent_callers_end_with_the_last_code(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    """Five callers, the device loses the first accepted write: the lock ends with 555555.

    (Coalescing leaves too few writes for a later one to be sure to exist, so the fault hits
    the first.)"""
    smartlock_id, auth_id = await _keypad(sim, code=555559)
    await sim.set_faults(Faults(lost_update_nth=[1]), smartlock_id)
    tasks = []
    for n, code in enumerate(FORUM_CODES, start=1):
        tasks.append(asyncio.create_task(flow.update_auth(smartlock_id, auth_id, {"code": code})))
        # Arrival order = call order: the next caller calls once this one was accepted.
        await _wait_for_changes(flow, smartlock_id, auth_id, n)
    outcomes = await _in_order(tasks)
    statuses = [o.status for o in outcomes]
    assert OutcomeStatus.FAILED not in statuses, [o.reason for o in outcomes]
    assert outcomes[-1].status is OutcomeStatus.APPLIED
    for outcome in outcomes:
        if outcome.status is OutcomeStatus.SUPERSEDED:
            assert outcome.superseded_by_change is not None
            assert outcome.superseded_by_change > outcome.change_number
    assert await _device_auth_code(sim, smartlock_id, auth_id) == 555555
    # Coalescing: five changes cost far fewer writes than five, the lost one included.
    writes = [r for r in await sim.requests() if r.method == "POST" and auth_id in r.path]
    assert len(writes) <= 4
    accepted = [r for r in writes if r.status == 204]
    assert len(accepted) >= 2, "the lost first write must have been followed by another"


async def test_forum_case_one_caller_in_sequence_rewrites_the_lost_update(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    smartlock_id, auth_id = await _keypad(sim, code=555559)
    await sim.set_faults(Faults(lost_update_nth=[4]), smartlock_id)
    outcomes = [
        await flow.update_auth(smartlock_id, auth_id, {"code": code}) for code in FORUM_CODES
    ]
    assert [o.status for o in outcomes] == [OutcomeStatus.APPLIED] * 5, [o.reason for o in outcomes]
    # The fourth write was lost by the device and written again.
    assert outcomes[3].writes == 2
    assert await _device_auth_code(sim, smartlock_id, auth_id) == 555555


async def test_a_change_that_never_lands_fails_after_bounded_rewrites(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    smartlock_id, auth_id = await _keypad(sim)
    await sim.set_faults(Faults(lost_update_rate=1.0), smartlock_id)
    outcome = await flow.update_auth(smartlock_id, auth_id, {"code": 555552})
    assert outcome.status is OutcomeStatus.FAILED
    assert outcome.writes == 1 + flow.max_rewrites
    assert outcome.reason is not None and "did not land" in outcome.reason
    assert "code" in outcome.reason and "555552" not in outcome.reason
    assert await _device_auth_code(sim, smartlock_id, auth_id) == 555551


async def test_same_request_id_returns_the_first_outcome_without_writing_again(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    smartlock_id, auth_id = await _keypad(sim)
    request_id = uuid.uuid4().hex
    first = await flow.update_auth(smartlock_id, auth_id, {"name": "a"}, request_id=request_id)
    await sim.clear_requests()
    again = await flow.update_auth(smartlock_id, auth_id, {"name": "a"}, request_id=request_id)
    assert again == first
    assert [r for r in await sim.requests() if r.method != "GET"] == []


async def test_callers_on_different_auths_do_not_wait_for_each_other(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    lock_a = await sim.add_lock()
    lock_b = await sim.add_lock()
    auth_a = await sim.add_auth(lock_a.smartlock_id, name="a", code=555551)
    auth_b = await sim.add_auth(lock_b.smartlock_id, name="b", code=555551)
    # Lock A is offline and holds its operation; B must still complete.
    await sim.set_faults(Faults(offline_mode="hold"), lock_a.smartlock_id)
    await sim.set_online(lock_a.smartlock_id, False)
    slow = asyncio.create_task(flow.update_auth(lock_a.smartlock_id, auth_a.id, {"code": 555552}))
    fast = await flow.update_auth(lock_b.smartlock_id, auth_b.id, {"code": 555552})
    assert fast.status is OutcomeStatus.APPLIED
    assert not slow.done()
    await sim.set_online(lock_a.smartlock_id, True)
    assert (await slow).status is OutcomeStatus.APPLIED


async def test_state_query_and_search_attributes(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    smartlock_id, auth_id = await _keypad(sim)
    await flow.update_auth(smartlock_id, auth_id, {"code": 555552, "enabled": False})
    view = await flow.auth_state(smartlock_id, auth_id)
    assert view.status.value == "in_sync"
    assert view.verified is not None and view.verified.code == "******"
    assert view.verified.enabled is False
    assert view.change_counter == 1 and view.pending_changes == 0
    handle = temporal_client.get_workflow_handle(auth_workflow_id(smartlock_id, auth_id))
    description = await handle.describe()
    assert description.status is WorkflowExecutionStatus.RUNNING
    attrs = {pair.key.name: pair.value for pair in description.typed_search_attributes}
    assert attrs["NukiSmartlockId"] == smartlock_id
    assert attrs["NukiAuthId"] == auth_id
    assert attrs["NukiStatus"] == "in_sync"
    assert attrs["NukiKind"] == "auth"


async def _wait_for_changes(flow: NukiFlow, smartlock_id: int, auth_id: str, count: int) -> None:
    """Until the auth's workflow accepted ``count`` changes."""
    for _ in range(1500):
        try:
            if (await flow.auth_state(smartlock_id, auth_id)).change_counter >= count:
                return
        except Exception:  # not started yet
            pass
        await asyncio.sleep(0.02)
    raise AssertionError(f"the auth's workflow never accepted {count} changes")


async def _wait_for_write(sim: SimulatorControl, auth_id: str) -> None:
    """Until the fake cloud accepted a write to the auth (whatever the time it takes)."""
    for _ in range(1500):
        records = await sim.requests()
        if any(r.method == "POST" and r.status == 204 and auth_id in r.path for r in records):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("no write reached the fake cloud")


async def test_a_superseded_caller_can_wait_for_the_change_that_replaced_it(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    smartlock_id, auth_id = await _keypad(sim)
    # Offline, the lock holds what it is sent: #1 stays in flight until the lock is back.
    await sim.set_faults(Faults(offline_mode="hold"), smartlock_id)
    await sim.set_online(smartlock_id, False)
    first = asyncio.create_task(flow.update_auth(smartlock_id, auth_id, {"name": "one"}))
    await _wait_for_write(sim, auth_id)
    # Accepted while #1 is written: #2 coalesces behind it, #3 replaces #2 before it is written.
    second = await flow.start_update_auth(smartlock_id, auth_id, {"name": "two"})
    third = await flow.start_update_auth(smartlock_id, auth_id, {"name": "three"})
    assert not isinstance(second, AuthOutcome) and not isinstance(third, AuthOutcome)
    await sim.set_online(smartlock_id, True)
    superseded = await second.result()
    assert superseded.status is OutcomeStatus.SUPERSEDED
    assert superseded.superseded_by == third.id
    replacing = await flow.wait_for_change(smartlock_id, auth_id, superseded.superseded_by)
    assert replacing.status is OutcomeStatus.APPLIED
    assert replacing.verified is not None and replacing.verified.name == "three"
    assert (await first).status is OutcomeStatus.APPLIED
    # Unknown request ids are refused, not waited on forever.
    with pytest.raises(WorkflowUpdateFailedError):
        await flow.wait_for_change(smartlock_id, auth_id, "no-such-change")


async def test_a_rejected_last_change_lets_the_earlier_one_land(
    flow: NukiFlow, sim: SimulatorControl, start_worker: StartWorker
) -> None:
    """Two changes reach a fresh entity before it read the auth; the last one does not fit the
    auth (a from-date after its until-date): it is rejected, the first is written, and both
    callers get their outcome."""
    lock = await sim.add_lock()
    until = datetime(2030, 2, 1, tzinfo=UTC)
    auth = await sim.add_auth(
        lock.smartlock_id, name="cleaner", code=555551, allowed_until_date=until
    )
    # No worker yet: both changes wait in the server and reach the workflow's first task.
    first = asyncio.create_task(flow.update_auth(lock.smartlock_id, auth.id, {"name": "maid"}))
    await asyncio.sleep(0.3)
    second = asyncio.create_task(
        flow.update_auth(
            lock.smartlock_id, auth.id, {"allowed_from_date": until + timedelta(days=1)}
        )
    )
    await asyncio.sleep(0.3)
    await start_worker()
    renamed, refused = await asyncio.wait_for(asyncio.gather(first, second), timeout=30)
    assert refused.status is OutcomeStatus.REJECTED, refused.reason
    assert refused.reason is not None and "date" in refused.reason
    assert renamed.status is OutcomeStatus.APPLIED, renamed.reason
    (stored,) = (await sim.device(lock.smartlock_id)).auths
    assert stored.name == "maid"
    assert stored.allowed_until_date == until


async def test_a_code_for_an_app_auth_is_refused_before_it_reaches_nuki(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    """The auth's type is unknown until the entity read it: the rule then holds in the merge."""
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="phone", type=0)
    outcome = await flow.update_auth(lock.smartlock_id, auth.id, {"code": 555552})
    assert outcome.status is OutcomeStatus.REJECTED, outcome.reason
    assert outcome.reason is not None and "keypad" in outcome.reason
    writes = [r for r in await sim.requests() if r.method == "POST"]
    assert writes == []
    # Now the entity knows the type: the validator refuses it outside history.
    again = await flow.update_auth(lock.smartlock_id, auth.id, {"code": 555553})
    assert again.status is OutcomeStatus.REJECTED
