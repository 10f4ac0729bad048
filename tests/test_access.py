"""Time-limited access grants: the window on the lock, revocation at the end, even offline."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import Replayer, Worker

from nukiflow.client import NukiFlow
from nukiflow.contracts import search_attributes as sa
from nukiflow.contracts.access import GrantInput, GrantStatus, GrantTiming
from nukiflow.fleet import Fleet, FleetError, GrantHandle
from nukiflow.fleet.plan import PlanError
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.settings import Faults
from nukiflow.times.zones import TimeZoneError
from nukiflow.workflows.access_grant import AccessGrantWorkflow
from tests.grant_support import FAR, end_soon

# Retries scaled to the fake cloud's 0.1 s device delay. What must happen before an instant
# gets room for a loaded machine: a revocation is overdue only after 30 s (a test that wants it
# overdue holds the delete back and uses OVERDUE_SOON), an extension's write has 30 s.
FAST_GRANT = GrantTiming(
    revoke_attempt_seconds=2,
    revoke_retry_initial_seconds=0.2,
    revoke_retry_max_seconds=0.5,
    overdue_after_seconds=30,
    change_deadline_seconds=30,
    heartbeat_seconds=2,
    wait_seconds=3,
    poll_initial_seconds=0.2,
    poll_max_seconds=0.5,
)
OVERDUE_SOON = FAST_GRANT.model_copy(update={"overdue_after_seconds": 0.5})


@pytest.fixture
async def fleet_worker(worker: Worker) -> Worker:
    """The shared worker: it runs the fleet workflows too."""
    return worker


@pytest.fixture
def fleet(flow: NukiFlow) -> Fleet:
    return Fleet(flow, grant_timing=FAST_GRANT)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def _only_auth(sim: SimulatorControl, smartlock_id: int) -> list[object]:
    return list((await sim.device(smartlock_id)).auths)


async def _wait_for(
    check: Callable[[], Awaitable[bool]], within: float = 20, what: str = "condition"
) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _attributes(grant: GrantHandle) -> dict[str, object]:
    description = await grant.handle.describe()
    return {pair.key.name: pair.value for pair in description.typed_search_attributes}


async def test_grant_writes_its_window_and_is_revoked_at_the_end(
    fleet: Fleet, sim: SimulatorControl, fleet_worker: Worker
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    # The end is far while the code is created and checked, then brought near (see
    # tests/grant_support.py): a loaded machine could not create it before a near end.
    start, end = _now() - timedelta(minutes=5), _now() + FAR
    grant = await fleet.grant_access(
        lock,
        name="cleaner",
        code=555123,
        start=start,
        end=end,
        tz="Europe/Berlin",
        weekdays="mon-fri",
        times="08:00-18:00",
    )
    assert grant.id.startswith(f"nuki-access-{lock}-")
    created = await grant.created()
    assert created.status is GrantStatus.ACTIVE and created.auth_id is not None
    (auth,) = (await sim.device(lock)).auths
    assert auth.id == created.auth_id and auth.code == 555123 and auth.name == "cleaner"
    assert auth.allowed_from_date == start and auth.allowed_until_date == end
    assert auth.allowed_week_days == 64 + 32 + 16 + 8 + 4
    assert (auth.allowed_from_time, auth.allowed_until_time) == (8 * 60, 18 * 60)
    attributes = await _attributes(grant)
    assert attributes["NukiKind"] == "access" and attributes["NukiStatus"] == "active"
    assert attributes["NukiSmartlockId"] == lock and attributes["NukiAuthId"] == auth.id

    soon = await end_soon(grant)
    result = await asyncio.wait_for(grant.result(), timeout=30)
    assert result.status is GrantStatus.REVOKED and result.verified_by == "entity"
    assert result.revoked_at is not None and result.revoked_at >= soon
    assert result.overdue_since is None
    assert (await sim.device(lock)).auths == []
    assert (await _attributes(grant))["NukiStatus"] == "revoked"
    # The same request again attaches to the finished grant; other details are refused.
    request_id = grant.id.removeprefix(f"nuki-access-{lock}-")
    again = await fleet.grant_access(
        lock,
        name="cleaner",
        code=555123,
        start=start,
        end=end,
        tz="Europe/Berlin",
        weekdays="mon-fri",
        times="08:00-18:00",
        request_id=request_id,
    )
    assert (await again.state()).status is GrantStatus.REVOKED
    with pytest.raises(FleetError, match="other details"):
        await fleet.grant_access(
            lock, name="other", code=555123, start=start, end=end, request_id=request_id
        )


async def test_revocation_due_while_offline_is_overdue_and_done_once_back(
    flow: NukiFlow, sim: SimulatorControl, fleet_worker: Worker, temporal_client: Client
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    grant = await Fleet(flow, grant_timing=OVERDUE_SOON).grant_access(
        lock, name="guest", code=555124, start=_now() - timedelta(hours=1), end=_now() + FAR
    )
    created = await grant.created()
    assert created.status is GrantStatus.ACTIVE
    # No delete may land from the moment the end is near, however late the lock goes offline:
    # until then the lock accepts deletes and never applies them.
    await sim.set_faults(Faults(ghost_delete_nth=list(range(1, 100))), lock)
    end = await end_soon(grant)
    # Offline, the lock drops what it is sent (the default): the delete cannot land.
    await sim.set_online(lock, False)
    await sim.set_faults(Faults(offline_mode="drop"), lock)

    async def overdue() -> bool:
        return (await _attributes(grant)).get("NukiStatus") == "revocation_overdue"

    await _wait_for(overdue, what="the revocation to be overdue")
    view = await grant.state()
    assert view.status is GrantStatus.REVOCATION_OVERDUE
    assert view.overdue_since is not None and view.revocation_due_at == end
    assert len((await sim.device(lock)).auths) == 1
    # What `nukiflow status` lists: running nukiflow workflows by search attribute.
    query = (
        f"NukiKind = 'access' AND NukiStatus = 'revocation_overdue' AND NukiSmartlockId = {lock}"
    )
    # Visibility lists what the server has written to it: a moment after the status changed.

    async def listed() -> bool:
        return [w.id async for w in temporal_client.list_workflows(query)] == [grant.id]

    await _wait_for(listed, what="the grant to be listed as overdue")
    await asyncio.sleep(1.5)  # several attempts, all refused while offline
    assert len((await sim.device(lock)).auths) == 1

    await sim.set_online(lock, True)
    result = await asyncio.wait_for(grant.result(), timeout=30)
    assert result.status is GrantStatus.REVOKED
    assert result.overdue_since is not None and result.revoked_at is not None
    assert (await sim.device(lock)).auths == []
    deletes = [r for r in await sim.requests() if r.method == "DELETE" and r.status == 204]
    assert len(deletes) >= 2, "deletes sent while offline were dropped and sent again"
    replayer = Replayer(
        workflows=[AccessGrantWorkflow], data_converter=temporal_client.data_converter
    )
    await replayer.replay_workflow(await grant.handle.fetch_history())


async def test_revoke_early_and_extend(
    fleet: Fleet, sim: SimulatorControl, fleet_worker: Worker
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    start = _now() - timedelta(minutes=1)
    early = await fleet.grant_access(
        lock, name="early", code=555125, start=start, end=_now() + timedelta(hours=2)
    )
    # Far: the early one is revoked and this one extended before it (a loaded machine is slow).
    extended = await fleet.grant_access(
        lock, name="extended", code=555126, start=start, end=_now() + FAR
    )
    await early.created()
    await extended.created()

    revoked = await early.revoke("guest left early", wait=True)
    assert revoked.status is GrantStatus.REVOKED and revoked.revoke_reason == "guest left early"
    assert [a.name for a in (await sim.device(lock)).auths] == ["extended"]
    with pytest.raises(FleetError, match="not running"):
        await early.extend(_now() + timedelta(hours=3))

    new_end = _now() + 2 * FAR
    view = await extended.extend(new_end)
    assert view.window.allowed_until_date == new_end
    (auth,) = (await sim.device(lock)).auths
    assert auth.allowed_until_date == new_end, "the lock holds the new end"
    with pytest.raises(FleetError, match="must be in the future"):
        await extended.extend(_now() - timedelta(minutes=1))
    # Moved again, near: the revocation follows the end the grant holds last.
    soon = await end_soon(extended)
    result = await asyncio.wait_for(extended.result(), timeout=30)
    assert result.status is GrantStatus.REVOKED
    assert result.revoked_at is not None and result.revoked_at >= soon
    assert (await sim.device(lock)).auths == []


async def test_window_across_a_dst_change_is_written_in_utc(
    fleet: Fleet, sim: SimulatorControl, fleet_worker: Worker
) -> None:
    """Berlin's clocks go forward on 2030-03-31: 10:00 is 09:00 UTC before, 08:00 UTC after;
    the daily times stay lock-local."""
    lock = (await sim.add_lock()).smartlock_id
    grant = await fleet.grant_access(
        lock,
        name="weekend",
        code=555127,
        start="2030-03-30T10:00",
        end="2030-04-01T10:00",
        tz="Europe/Berlin",
        times="09:00-17:30",
    )
    created = await grant.created()
    assert created.status is GrantStatus.SCHEDULED
    (auth,) = (await sim.device(lock)).auths
    assert auth.allowed_from_date == datetime(2030, 3, 30, 9, 0, tzinfo=UTC)
    assert auth.allowed_until_date == datetime(2030, 4, 1, 8, 0, tzinfo=UTC)
    assert (auth.allowed_from_time, auth.allowed_until_time) == (540, 1050)
    assert (await grant.revoke(wait=True)).status is GrantStatus.REVOKED


async def test_bad_input_is_refused_before_temporal(fleet: Fleet) -> None:
    with pytest.raises(TimeZoneError, match="does not exist"):
        await fleet.grant_access(
            7, name="x", code=555555, start="2030-03-31T02:30", end="2030-04-02", tz="Europe/Berlin"
        )
    with pytest.raises(PlanError, match="1-9") as error:
        await fleet.grant_access(7, name="x", code=555055, start=_now(), end=_now() + timedelta(1))
    assert "555055" not in str(error.value)
    with pytest.raises(PlanError, match="at most 20"):
        await fleet.grant_access(
            7, name="x" * 21, code=555555, start=_now(), end=_now() + timedelta(1)
        )
    with pytest.raises(TimeZoneError, match="start before it ends"):
        await fleet.grant_access(7, name="x", code=555555, start=_now(), end=_now())


async def test_failed_create_ends_the_grant_with_its_reason(
    fleet: Fleet, sim: SimulatorControl, fleet_worker: Worker
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    await sim.add_auth(lock, name="owner", code=555128)
    grant = await fleet.grant_access(
        lock, name="guest", code=555128, start=_now(), end=_now() + timedelta(seconds=30)
    )
    view = await grant.created()
    assert view.status is GrantStatus.FAILED and view.auth_id is None
    assert "already uses this keypad code" in (view.reason or "")
    assert "555128" not in (view.reason or "")
    # Ending it early: nothing to revoke (the owner's auth is not the grant's).
    await grant.revoke()
    result = await asyncio.wait_for(grant.result(), timeout=30)
    assert result.status is GrantStatus.FAILED
    assert [a.name for a in (await sim.device(lock)).auths] == ["owner"]


async def test_a_create_that_lands_after_it_failed_is_still_revoked(
    fleet: Fleet, sim: SimulatorControl, fleet_worker: Worker
) -> None:
    """The lock is offline and holds the create past the grant's end: the create fails at its
    deadline, and the grant keeps looking until the lock is back, then revokes the late code."""
    lock = (await sim.add_lock()).smartlock_id
    await sim.set_faults(Faults(offline_mode="hold"), lock)
    await sim.set_online(lock, False)
    # The create fails at the window's end, so the test waits for it: short, but room for a
    # loaded machine to send the create (which the lock then holds) before it.
    grant = await fleet.grant_access(
        lock, name="late", code=555129, start=_now(), end=_now() + timedelta(seconds=5)
    )
    view = await grant.created()
    assert view.status is GrantStatus.FAILED and "deadline" in (view.reason or "")
    await asyncio.sleep(1.0)
    assert (await grant.handle.describe()).status is WorkflowExecutionStatus.RUNNING
    await sim.set_online(lock, True)
    result = await asyncio.wait_for(grant.result(), timeout=30)
    assert result.status is GrantStatus.REVOKED and result.auth_id is not None
    assert "showed up on the lock later" in (result.reason or "")
    assert (await sim.device(lock)).auths == []
    assert sa.STATUS.name == "NukiStatus"


# A grant's first run reaches about 18 events by the time its code is on the lock and 31 once
# it has been extended: at 25 it continues as new exactly once, while the extension is answered.
ROLLING_GRANT = FAST_GRANT.model_copy(update={"max_history_events": 25})


async def test_a_grant_continues_as_new_and_still_revokes_at_its_end(
    flow: NukiFlow, sim: SimulatorControl, fleet_worker: Worker, temporal_client: Client
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    fleet = Fleet(flow, grant_timing=ROLLING_GRANT)
    grant = await fleet.grant_access(
        lock,
        name="long stay",
        code=555133,
        start=_now() - timedelta(minutes=1),
        end=_now() + FAR,
    )
    created = await grant.created()
    assert created.status is GrantStatus.ACTIVE and created.auth_id is not None
    new_end = await end_soon(grant)

    result = await asyncio.wait_for(grant.result(), timeout=30)
    assert result.status is GrantStatus.REVOKED and result.verified_by == "entity"
    assert result.auth_id == created.auth_id and result.window.allowed_until_date == new_end
    assert result.revoked_at is not None and result.revoked_at >= new_end
    assert (await sim.device(lock)).auths == []

    # The run that revoked it was continued from the first, carrying the grant's state.
    last = await grant.handle.fetch_history()
    started = last.events[0].workflow_execution_started_event_attributes
    assert started.continued_execution_run_id, "the grant continued as new"
    (carried,) = await temporal_client.data_converter.decode(started.input.payloads, [GrantInput])
    # Carried opaque: the input names only what started the grant (its started-with window).
    memory = carried.remembered()
    assert carried.memory is None and memory is not None and memory.runs == 2
    assert memory.auth_id == created.auth_id and memory.until == new_end
    assert carried.started_with.window.allowed_until_date != new_end
    attributes = await _attributes(grant)
    assert attributes["NukiAuthId"] == created.auth_id and attributes["NukiStatus"] == "revoked"
    first = await temporal_client.get_workflow_handle(
        grant.id, run_id=started.continued_execution_run_id
    ).fetch_history()
    assert first.events[-1].event_type is EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    replayer = Replayer(
        workflows=[AccessGrantWorkflow], data_converter=temporal_client.data_converter
    )
    for history in (first, last):
        await replayer.replay_workflow(history)
