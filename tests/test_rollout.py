"""Fleet rollouts against a real Temporal dev server and the fake Nuki cloud over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Replayer, Worker

from nukiflow.activities.nuki_client import NukiClient
from nukiflow.client import NukiFlow
from nukiflow.contracts import search_attributes as sa
from nukiflow.contracts.auth import AuthFields, AuthPatch
from nukiflow.contracts.rollout import (
    ROLLOUT_INPUT_INVALID,
    FailurePolicy,
    ItemStatus,
    ReportLimits,
    RolloutInput,
    RolloutItem,
    RolloutOp,
    RolloutOptions,
    RolloutPlan,
    RolloutReport,
    RolloutState,
    pack_items,
)
from nukiflow.fleet import (
    Fleet,
    FleetError,
    RolloutConflictError,
)
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.server import SimulatorServer
from nukiflow.simulator.settings import Faults
from nukiflow.workflows.rollout import RolloutWorkflow
from tests.conftest import TOKEN, StartWorker, sim_settings

StartFleetWorker = StartWorker

# Timings scaled to the fake cloud's 0.1 s device delay.
FAST = RolloutOptions(
    max_in_flight=20,
    heartbeat_seconds=2,
    item_wait_seconds=3,
    item_poll_initial_seconds=0.2,
    item_poll_max_seconds=0.5,
    drain_seconds=5,
)


@pytest.fixture
def start_fleet_worker(start_worker: StartWorker) -> StartWorker:
    """Workers with every nukiflow workflow, fleet ones included (the shared fixture)."""
    return start_worker


@pytest.fixture
async def fleet_worker(worker: Worker) -> Worker:
    return worker


@pytest.fixture
def fleet(flow: NukiFlow) -> Fleet:
    return Fleet(flow)


def codes(n: int, first: int = 511111) -> list[int]:
    """n valid keypad codes (digits 1-9 only)."""
    out: list[int] = []
    value = first
    while len(out) < n:
        if "0" not in str(value):
            out.append(value)
        value += 1
    return out


async def _locks_with_auths(
    sim: SimulatorControl, locks: int, auths_per_lock: int
) -> dict[int, list[str]]:
    result: dict[int, list[str]] = {}
    pool = iter(codes(locks * auths_per_lock, 611111))
    for _ in range(locks):
        lock = await sim.add_lock()
        result[lock.smartlock_id] = [
            (await sim.add_auth(lock.smartlock_id, name=f"a{i}", code=next(pool))).id
            for i in range(auths_per_lock)
        ]
    return result


def _update(lock: int, auth_id: str, **fields: object) -> RolloutItem:
    return RolloutItem(
        op=RolloutOp.UPDATE, smartlock_id=lock, auth_id=auth_id, patch=AuthPatch(**fields)
    )


def _create(lock: int, name: str, code: int) -> RolloutItem:
    return RolloutItem(
        op=RolloutOp.CREATE, smartlock_id=lock, create=AuthFields(name=name, code=code)
    )


def _delete(lock: int, auth_id: str) -> RolloutItem:
    return RolloutItem(op=RolloutOp.DELETE, smartlock_id=lock, auth_id=auth_id)


async def test_small_rollout_applies_every_item(
    fleet: Fleet, sim: SimulatorControl, fleet_worker: Worker
) -> None:
    locks = await _locks_with_auths(sim, 2, 2)
    (l1, a1), (l2, a2) = ((lock, ids) for lock, ids in locks.items())
    new_codes = codes(3, 711111)
    plan = RolloutPlan(
        items=[
            _update(l1, a1[0], code=new_codes[0]),
            _create(l1, "guest", new_codes[1]),
            _delete(l2, a2[0]),
            _update(l2, a2[1], name="renamed"),
        ],
        options=FAST,
    )
    rollout = await fleet.apply_rollout(plan)
    report = await rollout.result()
    assert report.state is RolloutState.COMPLETED, report.not_applied
    assert report.totals.applied == 4 and report.not_applied == []
    assert list(report.created) == [1]
    created = report.created[1]
    device1 = await sim.device(l1)
    assert {a.id: a.code for a in device1.auths}[a1[0]] == new_codes[0]
    assert created in {a.id for a in device1.auths}
    device2 = await sim.device(l2)
    assert [a.id for a in device2.auths] == [a2[1]]
    assert device2.auths[0].name == "renamed"


async def _wait_until(
    check: Callable[[], Awaitable[bool]], within: float = 30, what: str = "condition"
) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


# 200 auths on 20 locks; NUKIFLOW_TEST_ITEMS_PER_LOCK scales it for experiments.
LOCKS = 20
ITEMS_PER_LOCK = int(os.environ.get("NUKIFLOW_TEST_ITEMS_PER_LOCK", "10"))


async def test_rollout_across_20_locks_through_5xx_423_and_an_offline_lock(
    fleet: Fleet, sim: SimulatorControl, nuki: NukiClient, fleet_worker: Worker
) -> None:
    """Updates, deletes and creates on 20 locks; 5xx on the API, 423s from a foreign write
    held by an offline lock; the report names exactly the two items that cannot work.

    The offline lock also answers slowly, as everything is slow on a loaded machine: every
    precondition below is an event the fake cloud makes happen, never a pause that hopes the
    worker got there in time."""
    updates, deletes = ITEMS_PER_LOCK - 3, 1
    locks = await _locks_with_auths(sim, LOCKS, updates + deletes)
    lock_ids = list(locks)
    fresh = iter(codes(LOCKS * ITEMS_PER_LOCK, 711111))
    items: list[RolloutItem] = []
    expected_codes: dict[tuple[int, str], int] = {}
    deleted: set[tuple[int, str]] = set()
    for lock, auths in locks.items():
        for auth_id in auths[:updates]:
            code = next(fresh)
            expected_codes[(lock, auth_id)] = code
            items.append(_update(lock, auth_id, code=code))
        for auth_id in auths[updates:]:
            deleted.add((lock, auth_id))
            items.append(_delete(lock, auth_id))
        items.append(_create(lock, f"new {lock % 1000}", next(fresh)))
        items.append(_create(lock, f"guest {lock % 1000}", next(fresh)))
    # Two items that must fail, each with its reason: an auth that does not exist, and a create
    # whose code someone else's auth already uses on that lock.
    missing, bad_update = "0" * 24, 1
    del expected_codes[(lock_ids[0], locks[lock_ids[0]][bad_update])]
    items[bad_update] = _update(lock_ids[0], missing, name="ghost")
    taken = next(fresh)
    await sim.add_auth(lock_ids[1], name="owner", code=taken)
    bad_create = 2 * ITEMS_PER_LOCK - 1
    items[bad_create] = _create(lock_ids[1], "conflict", taken)
    assert len(items) == LOCKS * ITEMS_PER_LOCK

    # 5xx on every lock but two: the conflict's (its reason is asserted below; a 5xx on its
    # create would only add a window of looking first) and one lock offline for seconds,
    # holding a foreign write to the auth its first item updates: that item's write answers 423.
    await sim.set_settings(sim_settings(lock_race_writes=1))
    offline = lock_ids[3]
    await sim.set_faults(Faults(offline_mode="hold"), offline)
    await sim.set_online(offline, False)
    await nuki.update_auth(offline, locks[offline][0], AuthFields(name="foreign").to_update())
    await sim.set_faults(Faults(offline_mode="hold", slow_response=2.5), offline)
    await sim.set_faults(Faults(server_error_rate=0.1))
    await sim.set_faults(Faults(), lock_ids[1])

    rollout = await fleet.apply_rollout(RolloutPlan(items=items, options=FAST))

    # The offline lock's first item writes to the auth the foreign write holds: its first
    # write attempt answers 423 whenever it comes (the fake cloud holds the foreign write until
    # the lock is back), so wait for that, not for time to pass.
    async def locked_out() -> bool:
        return any(
            r.status == 423 and r.path.startswith(f"/smartlock/{offline}/")
            for r in await sim.requests()
        )

    await _wait_until(locked_out, within=60, what="the offline lock's item to meet its 423")
    await sim.set_faults(Faults(offline_mode="hold"), offline)
    progress = await rollout.progress(statuses=[ItemStatus.RUNNING])
    assert any(i.smartlock_id == offline for i in progress.items), "offline lock is waited for"
    await sim.set_online(offline, True)
    report = await asyncio.wait_for(rollout.result(), timeout=120)

    assert report.state is RolloutState.COMPLETED_WITH_FAILURES
    assert report.totals.total == len(items)
    assert report.totals.applied == len(items) - 2
    assert {i.index for i in report.not_applied} == {bad_update, bad_create}
    by_index = {i.index: i for i in report.not_applied}
    assert by_index[bad_update].status is ItemStatus.FAILED
    assert "not found" in (by_index[bad_update].reason or "")
    assert "already uses this keypad code" in (by_index[bad_create].reason or "")
    assert str(taken) not in (by_index[bad_create].reason or "")
    assert len(report.created) == len(set(report.created.values())) == 2 * LOCKS - 1

    records = await sim.requests()
    assert any(r.status >= 500 for r in records), "5xx were injected"
    assert any(r.status == 423 for r in records), "423s were provoked"
    for lock in lock_ids:
        device = await sim.device(lock)
        held = {a.id: a for a in device.auths}
        for (owner, auth_id), code in expected_codes.items():
            if owner == lock:
                assert held[auth_id].code == code
        assert not any((lock, a) in deleted for a in held)
        names = [a.name for a in device.auths if a.name.startswith(("new", "guest"))]
        assert len(names) == len(set(names)) == (1 if lock == lock_ids[1] else 2)


async def test_pause_resume_and_progress(
    fleet: Fleet, sim: SimulatorControl, fleet_worker: Worker, temporal_client: Client
) -> None:
    locks = await _locks_with_auths(sim, 3, 4)
    await sim.set_faults(Faults(device_delay=0.3))
    # One lock is offline and holds what it is sent: its items cannot all be done before the
    # pause, however fast the others go (per lock one item at a time).
    held = list(locks)[-1]
    await sim.set_faults(Faults(device_delay=0.3, offline_mode="hold"), held)
    await sim.set_online(held, False)
    items = [
        _update(lock, auth_id, name=f"p{n}")
        for lock, auths in locks.items()
        for n, auth_id in enumerate(auths)
    ]
    options = FAST.model_copy(update={"max_in_flight": 2})
    rollout = await fleet.apply_rollout(
        RolloutPlan(name="pause test", items=items, options=options)
    )

    async def some_applied() -> bool:
        return (await rollout.progress(limit=0)).totals.applied >= 2

    await _wait_until(some_applied, what="two applied items")
    paused = await rollout.pause("maintenance window")
    assert paused.state is RolloutState.PAUSED
    await sim.set_online(held, True)

    async def drained() -> bool:
        return (await rollout.progress(limit=0)).totals.running == 0

    await _wait_until(drained, what="in-flight items to finish")
    before = await rollout.progress(limit=0)
    writes_before = len([r for r in await sim.requests() if r.method == "POST"])
    await asyncio.sleep(1.0)
    still = await rollout.progress(limit=0)
    assert still.totals == before.totals and still.totals.pending > 0
    assert len([r for r in await sim.requests() if r.method == "POST"]) == writes_before
    description = await rollout.handle.describe()
    assert description.typed_search_attributes.get(sa.STATUS) == "paused"
    assert description.typed_search_attributes.get(sa.KIND) == "rollout"

    # Progress pages and filters.
    page = await rollout.progress(offset=1, limit=3)
    assert [i.index for i in page.items] == [1, 2, 3] and page.matched == 12
    pending = await rollout.progress(statuses=[ItemStatus.PENDING], limit=100)
    assert pending.matched == before.totals.pending
    assert all(i.status is ItemStatus.PENDING for i in pending.items)

    resumed = await rollout.resume()
    assert resumed.state is RolloutState.RUNNING
    seen: list[int] = []
    async for progress in rollout.watch(interval=0.1):
        seen.append(progress.totals.applied)
    assert seen[-1] == 12 and seen == sorted(seen)
    report = await rollout.result()
    assert report.state is RolloutState.COMPLETED and report.name == "pause test"
    status = await rollout.status()
    assert status.state is RolloutState.COMPLETED and status.items == []
    with pytest.raises(FleetError, match=r"not running|can no longer be paused"):
        await rollout.pause()


async def test_cancel_skips_what_has_not_started(
    fleet: Fleet, sim: SimulatorControl, fleet_worker: Worker
) -> None:
    locks = await _locks_with_auths(sim, 2, 5)
    await sim.set_faults(Faults(device_delay=0.3))
    # The second lock holds what it is sent while offline. One item at a time, the locks with
    # most items left first: the first lock's first item is applied, then the second lock's
    # first item waits on it, so the cancel finds items not started, however fast things go.
    _, second = locks
    await sim.set_faults(Faults(device_delay=0.3, offline_mode="hold"), second)
    await sim.set_online(second, False)
    items = [
        _update(lock, auth_id, enabled=False) for lock, auths in locks.items() for auth_id in auths
    ]
    rollout = await fleet.apply_rollout(
        RolloutPlan(items=items, options=FAST.model_copy(update={"max_in_flight": 1}))
    )

    async def one_applied_one_held() -> bool:
        progress = await rollout.progress(statuses=[ItemStatus.RUNNING])
        return progress.totals.applied >= 1 and any(
            i.smartlock_id == second for i in progress.items
        )

    await _wait_until(one_applied_one_held, what="one applied item and one held")
    cancelling = await rollout.cancel("wrong plan")
    assert cancelling.state is RolloutState.CANCELLING
    await sim.set_online(second, True)
    report = await rollout.result()
    assert report.state is RolloutState.CANCELLED
    assert report.stop_reason == "cancelled: wrong plan"
    t = report.totals
    assert t.applied >= 1 and t.skipped >= 1 and t.applied + t.skipped == 10
    skipped = [i for i in report.not_applied if i.status is ItemStatus.SKIPPED]
    assert all(
        "not started: the rollout was cancelled: wrong plan" in (i.reason or "") for i in skipped
    )
    # Nothing is written after the report.
    writes = len([r for r in await sim.requests() if r.method == "POST"])
    await asyncio.sleep(0.5)
    assert len([r for r in await sim.requests() if r.method == "POST"]) == writes
    devices = [await sim.device(lock) for lock in locks]
    disabled = sum(not a.enabled for device in devices for a in device.auths)
    assert disabled == t.applied


async def test_stop_at_first_failure(
    fleet: Fleet, sim: SimulatorControl, fleet_worker: Worker
) -> None:
    locks = await _locks_with_auths(sim, 1, 4)
    ((lock, auths),) = locks.items()
    items = [_update(lock, auths[0], name="ok"), _update(lock, "0" * 24, name="x")]
    items += [_update(lock, a, name="later") for a in auths[1:]]
    options = FAST.model_copy(update={"on_failure": FailurePolicy.STOP})
    report = await (await fleet.apply_rollout(RolloutPlan(items=items, options=options))).result()
    assert report.state is RolloutState.STOPPED
    assert report.stop_reason is not None and report.stop_reason.startswith("item 1 failed")
    assert [i.status for i in report.not_applied] == [ItemStatus.FAILED] + [ItemStatus.SKIPPED] * 3
    assert report.totals.applied == 1


async def test_resubmitting_attaches_and_a_different_plan_is_refused(
    fleet: Fleet, sim: SimulatorControl, fleet_worker: Worker, temporal_client: Client
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    await sim.set_faults(Faults(device_delay=0.3))
    plan = RolloutPlan(
        items=[_create(lock, f"c{i}", c) for i, c in enumerate(codes(3))], options=FAST
    )
    first = await fleet.apply_rollout(plan)
    second = await fleet.apply_rollout(plan)
    assert not first.attached and second.attached and first.id == second.id
    assert first.id.startswith("nuki-rollout-")
    # The id does not depend on the codes (ids are plain text), so a plan that differs only in
    # a code gets the same id, and is refused instead of attaching to the wrong rollout.
    other = RolloutPlan(
        items=[_create(lock, f"c{i}", c) for i, c in enumerate(codes(3, 522222))], options=FAST
    )
    assert other.workflow_id() == plan.workflow_id()
    with pytest.raises(RolloutConflictError, match="different plan"):
        await fleet.apply_rollout(other)
    report = await second.result()
    assert report.totals.applied == 3
    # Finished: re-submitting attaches to its report, nothing runs again.
    again = await fleet.apply_rollout(plan)
    assert again.attached and await again.result() == report
    assert len((await sim.device(lock)).auths) == 3
    named = await fleet.apply_rollout(other, rollout_id="other-codes")
    assert named.id == "nuki-rollout-other-codes" and not named.attached
    assert (await named.result()).totals.applied == 3
    assert len((await sim.device(lock)).auths) == 6
    # Visibility lists a run a moment after it started: once it lists the latest, it lists all.
    latest = (await first.handle.describe()).run_id
    runs_query = f"WorkflowId = '{first.id}'"

    async def latest_listed() -> bool:
        return latest in [w.run_id async for w in temporal_client.list_workflows(runs_query)]

    await _wait_until(latest_listed, what="the rollout's latest run to be listed")
    runs = [w async for w in temporal_client.list_workflows(runs_query)]
    assert len(runs) == 1


# A worker process built as the suite's fixture builds one (the suite's codec key, the fast
# item timings, so a dead worker's activities time out within seconds), to be killed mid-rollout.
ROOT = Path(__file__).resolve().parent.parent
_WORKER_PROCESS = """
import asyncio
import sys
from datetime import timedelta

