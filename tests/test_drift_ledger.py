"""The drift ledger workflow on a real Temporal dev server: reordered and repeated sightings,
deletion being final, its size bound, continue-as-new, its search attributes, and replay of a
recorded history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from nukiflow.contracts import search_attributes as sa
from nukiflow.contracts.drift import DriftLedgerInput, DriftLedgerView, LedgerStatus
from nukiflow.contracts.events import UnmanagedAuthSighting, drift_ledger_workflow_id
from nukiflow.workflows.drift_ledger import DriftLedgerWorkflow
from tests.test_replay import _check_and_record
from tests.webhook_receiver import eventually

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LOCK = 4711


def sighting(
    auth: int,
    *,
    name: str = "App user",
    updated: int = 0,
    received: int = 0,
    deleted: bool = False,
    enabled: bool = True,
    smartlock_id: int = LOCK,
    digest: str | None = None,
) -> UnmanagedAuthSighting:
    """Auth number ``auth``, last changed ``updated`` minutes and received ``received`` minutes
    after T0."""
    return UnmanagedAuthSighting(
        smartlock_id=smartlock_id,
        auth_id=f"{auth:024x}",
        name=name,
        type=0,
        enabled=enabled,
        deleted=deleted,
        update_date=T0 + timedelta(minutes=updated),
        received_at=T0 + timedelta(minutes=received),
        digest=digest or f"{auth}-{name}-{updated}-{received}-{deleted}",
    )


async def start_ledger(
    client: Client, task_queue: str, lock: int, **options: object
) -> WorkflowHandle[DriftLedgerWorkflow, None]:
    return await client.start_workflow(
        DriftLedgerWorkflow.run,
        DriftLedgerInput.model_validate({"smartlock_id": lock, **options}),
        id=drift_ledger_workflow_id(lock) + "-" + task_queue,
        task_queue=task_queue,
    )


async def state(handle: WorkflowHandle[DriftLedgerWorkflow, None]) -> DriftLedgerView:
    return await handle.query(DriftLedgerWorkflow.state)


async def settle(handle: WorkflowHandle[DriftLedgerWorkflow, None], sightings: int) -> None:
    async def taken() -> bool:
        return (await state(handle)).sightings >= sightings

    await eventually(taken)


async def test_newest_report_wins_and_deletion_is_final(
    temporal_client: Client, task_queue: str, worker: Worker
) -> None:
    handle = await start_ledger(temporal_client, task_queue, LOCK)
    for each in (
        sighting(1, name="second", updated=10, received=11),
        sighting(1, name="first", updated=5, received=12),  # older change, delivered late
        sighting(1, name="second", updated=10, received=11),  # the same delivery again
        sighting(2, name="gone", updated=1, received=1),
        sighting(2, name="gone", updated=1, received=3, deleted=True),
        sighting(2, name="back?", updated=0, received=4),  # an older report after the delete
        sighting(3, name="elsewhere", smartlock_id=LOCK + 1),  # not this lock's
    ):
        await handle.signal(DriftLedgerWorkflow.record, each)
    await settle(handle, 5)
    view = await state(handle)
    assert (view.sightings, view.unmanaged, view.deleted) == (5, 1, 1)
    assert view.status is LedgerStatus.UNMANAGED
    by_id = {entry.auth_id: entry for entry in view.entries}
    first, second = by_id[f"{1:024x}"], by_id[f"{2:024x}"]
    assert (first.name, first.sightings) == ("second", 2)
    assert (first.first_seen, first.last_seen) == (
        T0 + timedelta(minutes=11),
        T0 + timedelta(minutes=12),
    )
    assert second.deleted and second.name == "gone" and second.sightings == 3
    assert [entry.auth_id for entry in view.entries] == [f"{1:024x}", f"{2:024x}"]

    await handle.signal(
        DriftLedgerWorkflow.record, sighting(1, updated=20, received=20, deleted=True)
    )
    await settle(handle, 6)

    async def cleared() -> bool:
        description = await handle.describe()
        return description.typed_search_attributes.get(sa.STATUS) == "clear"

    await eventually(cleared)
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(sa.KIND) == "unmanaged" and attributes.get(sa.SMARTLOCK_ID) == LOCK


async def test_size_is_bounded_deleted_auths_first(
    temporal_client: Client, task_queue: str, worker: Worker
) -> None:
    handle = await start_ledger(temporal_client, task_queue, LOCK, max_entries=10)
    for auth in range(10):
        await handle.signal(
            DriftLedgerWorkflow.record, sighting(auth, received=auth, deleted=auth in (4, 6))
        )
    await handle.signal(DriftLedgerWorkflow.record, sighting(10, received=10))
    await handle.signal(DriftLedgerWorkflow.record, sighting(11, received=11))
    await handle.signal(DriftLedgerWorkflow.record, sighting(12, received=12))
    await settle(handle, 13)
    view = await state(handle)
    kept = {int(entry.auth_id, 16) for entry in view.entries}
    # The two deleted ones went first, then the one seen longest ago.
    assert kept == set(range(13)) - {4, 6, 0}
    assert (view.evicted, len(view.entries)) == (3, 10)


async def test_continues_as_new_with_its_entries(
    temporal_client: Client, task_queue: str, worker: Worker
) -> None:
    handle = await start_ledger(temporal_client, task_queue, LOCK, max_history_events=100)
    first_run = (await handle.describe()).run_id
    latest = temporal_client.get_workflow_handle(handle.id)
    # Temporal may hand several signals to one workflow task (fewer history events per signal on
    # a busy machine): signal until the run has rolled over, however many that takes.
    sent = 0
    while (await latest.describe()).run_id == first_run:
        assert sent < 1000, "the ledger never continued as new"
        for _ in range(10):
            await handle.signal(DriftLedgerWorkflow.record, sighting(sent % 7, received=sent))
            sent += 1
    await settle(handle, sent)
    view = await state(handle)
    assert (view.sightings, len(view.entries)) == (sent, 7)
    assert view.history_length < 100

    first = await temporal_client.get_workflow_handle(handle.id, run_id=first_run).fetch_history()
    await _check_and_record("drift_ledger_first_run", first)
