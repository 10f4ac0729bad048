"""The entity's fast path: a change written and settled in one activity attempt
(``nuki.auth.write_settle``), and the entity's own path (write with its retry policy, the wait,
the watch) whenever that attempt does not settle it, against a real Temporal dev server and
the fake cloud over HTTP.

Every unhappy case is provoked by the fake cloud: another client's operation pending on the
auth (423), a lock offline that holds what it is sent, a lost update, a write whose answer is
held back past the attempt's timeout. Waits are for what the history or the fake cloud shows.
"""

from __future__ import annotations

from collections import Counter

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    RetryState,
    TimeoutError,
    TimeoutType,
)
from temporalio.worker import Worker

from nukiflow.activities.auth_activities import AuthActivities
from nukiflow.activities.auth_look import AuthLookActivities
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.client import NukiFlow
from nukiflow.contracts.auth import AuthOutcome, OutcomeStatus
from nukiflow.contracts.entity import auth_workflow_id
from nukiflow.contracts.names import (
    AWAIT_AUTH_ACTIVITY,
    LOOK_AUTH_ACTIVITY,
    READ_WRITE_SETTLE_AUTH_ACTIVITY,
    WRITE_AUTH_ACTIVITY,
    WRITE_SETTLE_AUTH_ACTIVITY,
)
from nukiflow.contracts.wire import SmartlockAuthUpdate
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.settings import Faults
from nukiflow.workflows.auth_entity import AuthEntityWorkflow
from nukiflow.workflows.auth_write_round import UNKNOWN_ACTIVITY, Fate, fate_of
from tests.conftest import FAST_TIMING, StartWorker, sim_settings
from tests.test_completion import activities_done, activities_run, until
from tests.test_operator_view import details
from tests.test_replay import _check_and_record

# One call may take a second: an attempt whose write is held back for 30 s times out after
# the fast window plus two calls (5 s), long before the answer could come.
SHORT_CALLS = FAST_TIMING.model_copy(
    update={"retry": FAST_TIMING.retry.model_copy(update={"call_timeout_seconds": 1.0})}
)


async def _keypad(sim: SimulatorControl) -> tuple[int, str]:
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="Cleaner", code=555551)
    return lock.smartlock_id, auth.id


def _handle(client: Client, smartlock_id: int, auth_id: str) -> WorkflowHandle:  # type: ignore[type-arg]
    return client.get_workflow_handle(auth_workflow_id(smartlock_id, auth_id))