from temporalio.client import Client

from nukiflow.activities.nuki_client import NukiClient
from nukiflow.client import NukiFlow
from nukiflow.temporal.converter import data_converter
from nukiflow.temporal.worker import build_worker
from tests.conftest import CODEC_KEYS, FAST_TIMING


async def main(address: str, task_queue: str, nuki_url: str, token: str) -> None:
    client = await Client.connect(address, data_converter=data_converter(CODEC_KEYS))
    async with NukiClient(token, nuki_url) as nuki:
        flow = NukiFlow(client, task_queue=task_queue, timing=FAST_TIMING)
        # A dead worker's cached workflows move on to the others after this long.
        sticky = timedelta(seconds=1)
        worker = build_worker(
            client, nuki, task_queue, flow=flow, sticky_queue_schedule_to_start_timeout=sticky
        )
        async with worker:
            print("polling", flush=True)
            await asyncio.Event().wait()


asyncio.run(main(*sys.argv[1:]))
"""


async def test_worker_crash_mid_rollout_creates_nothing_twice(
    fleet: Fleet,
    sim: SimulatorControl,
    simulator: SimulatorServer,
    temporal_client: Client,
    task_queue: str,
    start_fleet_worker: StartFleetWorker,
) -> None:
    """The worker process running the rollout is killed (SIGKILL: no shutdown, its activities
    and cached workflows just vanish) while creates are in flight; a new worker finishes the
    rollout and every create reaches the lock exactly once."""
    locks = [(await sim.add_lock()).smartlock_id for _ in range(6)]
    await sim.set_faults(Faults(device_delay=0.4))
    pool = iter(codes(18))
    items = [_create(lock, f"n{i}", next(pool)) for lock in locks for i in range(3)]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _WORKER_PROCESS,
        temporal_client.service_client.config.target_host,
        task_queue,
        simulator.base_url,
        TOKEN,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert line == b"polling\n", line + await process.stdout.read()
        rollout = await fleet.apply_rollout(RolloutPlan(items=items, options=FAST))

        async def accepted() -> int:
            return sum(r.method == "PUT" and r.status == 204 for r in await sim.requests())

        async def creates_sent() -> bool:
            return await accepted() >= 4

        try:
            await _wait_until(creates_sent, what="creates to reach the fake cloud")
        except AssertionError:
            process.kill()
            raise AssertionError((await process.stdout.read()).decode()) from None
        process.kill()
        await asyncio.wait_for(process.wait(), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == -signal.SIGKILL
    # Mid-rollout: the new worker has creates left to send.
    assert (sent_at_crash := await accepted()) < 18

    await start_fleet_worker()
    report = await asyncio.wait_for(rollout.result(), timeout=90)
    assert report.state is RolloutState.COMPLETED, report.not_applied
    assert report.totals.applied == 18 and len(set(report.created.values())) == 18
    for lock in locks:
        names = sorted(a.name for a in (await sim.device(lock)).auths)
        assert names == ["n0", "n1", "n2"]
    sent = await accepted()
    assert sent > sent_at_crash and sent == 18, "every create was sent exactly once"


async def test_continue_as_new_keeps_progress_and_history_bounded(
    fleet: Fleet, sim: SimulatorControl, fleet_worker: Worker, temporal_client: Client
) -> None:
    """Small runs force several continue-as-new; an offline lock's creates are in flight at a
    rollover, withdrawn, and re-sent by the next run without creating anything twice."""
    locks = await _locks_with_auths(sim, 3, 8)
    offline = (await sim.add_lock()).smartlock_id
    await sim.set_faults(Faults(offline_mode="hold"), offline)
    await sim.set_online(offline, False)
    items = [
        _update(lock, auth_id, name=f"u{n}")
        for lock, auths in locks.items()
        for n, auth_id in enumerate(auths)
    ]
    items += [_create(offline, f"held{i}", c) for i, c in enumerate(codes(2))]
    options = FAST.model_copy(update={"max_items_per_run": 5, "drain_seconds": 0.5, "per_lock": 2})
    rollout = await fleet.apply_rollout(RolloutPlan(items=items, options=options))

    async def updates_done() -> bool:
        return (await rollout.progress(limit=0)).totals.applied >= 24

    await _wait_until(updates_done, within=60, what="the online locks' items")
    progress = await rollout.progress(statuses=[ItemStatus.RUNNING, ItemStatus.PENDING])
    assert {i.smartlock_id for i in progress.items} == {offline}
    assert progress.runs >= 3
    await sim.set_online(offline, True)
    report = await asyncio.wait_for(rollout.result(), timeout=60)
    assert report.state is RolloutState.COMPLETED, report.not_applied
    assert report.runs >= 3
    assert sorted(a.name for a in (await sim.device(offline)).auths) == ["held0", "held1"]
    accepted = [r for r in await sim.requests() if r.method == "PUT" and r.status == 204]
    assert len(accepted) == 2
    # Every run's history stays small: continue-as-new carried the progress.
    lengths = []
    runs_query = f"WorkflowId = '{rollout.id}'"

    async def all_listed() -> bool:
        # Visibility lists a run once the server has written its record: a moment later.
        return len([e async for e in temporal_client.list_workflows(runs_query)]) >= report.runs

    await _wait_until(all_listed, what="every run of the rollout to be listed")
    async for execution in temporal_client.list_workflows(runs_query):
        handle = temporal_client.get_workflow_handle(rollout.id, run_id=execution.run_id)
        history = await handle.fetch_history()
        lengths.append(len(history.events))
        assert history.events[-1].event_type in (
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        )
    assert len(lengths) == report.runs
    assert max(lengths) < 150
    # Determinism: every run replays against the workflow code (withdrawals included).
    replayer = Replayer(workflows=[RolloutWorkflow], data_converter=temporal_client.data_converter)
    async for execution in temporal_client.list_workflows(f"WorkflowId = '{rollout.id}'"):
        handle = temporal_client.get_workflow_handle(rollout.id, run_id=execution.run_id)
        await replayer.replay_workflow(await handle.fetch_history())


async def test_temporal_cancel_still_reports(
    fleet: Fleet, sim: SimulatorControl, fleet_worker: Worker
) -> None:
    locks = await _locks_with_auths(sim, 1, 4)
    ((lock, auths),) = locks.items()
    # Offline, holding what it is sent: the first item cannot finish before the cancel.
    await sim.set_faults(Faults(device_delay=0.3, offline_mode="hold"), lock)
    await sim.set_online(lock, False)
    rollout = await fleet.apply_rollout(
        RolloutPlan(items=[_update(lock, a, name="z") for a in auths], options=FAST)
    )

    async def started() -> bool:
        return (await rollout.progress(limit=0)).totals.running >= 1

    await _wait_until(started, what="a running item")
    await rollout.handle.cancel()
    await sim.set_online(lock, True)
    report: RolloutReport = await rollout.result()
    assert report.state is RolloutState.CANCELLED
    assert report.totals.skipped >= 1
    assert (await rollout.handle.describe()).status is WorkflowExecutionStatus.COMPLETED


async def test_a_plan_file_through_the_facade(
    fleet: Fleet, sim: SimulatorControl, fleet_worker: Worker, tmp_path: Path
) -> None:
    locks = await _locks_with_auths(sim, 2, 1)
    (l1, (a1,)), (l2, (a2,)) = locks.items()
    path = tmp_path / "plan.yaml"
    path.write_text(
        f"""\
