"""The chaos suite's four scenarios. Each draws its random choices from its own generator
(seeded from the run's seed and its name) before anything runs, drives real callers through
the facade, breaks things on the way, then compares every answer with the fake devices.

(a) lock actions while the worker process is SIGKILLed, at random moments and right after an
    action's POST reached the fake cloud (its answer held back), one lock offline for a while;
(b) a rollout while the worker process is SIGKILLed the same way;
(c) auth changes while the Temporal server is SIGKILLed and restarted on the same database;
(d) auth changes under the fault matrix: 5xx 20 %, 429 with Retry-After, lost updates 10 %,
    ghost deletes, 502 after commit, lost creates, one lock offline holding and one dropping.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio.common import WorkflowIDConflictPolicy

from bench.chaos_stack import TIMING, FaultPlan, KillPlan, Stack, Workers, lock_of, run_kills
from bench.chaos_truth import (
    ActionCall,
    ChangeCall,
    Tally,
    attribute_executions,
    device_auths,
    drain,
    judge_actions,
    judge_changes,
    persist,
    status_of,
)
from nukiflow.client import NukiFlow
from nukiflow.contracts.action import (
    ActionName,
    ActionTiming,
    LockActionsInput,
    lock_workflow_id,
    spec_of,
)
from nukiflow.contracts.auth import AuthFields, AuthPatch
from nukiflow.contracts.rollout import RolloutItem, RolloutOp, RolloutOptions, RolloutPlan
from nukiflow.fleet import Fleet
from nukiflow.simulator import Faults, SimulatorControl
from nukiflow.workflows.lock_actions import LockActionsWorkflow

# Never the same action twice in a row on a lock: a late execution still finds its own call.
ACTION_CYCLE = (
    ActionName.UNLOCK,
    ActionName.LOCK,
    ActionName.UNLATCH,
    ActionName.LOCK_N_GO,
    ActionName.LOCK_N_GO_UNLATCH,
)
# One send attempt may take this long: a send cut short by a kill is retried after it.
ACTION_TIMING = ActionTiming(call_timeout_seconds=5.0)
# Auth changes: long enough that every change settles despite the faults and an offline minute.
CHANGE_DEADLINE = timedelta(minutes=10)
ROLLOUT_OPTIONS = RolloutOptions(
    max_in_flight=20,
    heartbeat_seconds=2,
    item_wait_seconds=3,
    item_poll_initial_seconds=0.2,
    item_poll_max_seconds=0.5,
    drain_seconds=5,
    item_deadline_seconds=CHANGE_DEADLINE.total_seconds(),
)


@dataclass(frozen=True)
class Size:
    """How big each scenario is (the full suite, or the short one CI runs)."""

    action_locks: int
    actions_per_lock: int
    action_kills: int
    action_offline_seconds: float
    rollout_locks: int
    rollout_updates: int
    rollout_creates: int
    rollout_deletes: int
    rollout_kills: int
    restart_locks: int
    restart_auths: int
    restart_updates: int
    restarts: int
    matrix_locks: int
    matrix_auths: int
    matrix_updates: int
    matrix_creates: int
    matrix_deletes: int
    matrix_offline_seconds: float
    budget_seconds: float


FULL = Size(
    action_locks=10,
    actions_per_lock=12,
    action_kills=10,
    action_offline_seconds=8.0,
    rollout_locks=30,
    rollout_updates=6,
    rollout_creates=2,
    rollout_deletes=2,
    rollout_kills=6,
    restart_locks=8,
    restart_auths=2,
    restart_updates=3,
    restarts=2,
    matrix_locks=10,
    matrix_auths=3,
    matrix_updates=5,
    matrix_creates=3,
    matrix_deletes=2,
    matrix_offline_seconds=60.0,
    budget_seconds=420.0,
)
SHORT = Size(
    action_locks=4,
    actions_per_lock=5,
    action_kills=3,
    action_offline_seconds=3.0,
    rollout_locks=10,
    rollout_updates=3,
    rollout_creates=2,
    rollout_deletes=1,
    rollout_kills=2,
    restart_locks=4,
    restart_auths=1,
    restart_updates=3,
    restarts=2,
    matrix_locks=5,
    matrix_auths=2,
    matrix_updates=3,
    matrix_creates=1,
    matrix_deletes=1,
    matrix_offline_seconds=10.0,
    budget_seconds=180.0,
)


class Codes:
    """Keypad codes no two auths of a scenario share (digits 1-9, not starting with 12; Nuki
    wants a code once per lock, and every scenario has locks of its own)."""

    def __init__(self) -> None:
        self._next = 311111

    def take(self) -> int:
        while True:
            value = self._next
            self._next += 1
            if "0" not in str(value):
                return value


async def _within(budget: float, tasks: list[asyncio.Task[None]]) -> None:
    """Wait for the callers until the budget is spent; the rest are cancelled (unanswered)."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=budget)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


