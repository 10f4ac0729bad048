"""The first change of an entity reads its base in the fast path's attempt
(``nuki.auth.read_write_settle``, see :mod:`nukiflow.workflows.auth_first_write`), against the
session's Temporal server and the fake cloud over HTTP: one activity for a first update, and
every other outcome answered as the entity answers it after a read of its own."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.worker import Worker

from nukiflow.client import NukiFlow
from nukiflow.contracts.auth import AuthOutcome, OutcomeStatus
from nukiflow.contracts.entity import EntityStatus
from nukiflow.contracts.names import (
    READ_AUTH_ACTIVITY,
    READ_WRITE_SETTLE_AUTH_ACTIVITY,
    WRITE_AUTH_ACTIVITY,
    WRITE_SETTLE_AUTH_ACTIVITY,
)
from nukiflow.contracts.wire import AuthType
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.settings import Faults
from tests.conftest import StartWorker
from tests.test_completion import activities_run
from tests.test_fast_write import (
    SHORT_CALLS,
    _auth_requests,
    _events,
    _handle,
    _held_back_write,
    _keypad,
    _one_write_then_reads,
)
from tests.test_replay import _check_and_record


async def test_a_first_update_costs_one_activity_and_reads_its_base_in_it(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    smartlock_id, auth_id = await _keypad(sim)
    await sim.clear_requests()

    outcome = await flow.update_auth(smartlock_id, auth_id, {"code": 555552})

    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    assert outcome.writes == 1 and outcome.reads >= 1
    # The base kept what the change does not set.
    assert outcome.verified is not None and outcome.verified.name == "Cleaner"
    assert (await sim.device(smartlock_id)).auths[0].code == 555552
    first, *rest = await _auth_requests(sim, smartlock_id, auth_id)
    assert first in ("GET /auth 200", "GET /auth/{auth} 200")
    assert _one_write_then_reads(rest)
    handle = _handle(temporal_client, smartlock_id, auth_id)
    assert await activities_run(handle) == [READ_WRITE_SETTLE_AUTH_ACTIVITY]
    events = await _events(handle)
    assert events["TIMER_STARTED"] == 0
    assert events["ACTIVITY_TASK_SCHEDULED"] == 1
    view = await flow.auth_state(smartlock_id, auth_id)
    assert view.status is EntityStatus.IN_SYNC and view.verified is not None
    assert view.verified.name == "Cleaner"
    await _check_and_record("auth_entity_first_write", await handle.fetch_history())

    # The second change has its desired state: the fast attempt alone, no read.
    second = await flow.update_auth(smartlock_id, auth_id, {"name": "Porter"})

    assert second.status is OutcomeStatus.APPLIED, second.reason
    assert second.verified is not None and second.verified.name == "Porter"
    assert (await sim.device(smartlock_id)).auths[0].code == 555552
    assert await activities_run(handle) == [
        READ_WRITE_SETTLE_AUTH_ACTIVITY,
        WRITE_SETTLE_AUTH_ACTIVITY,
    ]


async def test_a_patch_that_breaks_a_type_rule_is_rejected_and_never_written(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    auth = await sim.add_auth(lock, name="Phone", type=AuthType.APP)
    await sim.clear_requests()

    outcome = await flow.update_auth(lock, auth.id, {"code": 545454})

    assert outcome.status is OutcomeStatus.REJECTED
    assert outcome.reason == "only keypad code auths (type 13) carry a code"
    assert outcome.writes == 0
    requests = await _auth_requests(sim, lock, auth.id)
    assert requests in (["GET /auth 200"], ["GET /auth/{auth} 200"])
    handle = _handle(temporal_client, lock, auth.id)
    assert await activities_run(handle) == [READ_WRITE_SETTLE_AUTH_ACTIVITY]
    # The base is the entity's now: the next change is checked against its type at once.
    view = await flow.auth_state(lock, auth.id)
    assert view.verified is not None and view.verified.name == "Phone"


async def test_a_patch_that_does_not_fit_the_base_is_rejected_and_never_written(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    auth = await sim.add_auth(
        lock, name="Shift", code=545455, allowed_from_time=600, allowed_until_time=700
    )

    outcome = await flow.update_auth(lock, auth.id, {"allowed_until_time": 500})

    assert outcome.status is OutcomeStatus.REJECTED, outcome.reason
    assert outcome.reason is not None and "allowed_until_time" in outcome.reason
    assert not [r for r in await _auth_requests(sim, lock, auth.id) if r.startswith("POST")]
    handle = _handle(temporal_client, lock, auth.id)
    assert await activities_run(handle) == [READ_WRITE_SETTLE_AUTH_ACTIVITY]


async def test_an_auth_not_found_fails_the_change_as_a_read_would_and_ends_the_run(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    auth_id = "d" * 24

    outcome = await flow.update_auth(lock, auth_id, {"name": "nobody"})

    assert outcome.status is OutcomeStatus.FAILED
    assert outcome.reason == f"auth {auth_id} was not found on smartlock {lock}; check both ids"
    assert (outcome.writes, outcome.reads) == (0, 1)
    assert not [r for r in await _auth_requests(sim, lock, auth_id) if r.startswith("POST")]
    handle = _handle(temporal_client, lock, auth_id)
    assert await activities_run(handle) == [READ_WRITE_SETTLE_AUTH_ACTIVITY]
    assert READ_AUTH_ACTIVITY not in await activities_run(handle)
    description = await handle.describe()
    assert description.status is not None and description.status.name == "FAILED"


async def test_a_first_attempt_that_timed_out_reads_the_base_and_writes_as_after_a_sent_write(
    temporal_client: Client, task_queue: str, sim: SimulatorControl, start_worker: StartWorker
) -> None:
    """The attempt's write reached the cloud and the device applied it; its answer is held back
    past the attempt's timeout. The entity reads the base itself, then the retried write
    (told an earlier one may have been taken) writes the same auth again and it verifies."""
    smartlock_id, auth_id = await _keypad(sim)
    await start_worker()
    flow = NukiFlow(temporal_client, task_queue=task_queue, timing=SHORT_CALLS)
    await sim.set_faults(Faults(slow_response=30.0, slow_writes_only=True), smartlock_id)
    started = await flow.start_update_auth(smartlock_id, auth_id, {"code": 555552})
    assert not isinstance(started, AuthOutcome), started.reason
    await _held_back_write(sim, smartlock_id, auth_id, deleted=False)

    outcome = await started.result()

    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    (auth,) = (await sim.device(smartlock_id)).auths
    assert (auth.code, auth.name) == (555552, "Cleaner")
    handle = _handle(temporal_client, smartlock_id, auth_id)
    assert (await _events(handle))["ACTIVITY_TASK_TIMED_OUT"] == 1
    assert (await activities_run(handle))[:3] == [
        READ_WRITE_SETTLE_AUTH_ACTIVITY,
        READ_AUTH_ACTIVITY,
        WRITE_AUTH_ACTIVITY,
    ]