name: file plan
tz: Europe/Berlin
items:
  - op: update
    smartlock_ids: [{l1}]
    auth_id: "{a1}"
    until: 2030-03-31T12:00
  - op: create
    smartlock_ids: [{l1}, {l2}]
    name: visitor
    code: 533333
"""
    )
    rollout = await fleet.apply_rollout(path, options={"per_lock": 2})
    report = await rollout.result()
    assert report.state is RolloutState.COMPLETED and report.name == "file plan"
    assert sorted(report.created) == [1, 2]
    device = {a.id: a for a in (await sim.device(l1)).auths}
    assert device[a1].allowed_until_date == datetime(2030, 3, 31, 10, tzinfo=UTC)  # CEST
    assert any(a.name == "visitor" for a in (await sim.device(l2)).auths)
    assert a2 in {a.id for a in (await sim.device(l2)).auths}


async def test_every_item_not_applied_is_reachable_beyond_the_reports_limits(
    flow: NukiFlow, sim: SimulatorControl, fleet_worker: Worker
) -> None:
    """The workflow's result lists a bounded number of items (lowered here to 3 failures and
    2 new auths); the complete report, status and item pages (2 items a page here) name every
    one, read from the final run of a rollout that continued as new."""
    fleet = Fleet(flow, report_limits=ReportLimits(items=3, creates=2))
    locks = [(await sim.add_lock()).smartlock_id for _ in range(4)]
    items: list[RolloutItem] = []
    for n, lock in enumerate(locks):
        items.append(_update(lock, f"{n:024x}", name="ghost"))
        items.append(_create(lock, f"new {n}", codes(4, 711111)[n]))
        items.append(_update(lock, f"{n + 10:024x}", name="ghost"))
    failing = [i for i, item in enumerate(items) if item.op is RolloutOp.UPDATE]
    options = FAST.model_copy(update={"max_items_per_run": 4, "per_lock": 2})
    rollout = await fleet.apply_rollout(RolloutPlan(items=items, options=options))

    result = await asyncio.wait_for(rollout.result(), timeout=60)
    assert result.state is RolloutState.COMPLETED_WITH_FAILURES and result.runs >= 2
    assert [i.index for i in result.not_applied] == failing[:3]
    assert result.not_applied_omitted == len(failing) - 3
    assert len(result.created) == 2 and result.created_omitted == 2

    report = await rollout.report(page_size=2)
    assert report.not_applied_omitted == 0 and report.created_omitted == 0
    assert [i.index for i in report.not_applied] == failing
    assert all(i.status is ItemStatus.FAILED for i in report.not_applied)
    assert all("not found" in (i.reason or "") for i in report.not_applied)
    assert report.not_applied[:3] == result.not_applied
    assert sorted(report.created) == [1, 4, 7, 10]
    assert {k: v for k, v in report.created.items() if k in result.created} == result.created
    for index, auth_id in report.created.items():
        device = await sim.device(items[index].smartlock_id)
        assert auth_id in {a.id for a in device.auths}

    everything = await rollout.status(limit=None, page_size=2)
    assert [i.index for i in everything.items] == failing and everything.matched == len(failing)
    some = await rollout.status(limit=5, page_size=2)
    assert [i.index for i in some.items] == failing[:5] and some.matched == len(failing)
    listed = [i async for i in rollout.items(page_size=5)]
    assert [i.index for i in listed] == list(range(len(items)))
    creates = await rollout.progress(statuses=[ItemStatus.APPLIED], ops=[RolloutOp.CREATE])
    assert [i.index for i in creates.items] == [1, 4, 7, 10]


BAD_INPUTS = {
    # More items announced than packed.
    "count": lambda lock: RolloutInput(
        rollout_id="bad-count", count=3, items_packed=pack_items([_delete(lock, "a" * 24)])
    ),
    # Bytes that are no packed plan.
    "bytes": lambda lock: RolloutInput(rollout_id="bad-bytes", count=1, items_packed=b"plan"),
    # An item no version of nukiflow accepted: an update naming no auth.
    "item": lambda lock: RolloutInput(
        rollout_id="bad-item",
        count=1,
        items_packed=zlib.compress(json.dumps([{"op": "update", "smartlock_id": lock}]).encode()),
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
async def test_an_input_without_a_plan_that_can_run_fails_the_workflow(
    case: str, temporal_client: Client, task_queue: str, fleet_worker: Worker
) -> None:
    """Not a workflow task failing over and over: the workflow fails, and says why."""
    handle = await temporal_client.start_workflow(
        RolloutWorkflow.run,
        BAD_INPUTS[case](4242),
        id=f"nuki-rollout-bad-{case}-{task_queue}",
        task_queue=task_queue,
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await asyncio.wait_for(handle.result(), timeout=30)
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == ROLLOUT_INPUT_INVALID
    assert cause.non_retryable and "holds no plan that can run" in cause.message
    assert {"count": "announces", "bytes": "zlib", "item": "auth_id"}[case] in cause.message
    assert (await handle.describe()).status is WorkflowExecutionStatus.FAILED