async def _offline_window(
    sim: SimulatorControl, lock: int, after: float, seconds: float, stop: asyncio.Event
) -> None:
    """Take the lock offline ``after`` seconds from now for ``seconds`` (or until ``stop``)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=after)
    if stop.is_set():
        return
    await sim.set_online(lock, False)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), timeout=seconds)
    finally:
        await sim.set_online(lock, True)


async def _finish(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        if not task.done():
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# -- (a) lock actions under worker kills ---------------------------------------------------------


async def actions_under_kills(stack: Stack, seed: int, size: Size, workdir: Path) -> Tally:
    tally = Tally("(a) lock actions, worker SIGKILLs")
    rng = random.Random(f"{seed}:actions")
    sim, client = stack.sim, stack.client
    task_queue = "chaos-actions-" + uuid.uuid4().hex[:8]
    locks = [(await sim.add_lock()).smartlock_id for _ in range(size.action_locks)]
    faults = FaultPlan(
        {
            lock: Faults(
                server_error_rate=0.05,
                server_error_after_commit_rate=0.05,
                rate_limit_rate=0.03,
                retry_after=1,
            )
            for lock in locks
        }
    )
    offline = locks[-1]
    faults.base[offline] = faults.base[offline].model_copy(update={"offline_mode": "hold"})
    await faults.apply(sim)
    for lock in locks:
        # Started here so its workflow carries the suite's timing (the facade attaches to it).
        await client.start_workflow(
            LockActionsWorkflow.run,
            LockActionsInput(smartlock_id=lock, timing=TIMING, action_timing=ACTION_TIMING),
            id=lock_workflow_id(lock),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary=f"actions on smartlock {lock}",
        )
    # Per lock: its first action, and each action's deadline (mostly roomy, some tight).
    plans = {
        lock: (
            random.Random(f"{seed}:actions:{lock}"),
            rng.randrange(len(ACTION_CYCLE)),
        )
        for lock in locks
    }
    kill_plan = KillPlan.draw(rng, size.action_kills, (1.0, 3.0))
    offline_after = rng.uniform(2.0, 6.0)
    flow = NukiFlow(client, task_queue=task_queue, timing=TIMING)
    workers = Workers(stack, task_queue, workdir / "worker-actions.log")
    calls: list[ActionCall] = []
    stop = asyncio.Event()
    kills_done = asyncio.Event()

    async def caller(lock: int) -> None:
        lock_rng, first = plans[lock]
        number = 0
        while number < size.actions_per_lock or not kills_done.is_set():
            name = ACTION_CYCLE[(first + number) % len(ACTION_CYCLE)]
            seconds = (
                lock_rng.uniform(2.0, 5.0) if lock_rng.random() < 0.25 else lock_rng.uniform(10, 30)
            )
            number += 1
            started = time.monotonic()
            call = ActionCall(
                lock=lock,
                number=number,
                action=name.value,
                code=int(spec_of(name).code),
                request_id=f"chaos-{lock}-{number}-{uuid.uuid4().hex[:8]}",
                started=started,
                deadline_at=started + seconds,
            )
            calls.append(call)

            async def act(call: ActionCall = call, name: ActionName = name) -> object:
                left = max(call.deadline_at - time.monotonic(), 0.001)
                return await flow.action(
                    call.lock, name, request_id=call.request_id, deadline=timedelta(seconds=left)
                )

            try:
                outcome = await persist(act)
            except Exception as exc:  # a traceback instead of an answer: counted unanswered
                call.reason = f"the call raised {exc!r}"
                continue
            call.status, call.answered = status_of(outcome), time.monotonic()
            call.reason = getattr(outcome, "reason", None)

    hits: list[str] = []

    async def kill_all() -> None:
        try:
            hits[:] = await run_kills(
                kill_plan,
                workers,
                sim,
                faults,
                lambda r: lock_of(r) in plans and "/action" in r.path,
                stop,
            )
        finally:
            kills_done.set()

    started = time.monotonic()
    await workers.start()
    helpers = [
        asyncio.create_task(kill_all()),
        asyncio.create_task(
            _offline_window(sim, offline, offline_after, size.action_offline_seconds, stop)
        ),
    ]
    try:
        await _within(size.budget_seconds, [asyncio.create_task(caller(lock)) for lock in locks])
    finally:
        stop.set()
        await _finish(helpers)
        await drain(sim, locks, within=30)
        await workers.stop()
        tally.count_kills(hits, workers.kills)
    tally.wall_seconds = time.monotonic() - started
    executed = {lock: (await sim.device(lock)).actions for lock in locks}
    attribute_executions(calls, executed, tally)
    judge_actions(calls, tally)
    tally.figures[f"lock offline (holding) for {size.action_offline_seconds:g} s"] = str(offline)
    confirmed = [c.answered - c.started for c in calls if c.status == "confirmed" and c.answered]
    if confirmed:
        tally.figures["confirmed in (median / max)"] = (
            f"{statistics.median(confirmed):.1f} / {max(confirmed):.1f} s"
        )
    return tally


# -- (b) a rollout under worker kills -------------------------------------------------------------


async def rollout_under_kills(stack: Stack, seed: int, size: Size, workdir: Path) -> Tally:
    tally = Tally("(b) rollout, worker SIGKILLs")
    rng = random.Random(f"{seed}:rollout")
    sim, client = stack.sim, stack.client
    task_queue = "chaos-rollout-" + uuid.uuid4().hex[:8]
    codes = Codes()
    items: list[RolloutItem] = []
    expected: list[ChangeCall] = []
    locks: list[int] = []
    for n in range(size.rollout_locks):
        lock = (await sim.add_lock()).smartlock_id
        locks.append(lock)
        seeded = [
            (await sim.add_auth(lock, name=f"r{i}", code=codes.take())).id
            for i in range(size.rollout_updates + size.rollout_deletes)
        ]
        for auth_id in seeded[: size.rollout_updates]:
            code = codes.take()
            items.append(
                RolloutItem(
                    op=RolloutOp.UPDATE,
                    smartlock_id=lock,
                    auth_id=auth_id,
                    patch=AuthPatch(code=code),
                )
            )
            expected.append(ChangeCall("update", lock, "", auth_id=auth_id, code=code))
        for i in range(size.rollout_creates):
            name, code = f"new {n}-{i}", codes.take()
            items.append(
                RolloutItem(
                    op=RolloutOp.CREATE,
                    smartlock_id=lock,
                    create=AuthFields(name=name, code=code),
                )
            )
            expected.append(ChangeCall("create", lock, "", name=name, code=code))
        for auth_id in seeded[size.rollout_updates :]:
            items.append(RolloutItem(op=RolloutOp.DELETE, smartlock_id=lock, auth_id=auth_id))
            expected.append(ChangeCall("delete", lock, "", auth_id=auth_id))
    faults = FaultPlan(
        {
            lock: Faults(
                server_error_rate=0.05,
                server_error_after_commit_rate=0.03,
                rate_limit_rate=0.02,
                retry_after=1,
                lost_update_rate=0.05,
                lost_create_rate=0.05,
            )
            for lock in locks
        }
    )
    await faults.apply(sim)
    lock_set = set(locks)
    kill_plan = KillPlan.draw(rng, size.rollout_kills, (0.5, 2.0))
    flow = NukiFlow(client, task_queue=task_queue, timing=TIMING)
    fleet = Fleet(flow)
    workers = Workers(stack, task_queue, workdir / "worker-rollout.log")
    stop = asyncio.Event()
    started = time.monotonic()
    await workers.start()
    killer = asyncio.create_task(
        run_kills(kill_plan, workers, sim, faults, lambda r: lock_of(r) in lock_set, stop)
    )
    plan = RolloutPlan(name=f"chaos {seed}", items=items, options=ROLLOUT_OPTIONS)
    rollout = await persist(lambda: fleet.apply_rollout(plan))
    try:
        # Kills come while the rollout runs (paced so that the plan's fit in a full run).
        report = await asyncio.wait_for(persist(rollout.result), size.budget_seconds)
    except TimeoutError:
        report = None
    finally:
        stop.set()
        hits = await killer
    if report is not None:
        states = {item.index: item async for item in rollout.items()}
        for index, call in enumerate(expected):
            item = states.get(index)
            if item is None:
                continue
            call.status = str(item.status.value)
            call.reason = item.reason
            if call.kind == "create":
                call.auth_id = report.created.get(index)
        tally.figures["rollout"] = f"{report.state.value} in {report.runs} run(s)"
    await workers.stop()
    tally.count_kills(hits, workers.kills)
    tally.wall_seconds = time.monotonic() - started
    await judge_changes(sim, [[call] for call in expected], tally)
    return tally


# -- auth changes, for (c) and (d) ---------------------------------------------------------------


async def _seed_changes(
    sim: SimulatorControl,
    codes: Codes,
    locks: list[int],
    *,
    auths: int,
    updates: int,
    creates: int,
    deletes: int,
) -> list[list[ChangeCall]]:
    """Chains of changes, each run by one caller one after the other: per seeded auth its
    updates, per lock its creates and its deletes of seeded auths."""
    chains: list[list[ChangeCall]] = []
    for n, lock in enumerate(locks):
        for i in range(auths):
            auth = await sim.add_auth(lock, name=f"u{i}", code=codes.take())
            chains.append(
                [
                    ChangeCall("update", lock, uuid.uuid4().hex, auth_id=auth.id, code=codes.take())
                    for _ in range(updates)
                ]
            )
        for i in range(creates):
            name = f"c{n}-{i}"
            chains.append(
                [ChangeCall("create", lock, uuid.uuid4().hex, name=name, code=codes.take())]
            )
        for i in range(deletes):
            auth = await sim.add_auth(lock, name=f"d{i}", code=codes.take())
            chains.append([ChangeCall("delete", lock, uuid.uuid4().hex, auth_id=auth.id)])
    return chains


async def _run_chain(
    flow: NukiFlow, sim: SimulatorControl, chain: list[ChangeCall], answered: Callable[[], None]
) -> None:
    for call in chain:
        call.started = time.monotonic()

        async def send(call: ChangeCall = call) -> object:
            if call.kind == "create":
                assert call.name is not None
                return await flow.create_auth(
                    call.lock,
                    name=call.name,
                    code=call.code,
                    request_id=call.request_id,
                    deadline=CHANGE_DEADLINE,
                )
            assert call.auth_id is not None
            if call.kind == "delete":
                return await flow.delete_auth(
                    call.lock, call.auth_id, request_id=call.request_id, deadline=CHANGE_DEADLINE
                )
            return await flow.update_auth(
                call.lock,
                call.auth_id,
                {"code": call.code},
                request_id=call.request_id,
                deadline=CHANGE_DEADLINE,
            )

        try:
            outcome = await persist(send)
        except Exception as exc:  # a traceback instead of an answer: counted unanswered
            call.reason = f"the call raised {exc!r}"
            return
        call.answer(outcome)
        call.held_at_answer = call.held_by(await device_auths(sim, call.lock))
        answered()


def _settle_figures(
    chains: list[list[ChangeCall]], tally: Tally, offline: frozenset[int] = frozenset()
) -> None:
    """How creates settle beside updates: seconds to the answer, writes and listings (on the
    locks that stayed online, when some did not)."""
    where = " (locks online)" if offline else ""
    for kind in ("create", "update"):
        done = [
            c
            for chain in chains
            for c in chain
            if c.kind == kind and c.answered and c.lock not in offline
        ]
        if not done:
            continue
        seconds = [c.answered - c.started for c in done if c.answered is not None]
        tally.figures[f"{kind}s answered in{where} (median / max)"] = (
            f"{statistics.median(seconds):.1f} / {max(seconds):.1f} s"
        )
        if kind == "create":
            tally.figures[f"create writes{where} (max), reads (median / max)"] = (
                f"{max(c.writes for c in done)}, "
                f"{statistics.median(c.reads for c in done):.0f} / {max(c.reads for c in done)}"
            )


# -- (c) Temporal server restarts ----------------------------------------------------------------


async def changes_through_restarts(stack: Stack, seed: int, size: Size, workdir: Path) -> Tally:
    tally = Tally("(c) auth changes, Temporal restarts")
    rng = random.Random(f"{seed}:restarts")
    sim = stack.sim
    task_queue = "chaos-restarts-" + uuid.uuid4().hex[:8]
    locks = [(await sim.add_lock()).smartlock_id for _ in range(size.restart_locks)]
    faults = FaultPlan(
        {lock: Faults(server_error_rate=0.05, lost_update_rate=0.05) for lock in locks}
    )
    await faults.apply(sim)
    chains = await _seed_changes(
        sim,
        Codes(),
        locks,
        auths=size.restart_auths,
        updates=size.restart_updates,
        creates=1,
        deletes=1,
    )
    total = sum(len(chain) for chain in chains)
    # Restart when this share of the answers is in: changes are running then, by construction.
    marks = sorted(rng.uniform(0.1, 0.8) for _ in range(size.restarts))
    downs = [rng.uniform(0.5, 2.0) for _ in range(size.restarts)]
    flow = NukiFlow(stack.client, task_queue=task_queue, timing=TIMING)
    workers = Workers(stack, task_queue, workdir / "worker-restarts.log")
    progress = asyncio.Event()
    answered = 0

    def one_more() -> None:
        nonlocal answered
        answered += 1
        progress.set()

    async def restarter() -> None:
        for mark, down in zip(marks, downs, strict=True):
            while answered < mark * total:
                progress.clear()
                await progress.wait()
            await stack.restart_temporal(down_seconds=down)
            tally.restarts += 1

    started = time.monotonic()
    await workers.start()
    stop = asyncio.Event()
    helpers = [asyncio.create_task(restarter()), asyncio.create_task(workers.watch(stop))]
    try:
        await _within(
            size.budget_seconds,
            [asyncio.create_task(_run_chain(flow, sim, chain, one_more)) for chain in chains],
        )
    finally:
        stop.set()
        await _finish(helpers)
        await workers.stop()
        tally.figures["worker processes that ended by themselves"] = str(workers.deaths)
    tally.wall_seconds = time.monotonic() - started
    await judge_changes(sim, chains, tally)
    _settle_figures(chains, tally)
    return tally


# -- (d) the fault matrix ------------------------------------------------------------------------


async def changes_under_fault_matrix(stack: Stack, seed: int, size: Size, workdir: Path) -> Tally:
    tally = Tally("(d) auth changes, fault matrix")
    rng = random.Random(f"{seed}:matrix")
    sim = stack.sim
    task_queue = "chaos-matrix-" + uuid.uuid4().hex[:8]
    locks = [(await sim.add_lock()).smartlock_id for _ in range(size.matrix_locks)]
    matrix = Faults(
        server_error_rate=0.2,
        rate_limit_rate=0.05,
        retry_after=1,
        lost_update_rate=0.1,
        ghost_delete_rate=0.1,
        server_error_after_commit_rate=0.05,
        lost_create_rate=0.1,
    )
    faults = FaultPlan({lock: matrix for lock in locks})
    holding, dropping = locks[-2], locks[-1]
    faults.base[holding] = matrix.model_copy(update={"offline_mode": "hold"})
    faults.base[dropping] = matrix.model_copy(update={"offline_mode": "drop"})
    await faults.apply(sim)
    chains = await _seed_changes(
        sim,
        Codes(),
        locks,
        auths=size.matrix_auths,
        updates=size.matrix_updates,
        creates=size.matrix_creates,
        deletes=size.matrix_deletes,
    )
    flow = NukiFlow(stack.client, task_queue=task_queue, timing=TIMING)
    workers = Workers(stack, task_queue, workdir / "worker-matrix.log")
    stop = asyncio.Event()
    offline = size.matrix_offline_seconds
    started = time.monotonic()
    await workers.start()
    helpers = [
        asyncio.create_task(_offline_window(sim, holding, rng.uniform(0.5, 3), offline, stop)),
        asyncio.create_task(_offline_window(sim, dropping, rng.uniform(0.5, 3), offline, stop)),
        asyncio.create_task(workers.watch(stop)),
    ]
    try:
        await _within(
            size.budget_seconds,
            [asyncio.create_task(_run_chain(flow, sim, chain, lambda: None)) for chain in chains],
        )
    finally:
        stop.set()
        await _finish(helpers)
        await workers.stop()
    tally.wall_seconds = time.monotonic() - started
    tally.figures["locks offline (one holding, one dropping)"] = f"{offline:g} s"
    await judge_changes(sim, chains, tally)
    _settle_figures(chains, tally)
    _settle_figures(chains, tally, offline=frozenset({holding, dropping}))
    return tally


Scenario = Callable[[Stack, int, Size, Path], Awaitable[Tally]]
SCENARIOS: dict[str, Scenario] = {
    "a": actions_under_kills,
    "b": rollout_under_kills,
    "c": changes_through_restarts,
    "d": changes_under_fault_matrix,
}
