"""The events a run spends on bookkeeping: one patch marker per run (the logic generation, see
:mod:`nukiflow.workflows.logic_version`) and at most one status upsert per workflow task.

Counted on the event types of fresh runs, never on times; the writes' own events (activities,
timers) are left to the tests of the write path.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory, WorkflowQueryFailedError
from temporalio.service import RPCError
from temporalio.worker import Worker

from nukiflow.client import NukiFlow
from nukiflow.contracts.access import GrantStatus, GrantTiming
from nukiflow.contracts.action import lock_workflow_id
from nukiflow.contracts.auth import OutcomeStatus
from nukiflow.contracts.entity import auth_workflow_id, create_workflow_id
from nukiflow.contracts.names import (
    READ_WRITE_SETTLE_AUTH_ACTIVITY,
    WRITE_AUTH_ACTIVITY,
    WRITE_SETTLE_AUTH_ACTIVITY,
)
from nukiflow.fleet import Fleet
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.settings import Faults
from nukiflow.workflows import logic_version
from tests.grant_support import FAR, end_soon

WORKFLOWS = Path(__file__).resolve().parent.parent / "workflows"
MARKER = EventType.EVENT_TYPE_MARKER_RECORDED
UPSERT = EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
TASK_COMPLETED = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
SCHEDULED = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
CHANGE_VERSION = "TemporalChangeVersion"
STATUS = "NukiStatus"


# -- the patch checks, read from the source ----------------------------------------------------


def _patch_constants() -> dict[str, str]:
    """Every module-level ``*_PATCH = "..."`` of the workflow modules: name -> patch id."""
    found: dict[str, str] = {}
    for path in sorted(WORKFLOWS.glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id.endswith("_PATCH")
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                found[f"{path.stem}.{node.targets[0].id}"] = node.value.value
    return found


def test_every_patch_id_of_the_workflows_is_implied_by_the_current_generation() -> None:
    ids = set(_patch_constants().values())
    assert len(ids) >= 18
    newest = logic_version.GENERATIONS[0]
    assert newest.patch_id == logic_version.CURRENT
    later = logic_version.AFTER_GENERATION
    assert not later & newest.implies, "an id both implied and checked on its own"
    assert ids == set(newest.implies) | later, "a patch id no generation knows, or a stale one"


def test_workflow_code_checks_patches_only_through_the_logic_generation() -> None:
    for path in sorted(WORKFLOWS.glob("*.py")):
        if path.stem == "logic_version":
            continue
        text = path.read_text(encoding="utf-8")
        assert "workflow.patched(" not in text, path.name
        assert "deprecate_patch(" not in text, path.name


def test_since_refuses_an_id_no_generation_implies() -> None:
    # Before anything is asked of Temporal: a later change must use workflow.patched.
    with pytest.raises(ValueError, match="implied by no logic generation"):
        logic_version.since("a-change-made-after-the-generation")
    for later in logic_version.AFTER_GENERATION:
        with pytest.raises(ValueError, match="implied by no logic generation"):
            logic_version.since(later)


def test_patched_after_refuses_an_id_a_generation_implies_or_not_listed() -> None:
    implied = next(iter(logic_version.GENERATIONS[0].implies))
    for patch_id in (implied, "a-change-nobody-listed"):
        with pytest.raises(ValueError, match="not a change made after the newest generation"):
            logic_version.patched_after(patch_id)


# -- fresh runs, counted -----------------------------------------------------------------------


def _tasks(history: WorkflowHistory) -> list[list[HistoryEvent]]:
    """The events each workflow task's completion recorded (its commands), task by task."""
    tasks: list[list[HistoryEvent]] = []
    for event in history.events:
        if event.event_type == TASK_COMPLETED:
            tasks.append([])
        elif tasks and event.event_type in (MARKER, UPSERT):
            tasks[-1].append(event)
    return tasks


def _upserted(event: HistoryEvent) -> dict[str, object]:
    fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
    return {k: json.loads(v.data) for k, v in fields.indexed_fields.items()}


