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
from nukiflow.contracts.auth import AuthOutcome, OutcomeStatus
from nukiflow.contracts.auth_io import (
    ListAuthIdsInput,
    ListAuthIdsResult,
    ReadAuthInput,
    WriteAuthInput,
)
from nukiflow.contracts.names import LIST_AUTH_IDS_ACTIVITY
from nukiflow.contracts.timing import MAX_BASE_READ_AGE_SECONDS
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.settings import Faults
from tests.test_base_reads import LONG, OFF, listing_path, requests_by_path
from tests.webhook_receiver import eventually


async def sent_create(sim: SimulatorControl, lock: int) -> bool:
    """Whether a create went out to the lock since its requests were last cleared."""
    return "PUT 204" in (await requests_by_path(sim)).get(listing_path(lock), [])


async def snapshot_of(client: Client, workflow_id: str) -> ListAuthIdsResult:
    """The create's snapshot as its history recorded it."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    names = {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    }
    for event in history.events:
        if not event.HasField("activity_task_completed_event_attributes"):
            continue
        done = event.activity_task_completed_event_attributes
        if names[done.scheduled_event_id] == LIST_AUTH_IDS_ACTIVITY:
            payloads = done.result.payloads
            [result] = await client.data_converter.decode(payloads, [ListAuthIdsResult])
            assert isinstance(result, ListAuthIdsResult)
            return result
    raise AssertionError("no snapshot recorded")


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


async def test_a_create_whose_auth_has_not_appeared_keeps_the_next_create_listing_anew(
    temporal_client: Client, task_queue: str, sim: SimulatorControl, worker: Worker
) -> None:
    """The lock is offline and holds the first create: its auth shows in no listing yet, so
    no listing kept (its own included) answers the second create's snapshot; the second lists
    the lock before its create, and each create finds its own auth once the lock is back."""
    flow = NukiFlow(temporal_client, task_queue=task_queue, timing=LONG)
    lock = (await sim.add_lock()).smartlock_id
    await sim.set_faults(Faults(offline_mode="hold"), lock)
    await sim.set_online(lock, False)
    await sim.clear_requests()
    first = await flow.start_create_auth(lock, name="first", auth_type=0)
    assert not isinstance(first, AuthOutcome)
    await eventually(lambda: sent_create(sim, lock))  # the first create went out

    await sim.clear_requests()
    second = await flow.start_create_auth(lock, name="second", auth_type=0)
    assert not isinstance(second, AuthOutcome)
    await eventually(lambda: sent_create(sim, lock))
    # The first create's listings interleave: the second's own result says it listed.
    assert await snapshot_of(temporal_client, second.id) == ListAuthIdsResult(
        ids=[], requested=True
    )

    await sim.set_online(lock, True)
    made = [await first.result(), await second.result()]
    assert [m.status for m in made] == [OutcomeStatus.APPLIED] * 2, [m.reason for m in made]
    device = {a.id: a.name for a in (await sim.device(lock)).auths}
    assert [device[m.auth_id] for m in made if m.auth_id] == ["first", "second"]
