"""A change's base read answered from a recent listing of the lock (see README "Base reads" and
:mod:`nukiflow.activities.lock_listings`), counted in the fake cloud's requests: end to end on
the session's Temporal server, and the activity's rules on the fake cloud alone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from nukiflow.activities.auth_activities import AuthActivities
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.client import NukiFlow
from nukiflow.contracts.auth import AuthFields, OutcomeStatus
from nukiflow.contracts.auth_io import ListAuthIdsInput, ReadAuthInput, WriteAuthInput
from nukiflow.contracts.entity import EntityStatus, auth_workflow_id
from nukiflow.contracts.timing import MAX_BASE_READ_AGE_SECONDS, WorkflowTiming
from nukiflow.contracts.wire import SmartlockAuthUpdate
from nukiflow.settings import Settings
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.settings import Faults
from tests.conftest import FAST_TIMING
from tests.test_replay import _check_and_record

# The listing stays usable far longer than any test takes on a loaded machine: the tests do
# not depend on how fast the changes run.
LONG = FAST_TIMING.model_copy(update={"base_read_max_age_seconds": MAX_BASE_READ_AGE_SECONDS})
OFF = FAST_TIMING.model_copy(update={"base_read_max_age_seconds": 0.0})


def listing_path(smartlock_id: int) -> str:
    return f"/smartlock/{smartlock_id}/auth"


async def requests_by_path(sim: SimulatorControl) -> dict[str, list[str]]:
    """Each path's requests in order, as ``METHOD status``."""
    seen: dict[str, list[str]] = {}
    for record in await sim.requests():
        seen.setdefault(record.path, []).append(f"{record.method} {record.status}")
    return seen


def soon() -> datetime:
    return datetime.now(UTC) + timedelta(minutes=5)


def flow_with(client: Client, task_queue: str, timing: WorkflowTiming) -> NukiFlow:
    return NukiFlow(client, task_queue=task_queue, timing=timing)


# -- end to end ------------------------------------------------------------------------------


async def test_updates_to_one_locks_auths_share_one_listing_for_their_bases(
    temporal_client: Client, task_queue: str, sim: SimulatorControl, worker: Worker
) -> None:
    """Three updates to three auths of one lock: their base reads cost one listing; each auth's
    own path sees the write first (and the read-back), no base read."""
    flow = flow_with(temporal_client, task_queue, LONG)
    lock = (await sim.add_lock()).smartlock_id
    auths = [await sim.add_auth(lock, name=f"guest {i}", code=545451 + i) for i in range(4)]
    await sim.clear_requests()

    for i, auth in enumerate(auths[:3]):
        outcome = await flow.update_auth(lock, auth.id, {"code": 565651 + i})
        assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
        assert outcome.reads >= 1

    seen = await requests_by_path(sim)
    assert seen[listing_path(lock)] == ["GET 200"]
    for auth in auths[:3]:
        assert seen[f"{listing_path(lock)}/{auth.id}"][0] == "POST 204", seen
    device = {a.id: a for a in (await sim.device(lock)).auths}
    assert [device[a.id].code for a in auths] == [565651, 565652, 565653, 545454]
    assert [device[a.id].name for a in auths] == [a.name for a in auths], "the base kept names"
    handle = temporal_client.get_workflow_handle(auth_workflow_id(lock, auths[0].id))
    history = await handle.fetch_history()
    await _check_and_record("auth_entity_base_from_listing", history)


async def test_age_zero_reads_every_base_with_its_own_get(
    temporal_client: Client, task_queue: str, sim: SimulatorControl, worker: Worker
) -> None:
    flow = flow_with(temporal_client, task_queue, OFF)
    lock = (await sim.add_lock()).smartlock_id
    auths = [await sim.add_auth(lock, name=f"guest {i}", code=545451 + i) for i in range(2)]
    await sim.clear_requests()

    for auth in auths:
        outcome = await flow.update_auth(lock, auth.id, {"name": "renamed"})
        assert outcome.status is OutcomeStatus.APPLIED, outcome.reason

    seen = await requests_by_path(sim)
    assert listing_path(lock) not in seen
    for auth in auths:
        assert seen[f"{listing_path(lock)}/{auth.id}"][:2] == ["GET 200", "POST 204"], seen