def _writes(event: HistoryEvent) -> bool:
    # A write goes out through the fast path's activity (the first change's reads its base
    # too), or the retried write after it.
    name = event.activity_task_scheduled_event_attributes.activity_type.name
    writes = (WRITE_AUTH_ACTIVITY, WRITE_SETTLE_AUTH_ACTIVITY, READ_WRITE_SETTLE_AUTH_ACTIVITY)
    return name in writes


def _markers(history: WorkflowHistory) -> list[str]:
    ids = []
    for event in history.events:
        if event.event_type == MARKER:
            data = event.marker_recorded_event_attributes.details["patch-data"].payloads[0].data
            ids.append(json.loads(data)["id"])
    return ids


def _statuses_by_task(history: WorkflowHistory) -> list[list[object]]:
    return [
        [_upserted(e)[STATUS] for e in task if e.event_type == UPSERT and STATUS in _upserted(e)]
        for task in _tasks(history)
    ]


def _bookkeeping(history: WorkflowHistory) -> Counter[str]:
    counts: Counter[str] = Counter()
    for event in history.events:
        if event.event_type == MARKER:
            counts["marker"] += 1
        elif event.event_type == UPSERT:
            fields = _upserted(event)
            counts["change version" if CHANGE_VERSION in fields else "status"] += 1
    return counts


def _assert_one_marker(history: WorkflowHistory) -> None:
    """One marker of the logic generation, and one for each change made after it that the run
    took (checked on its own: logic_version.AFTER_GENERATION)."""
    markers = _markers(history)
    assert [m for m in markers if m not in logic_version.AFTER_GENERATION] == [
        logic_version.CURRENT
    ]
    assert len(markers) == len(set(markers))
    assert _bookkeeping(history)["change version"] == len(markers)


async def test_one_verified_update_records_one_marker_and_a_status_per_task(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="counted", code=555671)
    outcome = await flow.update_auth(lock.smartlock_id, auth.id, {"code": 555672})
    assert outcome.status is OutcomeStatus.APPLIED
    handle = temporal_client.get_workflow_handle(auth_workflow_id(lock.smartlock_id, auth.id))
    history = await handle.fetch_history()

    _assert_one_marker(history)
    assert _bookkeeping(history) == Counter({"marker": 1, "change version": 1, "status": 1})
    # Applying from its start (the facade's Update-with-Start sets it), while the change's
    # activities run; in sync once verified, the one status the run upserts.
    assert _status_at_start(history) == "applying"
    statuses = _statuses_by_task(history)
    assert [s for task in statuses for s in task] == ["in_sync"]
    assert all(len(task) <= 1 for task in statuses), statuses


