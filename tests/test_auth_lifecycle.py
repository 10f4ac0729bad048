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

from nukiflow.activities.auth_create_attempt import CreateProgress
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.client import NukiFlow
from nukiflow.contracts.auth import AuthChange, AuthPatch, ChangeKind, OutcomeStatus
from nukiflow.contracts.entity import AuthEntityInput, auth_workflow_id
from nukiflow.contracts.timing import PollTiming
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.server import SimulatorServer
from nukiflow.simulator.settings import Faults
from nukiflow.temporal.worker import build_worker
from nukiflow.workflows.auth_entity import AuthEntityWorkflow
from tests.conftest import FAST_TIMING, TOKEN, StartWorker


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
    # Until the create met the 502 (bounded for a loaded machine; never cleared before it).
    for _ in range(1500):
        if any(r.method == "PUT" and r.status == 502 for r in await sim.requests()):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the create never met the 502")
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
        for _ in range(1500):
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


def _reads_in_one_window(timing: PollTiming) -> int:
    """The most listings the create's look-out makes in one fast window: one at once, then one
    after each pause (first interval growing by half up to the maximum) that fits."""
    reads, elapsed, interval = 1, 0.0, timing.fast_first_interval_seconds
    while elapsed + interval <= timing.fast_window_seconds:
        elapsed += interval
        reads += 1
        interval = min(interval * 1.5, timing.fast_max_interval_seconds)
    return reads