async def test_an_auth_the_listing_does_not_show_is_read_with_its_own_get(
    temporal_client: Client, task_queue: str, sim: SimulatorControl, worker: Worker
) -> None:
    """An auth added (by the app, say) after the listing is found by its own GET, and an id
    that is on no listing nor on the lock is still answered "not found"."""
    flow = flow_with(temporal_client, task_queue, LONG)
    lock = (await sim.add_lock()).smartlock_id
    first = await sim.add_auth(lock, name="first", code=545451)
    outcome = await flow.update_auth(lock, first.id, {"name": "renamed"})
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    later = await sim.add_auth(lock, name="later", code=545452)
    await sim.clear_requests()

    outcome = await flow.update_auth(lock, later.id, {"code": 565652})
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    missing = "0123456789abcdef01234567"
    gone = await flow.update_auth(lock, missing, {"name": "nobody"})
    assert gone.status is OutcomeStatus.FAILED
    assert "not found" in (gone.reason or ""), gone.reason

    seen = await requests_by_path(sim)
    assert listing_path(lock) not in seen, "the listing was fresh: not fetched again"
    assert seen[f"{listing_path(lock)}/{later.id}"][:2] == ["GET 200", "POST 204"]
    assert seen[f"{listing_path(lock)}/{missing}"] == ["GET 404"]
    device = {a.id: a for a in (await sim.device(lock)).auths}
    assert (device[later.id].code, device[later.id].name) == (565652, "later")
    view = await flow.auth_state(lock, later.id)
    assert view.status is EntityStatus.IN_SYNC


# -- the activity's rules, on the fake cloud ---------------------------------------------------


async def test_a_base_read_is_answered_from_a_listing_unless_written_since_or_pending(
    nuki: NukiClient, sim: SimulatorControl
) -> None:
    activities = AuthActivities(nuki)
    lock = (await sim.add_lock()).smartlock_id
    a, b, c = [await sim.add_auth(lock, name=f"guest {i}", code=545451 + i) for i in range(3)]
    await sim.clear_requests()

    def base(auth_id: str) -> ReadAuthInput:
        return ReadAuthInput(
            smartlock_id=lock, auth_id=auth_id, listed_within_seconds=MAX_BASE_READ_AGE_SECONDS
        )

    # Concurrent base reads of one lock: one listing.
    read_a, read_b = await asyncio.gather(
        activities.read_auth(base(a.id)), activities.read_auth(base(b.id))
    )
    assert (read_a.auth, read_b.auth) == (a, b)
    assert await requests_by_path(sim) == {listing_path(lock): ["GET 200"]}

    # Without an age (every read but a change's base): its own GET.
    plain = await activities.read_auth(ReadAuthInput(smartlock_id=lock, auth_id=a.id))
    assert plain.auth == a

    # Written by this worker since the listing: its own GET; the lock's other auths are not.
    write = WriteAuthInput(
        smartlock_id=lock,
        auth_id=a.id,
        desired=AuthFields.from_wire(a).model_copy(update={"name": "renamed"}),
        not_after=soon(),
    )
    await ActivityEnvironment().run(activities.write_auth, write)
    await sim.clear_requests()
    assert (await activities.read_auth(base(a.id))).auth is not None
    assert (await activities.read_auth(base(c.id))).auth == c
    assert await requests_by_path(sim) == {f"{listing_path(lock)}/{a.id}": ["GET 200"]}


