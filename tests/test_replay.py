"""Determinism: recorded workflow histories must replay against the current workflow code.

``tests/histories/`` holds histories recorded from real runs. A change to workflow code that
would break running workflows fails here; guard intentional changes with ``workflow.patched``.
Set ``NUKIFLOW_RECORD_HISTORIES=1`` to (re)record them from the fresh runs below::

    NUKIFLOW_RECORD_HISTORIES=1 .venv/bin/pytest -q tests/test_replay.py -k fresh

Their payloads are encrypted with the suite's fixed test key (``tests/conftest.py``), as in
production.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHistory, WorkflowQueryFailedError
from temporalio.service import RPCError
from temporalio.worker import Replayer, Worker

from nukiflow.client import NukiFlow
from nukiflow.contracts import search_attributes as sa
from nukiflow.contracts.access import GrantStatus, GrantTiming
from nukiflow.contracts.action import ActionName, ActionStatus, lock_workflow_id
from nukiflow.contracts.auth import AuthFields, AuthPatch, OutcomeStatus
from nukiflow.contracts.entity import DriftPolicy, auth_workflow_id, create_workflow_id
from nukiflow.contracts.events import AUTH_EVENT_SIGNAL, AuthEvent
from nukiflow.contracts.rollout import (
    ItemStatus,
    RolloutItem,
    RolloutOp,
    RolloutOptions,
    RolloutPlan,
    RolloutState,
)
from nukiflow.contracts.wire import SmartlockAuth
from nukiflow.fleet import Fleet
from nukiflow.plugin import nukiflow_workflows
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.settings import Faults
from nukiflow.temporal.converter import data_converter
from nukiflow.testing import sim_settings
from tests.conftest import CODEC_KEYS
from tests.grant_support import FAR, end_soon

HISTORIES = Path(__file__).parent / "histories"


def _replayer() -> Replayer:
    # Every workflow a worker runs: a history whose workflow is left out here cannot replay.
    return Replayer(workflows=nukiflow_workflows(), data_converter=data_converter(CODEC_KEYS))


def _recording() -> bool:
    return os.environ.get("NUKIFLOW_RECORD_HISTORIES") == "1"


async def _check_and_record(name: str, history: WorkflowHistory) -> None:
    result = await _replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"
    if _recording():
        HISTORIES.mkdir(exist_ok=True)
        (HISTORIES / f"{name}.json").write_text(history.to_json(), encoding="utf-8")


async def _wait_until(check: Callable[[], Awaitable[bool]], what: str, within: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


RECORDED = {p.stem: p.read_text(encoding="utf-8") for p in sorted(HISTORIES.glob("*.json"))}


@pytest.mark.parametrize("name", sorted(RECORDED))
async def test_recorded_history_replays(name: str) -> None:
    history = WorkflowHistory.from_json(name, RECORDED[name])
    result = await _replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"


async def test_fresh_histories_replay(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    """The forum case, a lost update, a create, a delete and two lock actions, replayed."""
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="replay", code=555559)
    await sim.set_faults(Faults(lost_update_nth=[4]), lock.smartlock_id)
    tasks = []
    for code in (555551, 555552, 555553, 555554, 555555):
        tasks.append(
            asyncio.create_task(flow.update_auth(lock.smartlock_id, auth.id, {"code": code}))
        )
        await asyncio.sleep(0.02)
    assert all(o.ok for o in await asyncio.gather(*tasks))
    created = await flow.create_auth(lock.smartlock_id, name="temp", code=555561, request_id="r1")
    assert created.status is OutcomeStatus.APPLIED and created.auth_id is not None
    deleted = await flow.delete_auth(lock.smartlock_id, created.auth_id)
    assert deleted.status is OutcomeStatus.APPLIED
    for action in ("unlock", "lock"):
        assert (await flow.action(lock.smartlock_id, action)).ok

    ids = {
        "auth_entity": auth_workflow_id(lock.smartlock_id, auth.id),
        "auth_create": create_workflow_id(lock.smartlock_id, "r1"),
        "auth_entity_deleted": auth_workflow_id(lock.smartlock_id, created.auth_id),
        "lock_actions": lock_workflow_id(lock.smartlock_id),
    }
    for name, workflow_id in ids.items():
        history = await temporal_client.get_workflow_handle(workflow_id).fetch_history()
        await _check_and_record(name, history)


# Rollout and grant timings scaled to the fake cloud's 0.1 s device delay. One item at a time
# and four per run make the runs repeat: items 0-3 in the first run, the rest in the second.
REPLAY_ROLLOUT = RolloutOptions(
    max_in_flight=1,
    heartbeat_seconds=2,
    item_wait_seconds=3,
    item_poll_initial_seconds=0.2,
    item_poll_max_seconds=0.5,
    drain_seconds=5,
    max_items_per_run=4,
)
REPLAY_GRANT = GrantTiming(
    revoke_attempt_seconds=2,
    revoke_retry_initial_seconds=0.2,
    revoke_retry_max_seconds=0.5,
    # Room for a loaded machine: never overdue, and an extension written in time.
    overdue_after_seconds=60,
    change_deadline_seconds=30,
    heartbeat_seconds=2,
    wait_seconds=3,
    poll_initial_seconds=0.2,
    poll_max_seconds=0.5,
)


async def test_fresh_rollout_histories_replay(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    """Updates, creates, deletes and an item that fails, a pause and a resume, and a
    continue-as-new: both runs replayed."""
    lock = (await sim.add_lock()).smartlock_id
    auths = [
        (await sim.add_auth(lock, name=f"r{i}", code=code)).id
        for i, code in enumerate((611111, 611112, 611113, 611114))
    ]

    def update(auth_id: str, **fields: object) -> RolloutItem:
        return RolloutItem(
            op=RolloutOp.UPDATE, smartlock_id=lock, auth_id=auth_id, patch=AuthPatch(**fields)
        )

    def create(name: str, code: int) -> RolloutItem:
        return RolloutItem(
            op=RolloutOp.CREATE, smartlock_id=lock, create=AuthFields(name=name, code=code)
        )

    def delete(auth_id: str) -> RolloutItem:
        return RolloutItem(op=RolloutOp.DELETE, smartlock_id=lock, auth_id=auth_id)

    items = [
        update(auths[0], code=711111),
        create("guest", 711112),
        update("0" * 24, name="ghost"),  # no such auth: fails
        delete(auths[1]),
        update(auths[2], name="renamed"),
        create("visitor", 711113),
        delete(auths[3]),
    ]
    # Slow enough that the pause lands while the first run still has items to start.
    await sim.set_faults(Faults(device_delay=0.3))
    fleet = Fleet(flow)
    rollout = await fleet.apply_rollout(
        RolloutPlan(name="replay", items=items, options=REPLAY_ROLLOUT), rollout_id=f"replay-{lock}"
    )

    async def first_applied() -> bool:
        return (await rollout.progress(limit=0)).totals.applied >= 1

    await _wait_until(first_applied, "the first item")
    assert (await rollout.pause("replay pause")).state is RolloutState.PAUSED
    await asyncio.sleep(0.5)
    assert (await rollout.resume("replay resume")).state is RolloutState.RUNNING
    report = await asyncio.wait_for(rollout.result(), timeout=60)
    assert report.state is RolloutState.COMPLETED_WITH_FAILURES, report.not_applied
    assert [(i.index, i.status) for i in report.not_applied] == [(2, ItemStatus.FAILED)]
    assert report.runs == 2

    last = await rollout.handle.fetch_history()
    started = last.events[0].workflow_execution_started_event_attributes
    assert started.continued_execution_run_id, "the last run continued the first"
    first = await temporal_client.get_workflow_handle(
        rollout.id, run_id=started.continued_execution_run_id
    ).fetch_history()
    await _check_and_record("rollout_first_run", first)
    await _check_and_record("rollout_continued_run", last)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def test_fresh_grant_histories_replay(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    """Two grants, created and extended: one revoked at its window's end, one revoked early."""
    lock = (await sim.add_lock()).smartlock_id
    fleet = Fleet(flow, grant_timing=REPLAY_GRANT)
    start = _now() - timedelta(minutes=1)
    at_end = await fleet.grant_access(
        lock,
        name="at end",
        code=555131,
        start=start,
        # Far while the code is created, then brought near (see tests/grant_support.py).
        end=_now() + FAR,
        request_id="replay-end",
    )
    early = await fleet.grant_access(
        lock,
        name="early",
        code=555132,
        start=start,
        end=_now() + timedelta(hours=1),
        request_id="replay-early",
    )
    assert (await at_end.created()).status is GrantStatus.ACTIVE
    assert (await early.created()).status is GrantStatus.ACTIVE

    await end_soon(at_end)
    await early.extend(_now() + timedelta(hours=2))
    revoked = await early.revoke("replay: left early", wait=True)
    assert revoked.status is GrantStatus.REVOKED and revoked.revoke_requested
    ended = await asyncio.wait_for(at_end.result(), timeout=90)
    assert ended.status is GrantStatus.REVOKED and not ended.revoke_requested
    assert (await sim.device(lock)).auths == []

    await _check_and_record("access_grant_at_end", await at_end.handle.fetch_history())
    await _check_and_record("access_grant_revoked_early", await early.handle.fetch_history())


