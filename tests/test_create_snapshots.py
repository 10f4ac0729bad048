"""A create's snapshot (the lock's auth ids before it) answered from a listing the worker kept
(see README "Create is idempotent" and :mod:`nukiflow.activities.lock_listings`), counted in
the fake cloud's requests, end to end on the session's Temporal server."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.worker import Worker

from nukiflow.client import NukiFlow
from nukiflow.contracts.auth import OutcomeStatus
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