async def test_a_settled_status_the_next_segment_replaces_is_not_published(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    """A change written while the lock is offline, two more accepted meanwhile: once the first
    settles, the entity takes up the other two in the same task: the search attribute stays
    ``applying`` (no ``in_sync`` that would show for no time, no second ``applying``)."""
    lock = await sim.add_lock()
    smartlock_id = lock.smartlock_id
    auth = await sim.add_auth(smartlock_id, name="coalesced", code=555681)
    await sim.set_faults(Faults(offline_mode="hold"), smartlock_id)
    await sim.set_online(smartlock_id, False)
    first = asyncio.create_task(flow.update_auth(smartlock_id, auth.id, {"code": 555682}))
    await _until_accepted(flow, smartlock_id, auth.id, 1)
    later = []
    for count, code in ((2, 555683), (3, 555684)):
        later.append(asyncio.create_task(flow.update_auth(smartlock_id, auth.id, {"code": code})))
        await _until_accepted(flow, smartlock_id, auth.id, count)
    await sim.set_online(smartlock_id, True)
    assert (await first).status is OutcomeStatus.APPLIED
    assert [o.status for o in await asyncio.gather(*later)] == [
        OutcomeStatus.SUPERSEDED,
        OutcomeStatus.APPLIED,
    ]
    handle = temporal_client.get_workflow_handle(auth_workflow_id(smartlock_id, auth.id))
    history = await handle.fetch_history()

    _assert_one_marker(history)
    assert _status_at_start(history) == "applying"
    statuses = _statuses_by_task(history)
    assert all(len(task) <= 1 for task in statuses), statuses
    assert [s for task in statuses for s in task] == ["in_sync"]
    # Two segments all the same: the first change's write, then the last one's.
    assert sum(1 for e in history.events if e.event_type == SCHEDULED and _writes(e)) == 2


def _status_at_start(history: WorkflowHistory) -> str | None:
    """The status a run's start search attributes show (None: started without one)."""
    started = history.events[0].workflow_execution_started_event_attributes
    payload = started.search_attributes.indexed_fields.get("NukiStatus")
    return None if payload is None else str(json.loads(payload.data))


async def _until_accepted(flow: NukiFlow, smartlock_id: int, auth_id: str, count: int) -> None:
    """Until the auth's workflow accepted ``count`` changes."""
    for _ in range(1500):
        with contextlib.suppress(RPCError, WorkflowQueryFailedError):
            if (await flow.auth_state(smartlock_id, auth_id)).change_counter >= count:
                return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the auth's workflow never accepted {count} changes")


async def test_a_create_records_one_marker(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    lock = await sim.add_lock()
    created = await flow.create_auth(lock.smartlock_id, name="once", code=555621, request_id="c1")
    assert created.status is OutcomeStatus.APPLIED
    handle = temporal_client.get_workflow_handle(create_workflow_id(lock.smartlock_id, "c1"))
    history = await handle.fetch_history()

    _assert_one_marker(history)
    # Started showing "applying" (the facade sets it at the start): only the end is upserted.
    assert _status_at_start(history) == "applying"
    statuses = _statuses_by_task(history)
    assert all(len(task) <= 1 for task in statuses), statuses
    assert [s for task in statuses for s in task] == ["in_sync"]

    # The entity it handed the auth to starts idle, its search attributes set at its start by
    # the create: no upsert, and no patch check (no marker).
    assert created.auth_id is not None
    entity = temporal_client.get_workflow_handle(
        auth_workflow_id(lock.smartlock_id, created.auth_id)
    )
    entity_history = await entity.fetch_history()
    for _ in range(500):  # until its first workflow task has run (the create does not wait)
        if any(e.event_type == TASK_COMPLETED for e in entity_history.events):
            break
        await asyncio.sleep(0.02)
        entity_history = await entity.fetch_history()
    assert _bookkeeping(entity_history) == Counter()
    assert _status_at_start(entity_history) == "in_sync"


async def test_a_lock_action_shows_acting_from_its_first_task(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    lock = await sim.add_lock()
    assert (await flow.action(lock.smartlock_id, "unlock")).ok
    history = await temporal_client.get_workflow_handle(
        lock_workflow_id(lock.smartlock_id)
    ).fetch_history()

    _assert_one_marker(history)
    statuses = _statuses_by_task(history)
    assert all(len(task) <= 1 for task in statuses), statuses
    assert statuses[0] == ["acting"]
    assert [s for task in statuses for s in task] == ["acting", "confirmed"]


GRANT_TIMING = GrantTiming(
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


async def test_a_grant_upserts_its_auth_id_with_its_status(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    """Created, active, revoked at its end: the auth's id goes out with the status it takes."""
    lock = (await sim.add_lock()).smartlock_id
    now = datetime.now(UTC).replace(microsecond=0)
    grant = await Fleet(flow, grant_timing=GRANT_TIMING).grant_access(
        lock,
        name="counted",
        code=555631,
        start=now - timedelta(minutes=1),
        # Far while the code is created (a loaded machine could not before a near end), then
        # brought near (see tests/grant_support.py).
        end=now + FAR,
        request_id="counted",
    )
    assert (await grant.created()).status is GrantStatus.ACTIVE
    await end_soon(grant)
    ended = await asyncio.wait_for(grant.result(), timeout=30)
    assert ended.status is GrantStatus.REVOKED and ended.auth_id is not None
    history = await grant.handle.fetch_history()

    _assert_one_marker(history)
    upserts = [_upserted(e) for e in history.events if e.event_type == UPSERT]
    assert not [u for u in upserts if STATUS not in u and CHANGE_VERSION not in u], upserts
    statuses = _statuses_by_task(history)
    assert all(len(task) <= 1 for task in statuses), statuses
    assert [s for task in statuses for s in task] == ["creating", "active", "revoking", "revoked"]
    with_id = [u[STATUS] for u in upserts if u.get("NukiAuthId") == ended.auth_id]
    assert with_id == ["active", "revoking", "revoked"]
