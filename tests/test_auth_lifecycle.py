"""Create, delete, rejection and continue-as-new of authorization workflows."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.worker import Worker

from activities.nuki_client import NukiClient
from nukiflow.client import NukiFlow
from nukiflow.models.auth import AuthChange, AuthPatch, ChangeKind, OutcomeStatus
from nukiflow.models.entity import AuthEntityInput, auth_workflow_id
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.server import SimulatorServer
from nukiflow.simulator.settings import Faults
from nukiflow.worker import build_worker
from tests.conftest import FAST_TIMING, TOKEN, StartWorker
from workflows.auth_entity import AuthEntityWorkflow


async def test_create_returns_the_new_id_and_hands_over_to_the_entity(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    lock = await sim.add_lock()
    outcome = await flow.create_auth(lock.smartlock_id, name="guest", code=555552)
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    assert outcome.auth_id is not None
    assert outcome.verified is not None and outcome.verified.code == "******"
    device = await sim.device(lock.smartlock_id)
    assert [a.id for a in device.auths] == [outcome.auth_id]
    entity = temporal_client.get_workflow_handle(
        auth_workflow_id(lock.smartlock_id, outcome.auth_id)
    )
    assert (await entity.describe()).status is WorkflowExecutionStatus.RUNNING
    # The entity knows the auth: a change needs no read first.
    changed = await flow.update_auth(lock.smartlock_id, outcome.auth_id, {"code": 555553})
    assert changed.status is OutcomeStatus.APPLIED


async def test_create_retried_with_the_same_request_id_creates_once(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    lock = await sim.add_lock()
    request_id = uuid.uuid4().hex
    first, second = await asyncio.gather(
        flow.create_auth(lock.smartlock_id, name="guest", code=555552, request_id=request_id),
        flow.create_auth(lock.smartlock_id, name="guest", code=555552, request_id=request_id),
    )
    third = await flow.create_auth(
        lock.smartlock_id, name="guest", code=555552, request_id=request_id
    )
    assert first.auth_id == second.auth_id == third.auth_id is not None
    assert len((await sim.device(lock.smartlock_id)).auths) == 1


async def test_create_whose_answer_was_lost_makes_exactly_one_auth(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    """The API accepts the create but the client sees 502: the retry must not create again."""
    lock = await sim.add_lock()
    await sim.set_faults(Faults(server_error_after_commit_rate=1.0), lock.smartlock_id)
    task = asyncio.create_task(flow.create_auth(lock.smartlock_id, name="guest", code=555552))
    for _ in range(200):
        if any(r.method == "PUT" and r.status == 502 for r in await sim.requests()):
            break
        await asyncio.sleep(0.02)
    await sim.set_faults(Faults(), lock.smartlock_id)
    outcome = await task
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    device = await sim.device(lock.smartlock_id)
    assert len(device.auths) == 1
    assert device.auths[0].id == outcome.auth_id


async def test_create_never_takes_an_auth_that_was_there_before_for_the_new_one(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    """An app auth matches by type and name only: one of the same name already on the lock
    is someone else's, and the create makes its own."""
    lock = await sim.add_lock()
    before = await sim.add_auth(lock.smartlock_id, name="guest", type=0)
    outcome = await flow.create_auth(lock.smartlock_id, name="guest", auth_type=0)
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    assert outcome.auth_id is not None and outcome.auth_id != before.id
    device = await sim.device(lock.smartlock_id)
    assert sorted(a.id for a in device.auths) == sorted([before.id, outcome.auth_id])


async def test_create_whose_call_timed_out_after_nuki_accepted_it_makes_exactly_one_auth(
    flow: NukiFlow,
    sim: SimulatorControl,
    simulator: SimulatorServer,
    temporal_client: Client,
    task_queue: str,
) -> None:
    """Nuki takes the create but answers after the worker's HTTP timeout: the activity attempt
    fails with a timeout, and the retry must find the auth instead of creating it again."""
    lock = await sim.add_lock()
    await sim.set_faults(Faults(slow_response=1.5, slow_writes_only=True), lock.smartlock_id)
    impatient = httpx.Timeout(0.5)
    async with (
        NukiClient(TOKEN, simulator.base_url, timeout=impatient) as nuki,
        build_worker(temporal_client, nuki, task_queue, graceful_shutdown=timedelta(seconds=1)),
    ):
        task = asyncio.create_task(flow.create_auth(lock.smartlock_id, name="guest", code=555552))
        for _ in range(400):
            if (await sim.device(lock.smartlock_id)).auths:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the create never reached the device")
        await sim.set_faults(Faults(), lock.smartlock_id)
        outcome = await asyncio.wait_for(task, timeout=60)
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    device = await sim.device(lock.smartlock_id)
    assert [a.id for a in device.auths] == [outcome.auth_id]
    puts = [r for r in await sim.requests() if r.method == "PUT"]
    assert len(puts) == 1, "the create was sent once"


