"""A create's snapshot (the lock's auth ids before it) answered from a listing the worker kept
(see README "Create is idempotent" and :mod:`nukiflow.activities.lock_listings`), counted in
the fake cloud's requests: end to end on the session's Temporal server, and the activities on
the fake cloud alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.client import Client
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from nukiflow.activities.auth_activities import AuthActivities
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.client import NukiFlow
from nukiflow.contracts.auth import OutcomeStatus
from nukiflow.contracts.auth_io import ListAuthIdsInput, ReadAuthInput, WriteAuthInput
from nukiflow.contracts.timing import MAX_BASE_READ_AGE_SECONDS
from nukiflow.simulator.control import SimulatorControl
from tests.test_base_reads import LONG, OFF, listing_path, requests_by_path


async def test_a_second_create_of_the_same_name_takes_its_snapshot_from_the_first_ones_listing(
    temporal_client: Client, task_queue: str, sim: SimulatorControl, worker: Worker
) -> None:
    """Two creates of one name without a code (only the snapshot tells them apart): the
    second sends no listing before its create, since the listing that found the first shows
    the first's auth; it never takes that auth for its own."""
    flow = NukiFlow(temporal_client, task_queue=task_queue, timing=LONG)
    lock = (await sim.add_lock()).smartlock_id
    await sim.clear_requests()
    first = await flow.create_auth(lock, name="cleaner", auth_type=0)
    assert first.status is OutcomeStatus.APPLIED, first.reason
    assert (await requests_by_path(sim))[listing_path(lock)][:2] == ["GET 200", "PUT 204"]

    await sim.clear_requests()
    second = await flow.create_auth(lock, name="cleaner", auth_type=0)
    assert second.status is OutcomeStatus.APPLIED, second.reason
    assert (await requests_by_path(sim))[listing_path(lock)][0] == "PUT 204"
    assert second.auth_id != first.auth_id
    held = [a.id for a in (await sim.device(lock)).auths if a.name == "cleaner"]
    assert sorted(held) == sorted([first.auth_id, second.auth_id])


async def test_an_updates_base_listing_answers_the_create_that_follows(
    temporal_client: Client, task_queue: str, sim: SimulatorControl, worker: Worker
) -> None:
    """The listing an update's base read sent is kept: the create after it lists nothing
    before its create, and the auth that was there is never taken for the new one."""
    flow = NukiFlow(temporal_client, task_queue=task_queue, timing=LONG)
    lock = (await sim.add_lock()).smartlock_id
    there = await sim.add_auth(lock, name="guest", type=0, code=None)
    updated = await flow.update_auth(lock, there.id, {"enabled": False})
    assert updated.status is OutcomeStatus.APPLIED, updated.reason
    await sim.clear_requests()

    created = await flow.create_auth(lock, name="guest", auth_type=0)
    assert created.status is OutcomeStatus.APPLIED, created.reason
    assert (await requests_by_path(sim))[listing_path(lock)][0] == "PUT 204"
    assert created.auth_id != there.id


async def test_age_zero_lists_the_lock_before_every_create(
    temporal_client: Client, task_queue: str, sim: SimulatorControl, worker: Worker
) -> None:
    flow = NukiFlow(temporal_client, task_queue=task_queue, timing=OFF)
    lock = (await sim.add_lock()).smartlock_id
    for name in ("first", "second"):
        await sim.clear_requests()
        created = await flow.create_auth(lock, name=name, auth_type=0)
        assert created.status is OutcomeStatus.APPLIED, created.reason
        assert (await requests_by_path(sim))[listing_path(lock)][:2] == ["GET 200", "PUT 204"]


async def test_a_deletes_gone_check_listing_answers_the_reads_and_snapshots_that_follow(
    nuki: NukiClient, sim: SimulatorControl
) -> None:
    """A delete answered 404 after an accepted earlier write of it is checked against a
    listing of the lock; that listing is kept: the next create's snapshot and another auth's
    base read cost no request."""
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
    snapshot = await activities.list_auth_ids(
        ListAuthIdsInput(smartlock_id=lock, listed_within_seconds=MAX_BASE_READ_AGE_SECONDS)
    )
    assert (snapshot.ids, snapshot.requested) == ([kept.id], False)
    base = ReadAuthInput(
        smartlock_id=lock, auth_id=kept.id, listed_within_seconds=MAX_BASE_READ_AGE_SECONDS
    )
    assert (await activities.read_auth(base)).auth == kept
    assert await sim.requests() == []