async def test_a_lost_create_is_sent_again_after_one_window_of_listings(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    """Nuki accepts the first two creates and loses them. Each is looked for during one fast
    window and then sent again at once: three creates, one auth, and the listings between the
    first and the last create are two windows' worth plus one look per new attempt."""
    lock = await sim.add_lock()
    await sim.set_faults(Faults(lost_create_nth=[1, 2]), lock.smartlock_id)
    outcome = await flow.create_auth(lock.smartlock_id, name="guest", code=555552)
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    device = await sim.device(lock.smartlock_id)
    assert [a.id for a in device.auths] == [outcome.auth_id]
    records = await sim.requests()
    puts = [i for i, r in enumerate(records) if r.method == "PUT"]
    assert [records[i].status for i in puts] == [204, 204, 204]
    listings = [
        r
        for r in records[puts[0] : puts[-1]]
        if r.method == "GET" and r.path == f"/smartlock/{lock.smartlock_id}/auth"
    ]
    assert len(listings) <= 2 * _reads_in_one_window(FAST_TIMING.poll) + 2, len(listings)
    assert outcome.writes == 3


def test_a_create_attempt_trusts_only_the_last_word_of_the_attempt_before() -> None:
    """What an attempt sent reaches the next one in heartbeat details. Only the previous
    attempt's last heartbeat is trusted: an older or unfinished one may miss a create sent
    after it, and then the next attempt assumes one went out (it waits a window, and a 409
    is not called someone else's)."""
    sent = CreateProgress(attempt=2, final=True, in_flight=True, window_from=100.0, writes=1)
    carried = CreateProgress.carried([sent.model_dump()], 3)
    assert carried is not None and carried.attempt == 3 and not carried.final
    assert carried.in_flight and carried.window_from == 100.0 and carried.may_have_sent
    assert CreateProgress.carried([sent.model_dump()], 4) is None, "from an older attempt"
    unfinished = sent.model_copy(update={"final": False})
    assert CreateProgress.carried([unfinished.model_dump()], 3) is None
    assert CreateProgress.carried([], 2) is None
    assert CreateProgress.carried(["garbage"], 2) is None
    fresh = CreateProgress.carried([], 1)
    assert fresh is not None and not fresh.in_flight and not fresh.may_have_sent


async def test_a_create_dropped_by_an_offline_lock_is_sent_again_only_once_it_is_back(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    """The lock is offline and drops what it is sent: the create waits for the lock (no second
    create while it is offline, where Nuki might still hold the first), and once the lock is
    back and a window has passed without the auth, sends it again."""
    lock = await sim.add_lock()
    await sim.set_faults(Faults(offline_mode="drop"), lock.smartlock_id)
    await sim.set_online(lock.smartlock_id, False)
    task = asyncio.create_task(flow.create_auth(lock.smartlock_id, name="guest", code=555552))
    lock_path = f"/smartlock/{lock.smartlock_id}"
    for _ in range(1000):
        if sum(r.path == lock_path for r in await sim.requests()) >= 3:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the create never checked the offline lock")
    assert not task.done()
    assert [r.status for r in await sim.requests() if r.method == "PUT"] == [204]
    await sim.set_online(lock.smartlock_id, True)
    outcome = await asyncio.wait_for(task, 60)
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    assert [a.id for a in (await sim.device(lock.smartlock_id)).auths] == [outcome.auth_id]
    assert [r.status for r in await sim.requests() if r.method == "PUT"] == [204, 204]


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


async def test_a_delete_answered_502_after_it_took_effect_is_applied(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    """Nuki deletes the auth but answers 502; the retried DELETE gets 404. The auth is gone,
    which a read of the lock's auths proves: the delete is applied, not failed."""
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="gone", code=555552)
    await sim.set_faults(Faults(server_error_after_commit_rate=1.0), lock.smartlock_id)
    outcome = await flow.delete_auth(lock.smartlock_id, auth.id)
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    assert (await sim.device(lock.smartlock_id)).auths == []
    records = await sim.requests()
    deletes = [r.status for r in records if r.method == "DELETE"]
    assert deletes[0] == 502 and deletes[-1] == 404, deletes
    # The 404 was checked against a listing of the lock's auths taken after it.
    last_404 = max(i for i, r in enumerate(records) if r.method == "DELETE" and r.status == 404)
    assert any(
        r.method == "GET" and r.path == f"/smartlock/{lock.smartlock_id}/auth"
        for r in records[last_404 + 1 :]
    )


async def test_a_delete_whose_answer_never_came_is_applied_when_the_retry_sees_404(
    flow: NukiFlow,
    sim: SimulatorControl,
    simulator: SimulatorServer,
    temporal_client: Client,
    task_queue: str,
) -> None:
    """The worker's DELETE reached Nuki but its answer did not reach the worker (a timeout here;
    a worker killed after sending looks the same to the next attempt): the retry's 404 is the
    delete having worked."""
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="gone", code=555552)
    await sim.set_faults(Faults(slow_response=1.0, slow_writes_only=True), lock.smartlock_id)
    impatient = httpx.Timeout(0.3)
    async with (
        NukiClient(TOKEN, simulator.base_url, timeout=impatient) as nuki,
        build_worker(temporal_client, nuki, task_queue, graceful_shutdown=timedelta(seconds=1)),
    ):
        task = asyncio.create_task(flow.delete_auth(lock.smartlock_id, auth.id))
        for _ in range(1500):
            if not (await sim.device(lock.smartlock_id)).auths:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the delete never reached the device")
        # Answers come in time again: the retry sees what the first DELETE did.
        await sim.set_faults(Faults(), lock.smartlock_id)
        outcome = await asyncio.wait_for(task, 60)
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    assert (await sim.device(lock.smartlock_id)).auths == []
    deletes = [r.status for r in await sim.requests() if r.method == "DELETE"]
    assert deletes[0] == 204 and deletes[-1] == 404, deletes


async def test_a_delete_of_an_auth_that_was_never_there_still_fails_with_what_to_check(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    """A 404 on the first DELETE, with nothing sent before, is a wrong id, not a delete."""
    lock = await sim.add_lock()
    outcome = await flow.delete_auth(lock.smartlock_id, "0" * 24)
    assert outcome.status is OutcomeStatus.FAILED
    assert outcome.reason is not None and "check the smartlock id and auth id" in outcome.reason


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

    # The chain of runs from the histories themselves (each run's start names the run it
    # continues): visibility would list a new run only once its record is written.
    handle = temporal_client.get_workflow_handle(workflow_id)
    run_id: str | None = (await handle.describe()).run_id
    runs = 0
    while run_id:
        history = await temporal_client.get_workflow_handle(
            workflow_id, run_id=run_id
        ).fetch_history()
        assert len(history.events) < 400
        runs += 1
        started = history.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id or None
    assert runs >= 2, "the entity should have continued as new"

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