async def test_create_with_a_code_already_on_the_lock_fails_clearly(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    lock = await sim.add_lock()
    await sim.add_auth(lock.smartlock_id, name="owner", code=555552)
    outcome = await flow.create_auth(lock.smartlock_id, name="guest", code=555552)
    assert outcome.status is OutcomeStatus.FAILED
    assert outcome.reason is not None and "already uses this keypad code" in outcome.reason
    assert "555552" not in outcome.reason
    puts = [r for r in await sim.requests() if r.method == "PUT"]
    assert len(puts) == 1, "a conflict is not retried"


async def test_delete_is_verified_and_ends_the_entity(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="gone", code=555552)
    await sim.set_faults(Faults(ghost_delete_nth=[1]), lock.smartlock_id)
    outcome = await flow.delete_auth(lock.smartlock_id, auth.id)
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    assert outcome.writes == 2, "the ghost delete is deleted again"
    assert (await sim.device(lock.smartlock_id)).auths == []
    handle = temporal_client.get_workflow_handle(auth_workflow_id(lock.smartlock_id, auth.id))
    await handle.result()
    assert (await handle.describe()).status is WorkflowExecutionStatus.COMPLETED


async def test_a_change_after_the_entity_ended_gets_the_first_outcome_or_the_reason(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    """A retried delete (same request id) after the verified delete returns its outcome
    without writing again; any other change is told the auth was deleted. No new entity
    starts for a deleted auth."""
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="gone", code=555552)
    request_id = uuid.uuid4().hex
    first = await flow.delete_auth(lock.smartlock_id, auth.id, request_id=request_id)
    assert first.status is OutcomeStatus.APPLIED, first.reason
    handle = temporal_client.get_workflow_handle(auth_workflow_id(lock.smartlock_id, auth.id))
    await handle.result()
    run_id = (await handle.describe()).run_id
    again = await flow.delete_auth(lock.smartlock_id, auth.id, request_id=request_id)
    assert again == first
    late = await flow.update_auth(lock.smartlock_id, auth.id, {"name": "back"})
    assert late.status is OutcomeStatus.FAILED
    assert late.reason is not None and "deleted by change #1" in late.reason
    assert (await handle.describe()).run_id == run_id, "no new entity for a deleted auth"
    deletes = [r for r in await sim.requests() if r.method == "DELETE"]
    assert len(deletes) == 1


async def test_update_of_an_unknown_auth_fails_with_reason_and_ends_the_entity(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    lock = await sim.add_lock()
    outcome = await flow.update_auth(lock.smartlock_id, "0" * 24, {"name": "x"})
    assert outcome.status is OutcomeStatus.FAILED
    assert outcome.reason is not None and "not found" in outcome.reason
    handle = temporal_client.get_workflow_handle(auth_workflow_id(lock.smartlock_id, "0" * 24))
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    first_run = await handle.describe()
    assert first_run.status is WorkflowExecutionStatus.FAILED
    # A later change starts a new run, which reads the auth again (a 404 may pass).
    again = await flow.update_auth(lock.smartlock_id, "0" * 24, {"name": "y"})
    assert again.status is OutcomeStatus.FAILED
    assert again.reason is not None and "not found" in again.reason
    assert (await handle.describe()).run_id != first_run.run_id


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"code": 55555}, "6 digits"),
        ({"code": 5555550}, "6 digits"),
        ({"code": 555505}, "1-9"),
        ({"code": 125555}, "start with 12"),
        ({"name": ""}, "must not be blank"),
        ({"name": "  "}, "must not be blank"),
        ({"name": "\x1b[2J"}, "control characters"),
        ({"name": "x" * 33}, "at most 32"),
        ({"code": 555552, "name": "x" * 21}, "at most 20"),
        ({"allowed_week_days": 128}, "less than or equal to 127"),
        ({"allowed_from_time": 1440}, "less than 1440"),
        ({"allowed_from_time": 600, "allowed_until_time": 500}, "before allowed_until_time"),
        (
            {
                "allowed_from_date": "2030-02-01T00:00:00Z",
                "allowed_until_date": "2030-01-01T00:00:00Z",
            },
            "before allowed_until_date",
        ),
        ({"allowed_from_date": "2030-02-01T00:00:00"}, "time zone"),
        ({}, "at least one field"),
        ({"colour": "red"}, "Extra inputs"),
    ],
)
async def test_bad_input_is_rejected_before_temporal(
    flow: NukiFlow,
    temporal_client: Client,
    patch: dict[str, object],
    message: str,
) -> None:
    outcome = await flow.update_auth(4242, "a" * 24, patch)
    assert outcome.status is OutcomeStatus.REJECTED
    assert outcome.reason is not None and message in outcome.reason
    if "code" in patch:
        assert str(patch["code"]) not in outcome.reason
    with pytest.raises(Exception, match="not found"):
        await temporal_client.get_workflow_handle(auth_workflow_id(4242, "a" * 24)).describe()