async def test_fresh_continued_grant_histories_replay(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    """A grant that continues as new while it is extended (its history passed a small
    threshold) and is revoked at its end by the run it continued into: both runs replayed."""
    first, last = await _continued_grant(flow, sim, temporal_client, "replay-continued")
    await _check_and_record("access_grant_continued_first_run", first)
    await _check_and_record("access_grant_continued_run", last)


async def test_fresh_grant_histories_of_the_logic_generation_replay(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    """The same with one marker per run and the auth's id upserted with the status (when the
    code is created, and at the start of the continued run)."""
    first, last = await _continued_grant(flow, sim, temporal_client, "replay-generation")
    await _check_and_record("access_grant_logic_2026_11_first_run", first)
    await _check_and_record("access_grant_logic_2026_11_continued_run", last)


async def _continued_grant(
    flow: NukiFlow, sim: SimulatorControl, temporal_client: Client, request_id: str
) -> tuple[WorkflowHistory, WorkflowHistory]:
    """Both runs of a grant that continued as new once (see the test above)."""
    lock = (await sim.add_lock()).smartlock_id
    # About 18 events once the code is on the lock, 31 once extended: one continue-as-new.
    timing = REPLAY_GRANT.model_copy(update={"max_history_events": 25})
    fleet = Fleet(flow, grant_timing=timing)
    grant = await fleet.grant_access(
        lock,
        name="continued",
        code=555134,
        start=_now() - timedelta(minutes=1),
        # Far while the code is created, then brought near (see tests/grant_support.py).
        end=_now() + FAR,
        request_id=request_id,
    )
    assert (await grant.created()).status is GrantStatus.ACTIVE
    await end_soon(grant)
    ended = await asyncio.wait_for(grant.result(), timeout=30)
    assert ended.status is GrantStatus.REVOKED
    assert (await sim.device(lock)).auths == []

    last = await grant.handle.fetch_history()
    started = last.events[0].workflow_execution_started_event_attributes
    assert started.continued_execution_run_id, "the grant continued as new"
    first = await temporal_client.get_workflow_handle(
        grant.id, run_id=started.continued_execution_run_id
    ).fetch_history()
    return first, last


async def test_fresh_lock_history_with_a_last_look_replays(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    """An action expired in line, one no confirmation saw done (the last look at the log,
    then "unknown") and one confirmed: the paths decided from the record and the log."""
    lock = (await sim.add_lock()).smartlock_id
    assert (await flow.action(lock, "lock")).ok
    await sim.set_faults(Faults(action_time=60.0), lock)
    # The unlock must be sent before its deadline (room for a loaded machine; it is watched
    # until then anyway) and still be current when the lock's deadline passes in line.
    unknown = asyncio.create_task(flow.action(lock, "unlock", deadline=timedelta(seconds=5)))

    async def unlocking() -> bool:
        current = (await flow.lock_state(lock)).current
        return current is not None and current.action is ActionName.UNLOCK

    await _wait_until(unlocking, "the unlock to be under way")
    expired = await flow.action(lock, "lock", deadline=timedelta(seconds=1))
    assert expired.status is ActionStatus.EXPIRED, expired.reason
    assert (await unknown).status is ActionStatus.UNKNOWN
    history = await temporal_client.get_workflow_handle(lock_workflow_id(lock)).fetch_history()
    await _check_and_record("lock_actions_last_look", history)


def _device_event(auth: SmartlockAuth, digest: str) -> AuthEvent:
    return AuthEvent(
        smartlock_id=auth.smartlock_id,
        auth_id=auth.id,
        deleted=False,
        auth=auth,
        received_at=auth.update_date or datetime.now(UTC),
        digest=digest,
    )


async def test_fresh_entity_history_with_an_event_then_a_change_replays(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    """A webhook event between two changes (alert: shown as drift, then written over).
    ``auth_entity_event_before_handler`` is this run recorded by a worker whose entity had no
    handler for the signal yet: replayed now, the event is ignored as it was then."""
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="evented", code=555571)
    assert (await flow.update_auth(lock.smartlock_id, auth.id, {"code": 555572})).ok
    handle = temporal_client.get_workflow_handle(auth_workflow_id(lock.smartlock_id, auth.id))
    changed = await sim.update_device_auth(lock.smartlock_id, auth.id, name="elsewhere")
    await handle.signal(AUTH_EVENT_SIGNAL, _device_event(changed, "d1" * 32))
    assert (await flow.update_auth(lock.smartlock_id, auth.id, {"code": 555573})).ok
    await _check_and_record("auth_entity_event_then_change", await handle.fetch_history())


async def test_fresh_entity_history_with_an_enforced_drift_replays(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    """Drift enforced by a write, then a stale and a duplicate report that change nothing."""
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="enforced", code=555581)
    assert (await flow.update_auth(lock.smartlock_id, auth.id, {"code": 555582})).ok
    before = await flow.set_drift_policy(lock.smartlock_id, auth.id, DriftPolicy.ENFORCE)
    handle = temporal_client.get_workflow_handle(auth_workflow_id(lock.smartlock_id, auth.id))
    first = await sim.update_device_auth(lock.smartlock_id, auth.id, name="first")
    second = await sim.update_device_auth(lock.smartlock_id, auth.id, enabled=False)
    await handle.signal(AUTH_EVENT_SIGNAL, _device_event(second, "e2" * 32))
    await handle.signal(AUTH_EVENT_SIGNAL, _device_event(first, "e1" * 32))
    await handle.signal(AUTH_EVENT_SIGNAL, _device_event(second, "e2" * 32))

    async def enforced() -> bool:
        view = await flow.auth_state(lock.smartlock_id, auth.id)
        return view.change_counter == before.change_counter + 1 and view.status.value == "in_sync"

    await _wait_until(enforced, "the enforcing write")
    view = await flow.set_drift_policy(lock.smartlock_id, auth.id, DriftPolicy.ALERT)
    assert view.change_counter == before.change_counter + 1
    await _check_and_record("auth_entity_drift_enforced", await handle.fetch_history())


async def test_fresh_histories_of_the_logic_generation_replay(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    """Runs that record the logic generation's one marker (nukiflow.workflows.logic_version)
    and upsert a status once per task: a verified update, then a drift reported to the idle
    entity (the loop publishes it) and a change that writes over it; two changes taken up
    while the lock is offline behind a third (one segment after the other, no status between);
    a create; two lock actions."""
    lock = (await sim.add_lock()).smartlock_id
    auth = await sim.add_auth(lock, name="generation", code=555691)
    assert (await flow.update_auth(lock, auth.id, {"code": 555692})).ok
    handle = temporal_client.get_workflow_handle(auth_workflow_id(lock, auth.id))
    changed = await sim.update_device_auth(lock, auth.id, name="elsewhere")
    await handle.signal(AUTH_EVENT_SIGNAL, _device_event(changed, "g1" * 32))

    async def drifted() -> bool:
        return (await flow.auth_state(lock, auth.id)).status.value == "drifted"

    await _wait_until(drifted, "the drift to show")
    assert (await flow.update_auth(lock, auth.id, {"code": 555693})).ok
    await _check_and_record("auth_entity_logic_2026_11", await handle.fetch_history())

    held = await sim.add_auth(lock, name="held", code=555694)
    await sim.set_faults(Faults(offline_mode="hold"), lock)
    await sim.set_online(lock, False)
    waiting = []
    for count, code in ((1, 555695), (2, 555696), (3, 555697)):
        waiting.append(asyncio.create_task(flow.update_auth(lock, held.id, {"code": code})))

        async def accepted(count: int = count) -> bool:
            try:
                return (await flow.auth_state(lock, held.id)).change_counter >= count
            except (RPCError, WorkflowQueryFailedError):  # not started yet
                return False

        await _wait_until(accepted, f"change {count} to be accepted")
    await sim.set_online(lock, True)
    assert all(o.ok for o in await asyncio.gather(*waiting))
    held_handle = temporal_client.get_workflow_handle(auth_workflow_id(lock, held.id))
    await _check_and_record("auth_entity_logic_2026_11_segments", await held_handle.fetch_history())

    created = await flow.create_auth(lock, name="made", code=555698, request_id="g1")
    assert created.status is OutcomeStatus.APPLIED
    create_handle = temporal_client.get_workflow_handle(create_workflow_id(lock, "g1"))
    await _check_and_record("auth_create_logic_2026_11", await create_handle.fetch_history())

    for action in ("unlock", "lock"):
        assert (await flow.action(lock, action)).ok
    lock_handle = temporal_client.get_workflow_handle(lock_workflow_id(lock))
    await _check_and_record("lock_actions_logic_2026_11", await lock_handle.fetch_history())


def _upserts_by_task(history: WorkflowHistory) -> list[list[set[str]]]:
    """The search attributes each upsert event of ``history`` set, grouped by the workflow
    task that upserted them (the server writes the visibility record once per such task)."""
    tasks: dict[int, list[set[str]]] = {}
    for event in history.events:
        if event.HasField("upsert_workflow_search_attributes_event_attributes"):
            upsert = event.upsert_workflow_search_attributes_event_attributes
            keys = set(upsert.search_attributes.indexed_fields)
            tasks.setdefault(upsert.workflow_task_completed_event_id, []).append(keys)
    return [tasks[task] for task in sorted(tasks)]


async def test_fresh_create_histories_showing_the_auth_id_at_the_end_replay(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    """A create settled by the listing that found its auth shows the auth id with its end (no
    upsert of its own while the entity starts: a visibility write nobody could see); one that
    waits for the lock to apply the new auth shows the id at once, as before."""
    lock = (await sim.add_lock()).smartlock_id
    settled = await flow.create_auth(lock, name="listed", code=555711, request_id="e1")
    assert settled.status is OutcomeStatus.APPLIED
    handle = temporal_client.get_workflow_handle(create_workflow_id(lock, "e1"))
    history = await handle.fetch_history()
    # The markers' upserts in the first task, then the id with the status in the last one
    # (which closes the run: no visibility write of its own).
    changes = {"TemporalChangeVersion"}
    assert _upserts_by_task(history) == [[changes, changes], [{"NukiAuthId", "NukiStatus"}]]
    shown = (await handle.describe()).typed_search_attributes
    assert shown.get(sa.AUTH_ID) == settled.auth_id
    assert shown.get(sa.STATUS) == "in_sync"
    await _check_and_record("auth_create_auth_id_at_end", history)

    # New auths listed at once, with their operation pending (the lock is offline and holds
    # the create): the create waits for the lock, showing the new auth's id meanwhile.
    await sim.set_settings(sim_settings(create_visibility="immediately"))
    await sim.set_faults(Faults(offline_mode="hold"), lock)
    await sim.set_online(lock, False)
    waiting = asyncio.create_task(
        flow.create_auth(lock, name="waited", code=555712, request_id="e2")
    )
    handle = temporal_client.get_workflow_handle(create_workflow_id(lock, "e2"))

    async def shows_its_id() -> bool:
        try:
            shown = (await handle.describe()).typed_search_attributes
        except RPCError:  # not started yet
            return False
        return shown.get(sa.AUTH_ID) is not None and shown.get(sa.STATUS) == "applying"

    await _wait_until(shows_its_id, "the waiting create to show its auth id")
    await sim.set_online(lock, True)
    waited = await waiting
    assert waited.status is OutcomeStatus.APPLIED
    history = await handle.fetch_history()
    assert _upserts_by_task(history) == [[changes, changes], [{"NukiAuthId"}], [{"NukiStatus"}]]
    assert (await handle.describe()).typed_search_attributes.get(sa.AUTH_ID) == waited.auth_id
    await _check_and_record("auth_create_auth_id_at_end_waited", history)