async def test_a_listed_auth_with_an_operation_pending_is_read_with_its_own_get(
    nuki: NukiClient, sim: SimulatorControl
) -> None:
    """Another client's write, held while the lock is offline, shows an operationId in the
    listing: the base read of that auth reads it itself."""
    activities = AuthActivities(nuki)
    lock = (await sim.add_lock()).smartlock_id
    a, b = [await sim.add_auth(lock, name=f"guest {i}", code=545451 + i) for i in range(2)]
    await sim.set_faults(Faults(offline_mode="hold"), lock)
    await sim.set_online(lock, False)
    await nuki.update_auth(lock, b.id, SmartlockAuthUpdate(name="elsewhere", code=565652))
    listed = {auth.id: auth for auth in await nuki.list_auths(lock)}
    assert listed[b.id].operation_id is not None, "precondition: the listing shows it pending"
    # The listing a create's snapshot makes, kept for base reads.
    await activities.list_auth_ids(ListAuthIdsInput(smartlock_id=lock))
    await sim.clear_requests()

    base = ReadAuthInput(smartlock_id=lock, auth_id=b.id, listed_within_seconds=30.0)
    assert (await activities.read_auth(base)).auth is not None
    other = base.model_copy(update={"auth_id": a.id})
    assert (await activities.read_auth(other)).auth == a
    assert await requests_by_path(sim) == {f"{listing_path(lock)}/{b.id}": ["GET 200"]}


async def test_a_creates_snapshot_listing_answers_the_base_reads_that_follow(
    nuki: NukiClient, sim: SimulatorControl
) -> None:
    activities = AuthActivities(nuki)
    lock = (await sim.add_lock()).smartlock_id
    a = await sim.add_auth(lock, name="guest", code=545451)
    snapshot = await activities.list_auth_ids(ListAuthIdsInput(smartlock_id=lock))
    assert snapshot.ids == [a.id]
    await sim.clear_requests()
    base = ReadAuthInput(smartlock_id=lock, auth_id=a.id, listed_within_seconds=30.0)
    assert (await activities.read_auth(base)).auth == a
    assert await sim.requests() == []


# -- the setting -------------------------------------------------------------------------------


def test_the_setting_travels_in_the_timing_of_the_workflows_a_caller_starts(
    temporal_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NUKIFLOW_BASE_READ_MAX_AGE_SECONDS", "0")
    flow = NukiFlow.from_settings(temporal_client, Settings(_env_file=None))
    assert flow.timing.base_read_max_age_seconds == 0
    monkeypatch.delenv("NUKIFLOW_BASE_READ_MAX_AGE_SECONDS")
    assert Settings(_env_file=None).workflow_timing() == WorkflowTiming()
    assert WorkflowTiming().base_read_max_age_seconds == 30
    for wrong in ("-1", "301", "nan"):
        monkeypatch.setenv("NUKIFLOW_BASE_READ_MAX_AGE_SECONDS", wrong)
        with pytest.raises(ValidationError, match="base_read_max_age_seconds"):
            Settings(_env_file=None)


async def test_a_deletes_gone_check_listing_answers_the_base_reads_that_follow(
    nuki: NukiClient, sim: SimulatorControl
) -> None:
    """A delete answered 404 after an accepted earlier write of it is checked against a
    listing of the lock; that listing is kept: another auth's base read costs no request."""
    activities = AuthActivities(nuki)
    lock = (await sim.add_lock()).smartlock_id
    gone, kept = [await sim.add_auth(lock, name=f"guest {i}", code=545451 + i) for i in range(2)]
    await sim.delete_device_auth(lock, gone.id)
    await sim.clear_requests()

    delete = WriteAuthInput(
        smartlock_id=lock,
        auth_id=gone.id,
        desired=None,
        not_after=datetime.now(UTC) + timedelta(minutes=5),
        after_accepted_write=True,
    )
    await ActivityEnvironment().run(activities.write_auth, delete)
    assert await requests_by_path(sim) == {
        f"{listing_path(lock)}/{gone.id}": ["DELETE 404"],
        listing_path(lock): ["GET 200"],
    }
    await sim.clear_requests()
    base = ReadAuthInput(
        smartlock_id=lock, auth_id=kept.id, listed_within_seconds=MAX_BASE_READ_AGE_SECONDS
    )
    assert (await activities.read_auth(base)).auth == kept
    assert await sim.requests() == []