async def test_the_validator_rejects_what_the_auth_cannot_take_outside_history(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="phone", type=0, code=None)
    first = await flow.update_auth(lock.smartlock_id, auth.id, {"name": "phone 2"})
    assert first.status is OutcomeStatus.APPLIED, first.reason
    rejected = await flow.update_auth(lock.smartlock_id, auth.id, {"code": 555552})
    assert rejected.status is OutcomeStatus.REJECTED
    assert rejected.reason is not None and "keypad code" in rejected.reason
    handle = temporal_client.get_workflow_handle(auth_workflow_id(lock.smartlock_id, auth.id))
    history = await handle.fetch_history()
    accepted = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]
    assert len(accepted) == 1, "the rejected change never entered history"


async def test_continue_as_new_keeps_state_callers_and_request_ids(
    sim: SimulatorControl,
    temporal_client: Client,
    task_queue: str,
    start_worker: StartWorker,
) -> None:
    """A tiny history limit forces several continue-as-new rounds during 25 changes."""
    await start_worker()
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="busy", code=555551)
    workflow_id = auth_workflow_id(lock.smartlock_id, auth.id)
    flow = NukiFlow(temporal_client, task_queue=task_queue, timing=FAST_TIMING)

    # Start the entity with a small history limit (the facade uses the default).
    await temporal_client.start_workflow(
        AuthEntityWorkflow.run,
        AuthEntityInput(
            smartlock_id=lock.smartlock_id,
            auth_id=auth.id,
            timing=FAST_TIMING,
            max_history_events=100,
        ),
        id=workflow_id,
        task_queue=task_queue,
    )
    first_request = uuid.uuid4().hex
    first = await flow.update_auth(
        lock.smartlock_id, auth.id, {"name": "n0"}, request_id=first_request
    )
    names = [f"n{i}" for i in range(1, 25)]
    outcomes = []
    for batch in range(0, len(names), 6):
        outcomes += await asyncio.gather(
            *(
                flow.update_auth(lock.smartlock_id, auth.id, {"name": n})
                for n in names[batch : batch + 6]
            )
        )
    assert all(o.ok for o in outcomes), [o.reason for o in outcomes if not o.ok]
    # Within a batch the arrival order decides: the last change to arrive wins.
    last = max(outcomes, key=lambda o: o.change_number)
    assert last.status is OutcomeStatus.APPLIED
    device = await sim.device(lock.smartlock_id)
    assert last.verified is not None and device.auths[0].name == last.verified.name

    handle = temporal_client.get_workflow_handle(workflow_id)
    runs = [w async for w in temporal_client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    assert len(runs) >= 2, "the entity should have continued as new"
    for run in runs:
        history = await temporal_client.get_workflow_handle(
            workflow_id, run_id=run.run_id
        ).fetch_history()
        assert len(history.events) < 400

    # A retry of the very first request, several runs later, gets its outcome back unwritten.
    await sim.clear_requests()
    again = await flow.change_auth(
        lock.smartlock_id,
        auth.id,
        AuthChange(request_id=first_request, kind=ChangeKind.UPDATE, patch=AuthPatch(name="n0")),
    )
    assert again == first
    assert [r for r in await sim.requests() if r.method == "POST"] == []
    view = await handle.query(AuthEntityWorkflow.state)
    assert view.change_counter == 25
