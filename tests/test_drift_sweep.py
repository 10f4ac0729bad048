"""The drift sweep without webhooks: the schedule, triggered, lists the account's auths once and
reports each to its entity (or the lock's drift ledger); a managed auth the listing lost is
reported deleted. Against a real Temporal dev server and the fake cloud over HTTP; nothing is
registered to receive webhooks, so only the sweep can tell the entities."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import pytest
from temporalio.client import Client, WorkflowExecution
from temporalio.worker import Worker

from nukiflow.client import NukiFlow
from nukiflow.contracts.auth import OutcomeStatus
from nukiflow.contracts.drift import DriftLedgerView
from nukiflow.contracts.entity import EntityStatus
from nukiflow.contracts.events import drift_ledger_workflow_id
from nukiflow.contracts.names import STATE_QUERY
from nukiflow.contracts.sweep import SweepInput, listed_digest
from nukiflow.contracts.validation import InputError
from nukiflow.fleet.sweep import (
    check_interval,
    ensure_sweep_schedule,
    run_sweep,
    sweep_workflow_id,
    trigger_sweep,
)
from nukiflow.simulator.control import SimulatorControl

T = TypeVar("T")


async def until(check: Callable[[], Awaitable[T]], done: Callable[[T], bool], what: str) -> T:
    """Ask again until ``done``; a bounded wait on a query, never a sleep for a precondition."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        value = await check()
        if done(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last {value}")
        await asyncio.sleep(0.05)


async def managed(flow: NukiFlow, sim: SimulatorControl, smartlock_id: int, code: int) -> str:
    auth = await sim.add_auth(smartlock_id, name=f"guest{code}", code=code)
    outcome = await flow.update_auth(smartlock_id, auth.id, {"code": code + 1})
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    return auth.id


async def test_a_triggered_schedule_shows_drift_made_on_the_device(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client, task_queue: str
) -> None:
    lock = await sim.add_lock()
    smartlock_id = lock.smartlock_id
    drifting = await managed(flow, sim, smartlock_id, 535351)
    steady = await managed(flow, sim, smartlock_id, 535361)
    vanishing = await managed(flow, sim, smartlock_id, 535371)
    stranger = await sim.add_auth(smartlock_id, name="app-made", code=646461)
    await sim.update_device_auth(smartlock_id, drifting, name="renamed", code=777771)
    await sim.delete_device_auth(smartlock_id, vanishing)

    schedule_id = f"sweep-{task_queue}"
    made = await ensure_sweep_schedule(
        temporal_client, task_queue, timedelta(hours=1), schedule_id=schedule_id
    )
    assert made.created
    # Idempotent: again (another interval) updates the one schedule.
    again = await ensure_sweep_schedule(
        temporal_client, task_queue, timedelta(minutes=30), schedule_id=schedule_id
    )
    assert not again.created
    handle = temporal_client.get_schedule_handle(schedule_id)
    try:
        description = await handle.describe()
        assert description.schedule.spec.intervals[0].every == timedelta(minutes=30)
        await trigger_sweep(temporal_client, schedule_id=schedule_id)

        view = await until(
            lambda: flow.auth_state(smartlock_id, drifting),
            lambda v: v.status is EntityStatus.DRIFTED,
            "the drift",
        )
        assert view.drift == ["name", "code"]
        gone = await until(
            lambda: flow.auth_state(smartlock_id, vanishing),
            lambda v: v.status is EntityStatus.DRIFTED,
            "the deletion",
        )
        assert gone.drift == ["deleted"]
        ledger = temporal_client.get_workflow_handle(drift_ledger_workflow_id(smartlock_id))
        seen = await until(
            lambda: ledger.query(STATE_QUERY, result_type=DriftLedgerView),
            lambda v: any(e.auth_id == stranger.id for e in v.entries),
            "the ledger's entry",
        )
        assert stranger.id in {e.auth_id for e in seen.entries}
        assert drifting not in {e.auth_id for e in seen.entries}
        assert (await flow.auth_state(smartlock_id, steady)).status is EntityStatus.IN_SYNC
        # The sweep that ran is the schedule's, and its history stays a handful of events.
        sweeps = f"WorkflowId STARTS_WITH '{sweep_workflow_id(schedule_id)}'"

        async def listed() -> list[WorkflowExecution]:
            return [w async for w in temporal_client.list_workflows(sweeps)]

        # Visibility lists a run a moment after it started (on a loaded machine, seconds).
        runs = await until(listed, bool, "the sweep to be listed")
        assert len(runs) == 1
        events = [
            e async for e in temporal_client.get_workflow_handle(runs[0].id).fetch_history_events()
        ]
        assert len(events) < 15
    finally:
        await handle.delete()


async def test_one_listing_per_sweep_and_repeated_reports_are_no_news(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client, task_queue: str
) -> None:
    locks = [await sim.add_lock() for _ in range(2)]
    auths = [await managed(flow, sim, lock.smartlock_id, 545451) for lock in locks]
    await sim.clear_requests()
    result = await run_sweep(
        temporal_client, task_queue, workflow_id=f"sweep-{task_queue}-1", sweep=SweepInput()
    )
    requests = await sim.requests()
    # One listing of the locks and one of every auth, however many auths: no request per auth.
    assert sorted((r.method, r.path) for r in requests) == [
        ("GET", "/smartlock"),
        ("GET", "/smartlock/auth"),
    ]
    assert result.auths == 2 and result.smartlocks == 2
    assert result.to_entities == 2 and result.disappeared == 0 and result.failed == 0
    second = await run_sweep(
        temporal_client, task_queue, workflow_id=f"sweep-{task_queue}-2", sweep=SweepInput()
    )
    assert second.to_entities == 2
    for lock, auth_id in zip(locks, auths, strict=True):
        view = await flow.auth_state(lock.smartlock_id, auth_id)
        assert view.status is EntityStatus.IN_SYNC and view.drift == []


async def test_an_unmanaged_auth_goes_to_its_ledger_once_until_it_changes(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client, task_queue: str
) -> None:
    lock = await sim.add_lock()
    stranger = await sim.add_auth(lock.smartlock_id, name="app-made", code=646461)
    ledger = temporal_client.get_workflow_handle(drift_ledger_workflow_id(lock.smartlock_id))

    async def sweep(n: int) -> tuple[int, int]:
        result = await run_sweep(temporal_client, task_queue, workflow_id=f"sweep-{task_queue}-{n}")
        return result.to_ledgers, result.unchanged

    async def entry_named(name: str) -> None:
        await until(
            lambda: ledger.query(STATE_QUERY, result_type=DriftLedgerView),
            lambda v: [e.name for e in v.entries if e.auth_id == stranger.id] == [name],
            f"the ledger holding {name}",
        )

    assert await sweep(1) == (1, 0)
    await entry_named("app-made")
    # Unchanged: the ledger holds it as listed, nothing is sent.
    assert await sweep(2) == (0, 1)
    await sim.update_device_auth(lock.smartlock_id, stranger.id, name="renamed")
    assert await sweep(3) == (1, 0)
    await entry_named("renamed")
    view = await ledger.query(STATE_QUERY, result_type=DriftLedgerView)
    assert view.sightings == 2


def test_the_interval_is_bounded() -> None:
    assert check_interval(timedelta(minutes=15)) == timedelta(minutes=15)
    for bad in (timedelta(seconds=1), timedelta(days=8)):
        with pytest.raises(InputError, match="between"):
            check_interval(bad)


def test_a_listed_digest_never_depends_on_the_code() -> None:
    from nukiflow.contracts.wire import SmartlockAuth

    auth = SmartlockAuth(
        id="a" * 24, smartlock_id=1, type=13, name="x", enabled=True, remote_allowed=False
    )
    one = listed_digest(auth.model_copy(update={"code": 535353}))
    assert one == listed_digest(auth.model_copy(update={"code": 646464}))
    assert one != listed_digest(auth)
    assert one != listed_digest(auth.model_copy(update={"code": 535353, "name": "y"}))


async def test_the_sweep_commands(
    sim: SimulatorControl,
    worker: Worker,
    temporal_client: Client,
    cli_env: dict[str, str],
    flow: NukiFlow,
) -> None:
    import json

    from typer.testing import CliRunner

    from nukiflow.cli import app
    from nukiflow.contracts.sweep import SWEEP_SCHEDULE_ID

    async def run(*args: str) -> tuple[int, str]:
        result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=cli_env)
        return result.exit_code, result.stdout

    lock = await sim.add_lock()
    auth_id = await managed(flow, sim, lock.smartlock_id, 565651)
    assert (await run("sweep", "schedule", "--every", "1s"))[0] == 2
    assert (await run("sweep", "schedule", "--every", "soon"))[0] == 2
    try:
        code, out = await run("sweep", "schedule", "--every", "1h", "--json")
        assert code == 0 and json.loads(out)["created"] is True
        code, out = await run("sweep", "schedule", "--json")
        assert code == 0 and json.loads(out) == {
            "schedule_id": SWEEP_SCHEDULE_ID,
            "every_seconds": 900.0,
            "created": False,
            "task_queue": cli_env["NUKIFLOW_TASK_QUEUE"],
        }
    finally:
        await temporal_client.get_schedule_handle(SWEEP_SCHEDULE_ID).delete()
    await sim.update_device_auth(lock.smartlock_id, auth_id, enabled=False)
    code, out = await run("sweep", "run", "--json")
    assert code == 0, out
    assert json.loads(out)["to_entities"] == 1
    view = await until(
        lambda: flow.auth_state(lock.smartlock_id, auth_id),
        lambda v: v.status is EntityStatus.DRIFTED,
        "the drift",
    )
    assert view.drift == ["enabled"]