async def _events(handle: WorkflowHandle) -> Counter[str]:  # type: ignore[type-arg]
    """The workflow's history events, counted by type (``TIMER_STARTED``, ...)."""
    counted: Counter[str] = Counter()
    async for event in handle.fetch_history_events():
        counted[EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")] += 1
    return counted


async def _auth_requests(sim: SimulatorControl, smartlock_id: int, auth_id: str) -> list[str]:
    """The requests the fake cloud answered for this lock, as ``METHOD path status`` with the
    ids left out."""
    lock_path = f"/smartlock/{smartlock_id}"
    shown = []
    for r in await sim.requests():
        if not r.path.startswith(lock_path):
            continue
        path = r.path.removeprefix(lock_path).replace(auth_id, "{auth}") or "/"
        shown.append(f"{r.method} {path} {r.status}")
    return shown


def _one_write_then_reads(requests: list[str], method: str = "POST") -> bool:
    """One accepted write of the auth, then only reads of it (as many as the lock took)."""
    first, *rest = requests
    return (
        first == f"{method} /auth/{{auth}} 204"
        and bool(rest)
        and all(r.startswith("GET /auth/{auth} ") for r in rest)
    )


async def test_a_change_costs_one_activity_no_timer_and_a_write_and_its_reads(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    smartlock_id, auth_id = await _keypad(sim)
    first = await flow.update_auth(smartlock_id, auth_id, {"code": 555552})
    assert first.status is OutcomeStatus.APPLIED, first.reason
    handle = _handle(temporal_client, smartlock_id, auth_id)
    before = await _events(handle)
    await sim.clear_requests()

    outcome = await flow.update_auth(smartlock_id, auth_id, {"code": 555553, "name": "Porter"})

    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    assert outcome.writes == 1 and outcome.reads >= 1
    assert outcome.verified is not None and outcome.verified.name == "Porter"
    assert _one_write_then_reads(await _auth_requests(sim, smartlock_id, auth_id))
    assert (await sim.device(smartlock_id)).auths[0].code == 555553
    # One attempt per change (the first reads its base in it): no wait, no watch.
    assert await activities_run(handle) == [
        READ_WRITE_SETTLE_AUTH_ACTIVITY,
        WRITE_SETTLE_AUTH_ACTIVITY,
    ]
    after = await _events(handle)
    change = after - before
    assert change["ACTIVITY_TASK_SCHEDULED"] == 1
    assert change["ACTIVITY_TASK_COMPLETED"] == 1
    assert after["TIMER_STARTED"] == 0
    assert change["MARKER_RECORDED"] == 0
    await _check_and_record("auth_entity_fast_write", await handle.fetch_history())


async def test_a_delete_costs_one_activity(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    smartlock_id, auth_id = await _keypad(sim)
    await sim.clear_requests()

    outcome = await flow.delete_auth(smartlock_id, auth_id)

    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    assert outcome.writes == 1
    requests = await _auth_requests(sim, smartlock_id, auth_id)
    assert _one_write_then_reads(requests, "DELETE") and requests[-1].endswith(" 404")
    assert auth_id not in {a.id for a in (await sim.device(smartlock_id)).auths}
    handle = _handle(temporal_client, smartlock_id, auth_id)
    assert await activities_run(handle) == [WRITE_SETTLE_AUTH_ACTIVITY]
    assert (await _events(handle))["TIMER_STARTED"] == 0


async def test_a_lost_update_is_written_again_by_a_second_attempt(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    smartlock_id, auth_id = await _keypad(sim)
    # Nuki answers 204 to the first write, and the lock keeps the old code.
    await sim.set_faults(Faults(lost_update_nth=[1]), smartlock_id)

    outcome = await flow.update_auth(smartlock_id, auth_id, {"code": 555552})

    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    assert outcome.writes == 2
    assert (await sim.device(smartlock_id)).auths[0].code == 555552
    handle = _handle(temporal_client, smartlock_id, auth_id)
    assert await activities_run(handle) == [
        READ_WRITE_SETTLE_AUTH_ACTIVITY,
        WRITE_SETTLE_AUTH_ACTIVITY,
    ]
    assert (await _events(handle))["TIMER_STARTED"] == 0
    # The rewrite checked that the lock is online before it wrote (as a rewrite always does).
    assert "GET / 200" in await _auth_requests(sim, smartlock_id, auth_id)


async def test_a_423_on_the_first_write_falls_back_to_the_retried_write(
    flow: NukiFlow,
    sim: SimulatorControl,
    nuki: NukiClient,
    worker: Worker,
    temporal_client: Client,
) -> None:
    smartlock_id, auth_id = await _keypad(sim)
    # Another client's write is held by the offline lock: the auth is busy (423) until the
    # lock is back, however long the entity takes to get there.
    await sim.set_settings(sim_settings(lock_race_writes=1))
    await sim.set_faults(Faults(offline_mode="hold"), smartlock_id)
    await sim.set_online(smartlock_id, False)
    await nuki.update_auth(smartlock_id, auth_id, SmartlockAuthUpdate(name="other", code=555554))
    started = await flow.start_update_auth(smartlock_id, auth_id, {"code": 555552})
    assert not isinstance(started, AuthOutcome), started.reason
    handle = _handle(temporal_client, smartlock_id, auth_id)

    async def refused_then_retried() -> bool:
        return WRITE_AUTH_ACTIVITY in await activities_run(handle)

    await until(refused_then_retried)
    assert "POST /auth/{auth} 423" in await _auth_requests(sim, smartlock_id, auth_id)

    # What the attempt saw is in the details at once, before the watch's first look.
    async def says_busy() -> bool:
        text = await details(handle)
        return "device busy: an operation on this auth has been pending since" in text

    await until(says_busy)
    assert "writes get 423" in await details(handle)
    await sim.set_online(smartlock_id, True)

    outcome = await started.result()

    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    assert outcome.writes == 1
    assert (await sim.device(smartlock_id)).auths[0].code == 555552
    # The watch ran beside the retried write (and may have looked, as the lock was offline).
    assert [a for a in await activities_run(handle) if a != LOOK_AUTH_ACTIVITY] == [
        READ_WRITE_SETTLE_AUTH_ACTIVITY,
        WRITE_AUTH_ACTIVITY,
        AWAIT_AUTH_ACTIVITY,
    ]
    assert (await _events(handle))["TIMER_STARTED"] >= 1
    await _check_and_record("auth_entity_fast_refused", await handle.fetch_history())


async def test_an_offline_lock_is_waited_for_without_writing_again_and_says_why(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    smartlock_id, auth_id = await _keypad(sim)
    await sim.set_faults(Faults(offline_mode="hold"), smartlock_id)
    await sim.set_online(smartlock_id, False)
    started = await flow.start_update_auth(smartlock_id, auth_id, {"code": 555552})
    assert not isinstance(started, AuthOutcome), started.reason
    handle = _handle(temporal_client, smartlock_id, auth_id)

    async def written_not_settled() -> bool:
        # The first change's attempt reads its base as well.
        return READ_WRITE_SETTLE_AUTH_ACTIVITY in await activities_done(handle)

    await until(written_not_settled)

    # Nuki holds the write; the attempt saw the lock offline when its window ended.
    async def says_offline() -> bool:
        return "the lock is offline (seen since" in await details(handle)

    await until(says_offline)
    assert "waiting for the lock to apply it" in await details(handle)
    await sim.set_online(smartlock_id, True)

    outcome = await started.result()

    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    assert outcome.writes == 1
    requests = await _auth_requests(sim, smartlock_id, auth_id)
    assert requests.count("POST /auth/{auth} 204") == 1 and "POST /auth/{auth} 423" not in requests
    ran = await activities_run(handle)
    assert WRITE_AUTH_ACTIVITY not in ran and AWAIT_AUTH_ACTIVITY in ran
    await _check_and_record("auth_entity_fast_then_wait", await handle.fetch_history())


async def _held_back_write(
    sim: SimulatorControl, smartlock_id: int, auth_id: str, *, deleted: bool
) -> None:
    """Until the device applied the write whose answer the fake cloud holds back (the delete,
    or code 555552), then let answers come at once again."""

    async def applied() -> bool:
        auths = {a.id: a for a in (await sim.device(smartlock_id)).auths}
        if deleted:
            return auth_id not in auths
        return auths[auth_id].code == 555552

    await until(applied)
    await sim.clear_faults(smartlock_id)


async def test_a_delete_whose_attempt_timed_out_is_not_sent_as_a_first_delete_again(
    temporal_client: Client, task_queue: str, sim: SimulatorControl, start_worker: StartWorker
) -> None:
    """The DELETE reached the cloud and the device applied it; its answer is held back past
    the attempt's timeout. The retried delete's 404 is the first delete having worked (the
    listing shows the auth gone): applied, not "not found"."""
    smartlock_id, auth_id = await _keypad(sim)
    await sim.set_faults(Faults(slow_response=30.0, slow_writes_only=True), smartlock_id)
    await start_worker()
    flow = NukiFlow(temporal_client, task_queue=task_queue, timing=SHORT_CALLS)
    started = await flow.start_delete_auth(smartlock_id, auth_id)
    assert not isinstance(started, AuthOutcome), started.reason
    await _held_back_write(sim, smartlock_id, auth_id, deleted=True)

    outcome = await started.result()

    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    handle = _handle(temporal_client, smartlock_id, auth_id)
    assert (await _events(handle))["ACTIVITY_TASK_TIMED_OUT"] == 1
    assert (await activities_run(handle))[:2] == [WRITE_SETTLE_AUTH_ACTIVITY, WRITE_AUTH_ACTIVITY]
    requests = await _auth_requests(sim, smartlock_id, auth_id)
    assert requests.count("DELETE /auth/{auth} 204") <= 1
    assert "GET /auth 200" in requests  # the listing that told the 404 apart
    assert auth_id not in {a.id for a in (await sim.device(smartlock_id)).auths}


async def test_an_update_whose_attempt_timed_out_is_written_again_and_verified(
    temporal_client: Client, task_queue: str, sim: SimulatorControl, start_worker: StartWorker
) -> None:
    smartlock_id, auth_id = await _keypad(sim)
    await start_worker()
    flow = NukiFlow(temporal_client, task_queue=task_queue, timing=SHORT_CALLS)
    first = await flow.update_auth(smartlock_id, auth_id, {"name": "Porter"})
    assert first.status is OutcomeStatus.APPLIED, first.reason
    await sim.set_faults(Faults(slow_response=30.0, slow_writes_only=True), smartlock_id)
    started = await flow.start_update_auth(smartlock_id, auth_id, {"code": 555552})
    assert not isinstance(started, AuthOutcome), started.reason
    await _held_back_write(sim, smartlock_id, auth_id, deleted=False)

    outcome = await started.result()

    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    (auth,) = (await sim.device(smartlock_id)).auths
    assert (auth.code, auth.name) == (555552, "Porter")
    handle = _handle(temporal_client, smartlock_id, auth_id)
    assert (await _events(handle))["ACTIVITY_TASK_TIMED_OUT"] == 1
    # Nothing but writes of this auth: no create.
    assert not [r for r in await sim.requests() if r.method == "PUT"]


async def test_a_worker_without_the_fast_activity_writes_as_before(
    temporal_client: Client, task_queue: str, sim: SimulatorControl, nuki: NukiClient
) -> None:
    """During a rolling deploy the attempt may reach a worker of an older version, which does
    not know it: nothing was sent, so the retried write's 404 on a delete is a wrong id."""
    smartlock_id, auth_id = await _keypad(sim)
    auth = AuthActivities(nuki)
    older = [auth.read_auth, auth.write_auth, auth.await_auth, AuthLookActivities(nuki).look_auth]
    flow = NukiFlow(temporal_client, task_queue=task_queue, timing=FAST_TIMING)
    async with Worker(
        temporal_client, task_queue=task_queue, workflows=[AuthEntityWorkflow], activities=older
    ):
        updated = await flow.update_auth(smartlock_id, auth_id, {"code": 555552})
        assert updated.status is OutcomeStatus.APPLIED, updated.reason
        assert updated.writes == 1
        wrong = "ab" * 12
        deleted = await flow.delete_auth(smartlock_id, wrong)
    assert deleted.status is OutcomeStatus.FAILED
    assert deleted.reason is not None and "not found" in deleted.reason.lower()
    assert (await sim.device(smartlock_id)).auths[0].code == 555552
    handle = _handle(temporal_client, smartlock_id, auth_id)
    assert WRITE_AUTH_ACTIVITY in await activities_run(handle)


def _failed(cause: BaseException) -> ActivityError:
    err = ActivityError(
        "activity failed",
        scheduled_event_id=5,
        started_event_id=6,
        identity="worker",
        activity_type=WRITE_SETTLE_AUTH_ACTIVITY,
        activity_id="1",
        retry_state=RetryState.MAXIMUM_ATTEMPTS_REACHED,
    )
    err.__cause__ = cause
    return err


def test_what_a_failed_attempt_tells_about_its_write() -> None:
    def timeout(kind: TimeoutType) -> TimeoutError:
        return TimeoutError("timed out", type=kind, last_heartbeat_details=[])

    assert fate_of(_failed(ApplicationError("403", non_retryable=True))) is Fate.FINAL
    assert fate_of(_failed(ApplicationError("unknown", type=UNKNOWN_ACTIVITY))) is Fate.NOT_SENT
    assert fate_of(_failed(timeout(TimeoutType.SCHEDULE_TO_START))) is Fate.NOT_SENT
    # Killed or held up: the write may have gone out.
    assert fate_of(_failed(timeout(TimeoutType.HEARTBEAT))) is Fate.UNKNOWN
    assert fate_of(_failed(timeout(TimeoutType.START_TO_CLOSE))) is Fate.UNKNOWN
    assert fate_of(_failed(ApplicationError("bug", type="ValueError"))) is Fate.UNKNOWN
