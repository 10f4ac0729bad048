"""A benchmark rollout: the plan seeded on the fake cloud, the rollout run through nukiflow, and
what it cost (Nuki requests, history events, activities) and what the devices hold after it.

Shared by ``bench_rollout`` and ``bench_fleet``.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from temporalio.client import Client

from bench.fleet_parts import HistoryCount, codes, dev_server_pid, history_events, started_since
from bench.process_cpu import CpuMark
from bench.server_metrics import ServerOps, scrape_settled
from nukiflow.contracts.auth import AuthFields, AuthPatch
from nukiflow.contracts.rollout import RolloutItem, RolloutOp, RolloutOptions, RolloutPlan
from nukiflow.fleet import Fleet
from nukiflow.simulator import SimulatorControl
from nukiflow.simulator.control_models import RequestRecord


@dataclass(frozen=True)
class Shape:
    """Per lock: updates of existing auths, creates, deletes of existing auths."""

    updates: int
    creates: int
    deletes: int

    @property
    def per_lock(self) -> int:
        return self.updates + self.creates + self.deletes

    def alone(self) -> dict[str, Shape]:
        """Each change kind alone, with this shape's per-lock count of it."""
        return {
            "update": Shape(updates=self.updates, creates=0, deletes=0),
            "create": Shape(updates=0, creates=self.creates, deletes=0),
            "delete": Shape(updates=0, creates=0, deletes=self.deletes),
        }


@dataclass
class Expected:
    updated: dict[tuple[int, str], int]
    created: dict[int, set[str]]
    deleted: set[tuple[int, str]]
    # The names of the auths updated (a plain client sends the full auth).
    names: dict[tuple[int, str], str]


async def seed(
    sim: SimulatorControl, locks: int, shape: Shape
) -> tuple[list[RolloutItem], Expected]:
    """Locks with auths, and the plan: per lock its updates, then creates, then deletes."""
    pool = codes(shape.updates + shape.deletes + shape.updates + shape.creates)
    old, new = pool[: shape.updates + shape.deletes], pool[shape.updates + shape.deletes :]
    items: list[RolloutItem] = []
    expected = Expected(updated={}, created={}, deleted=set(), names={})
    for n in range(locks):
        lock = (await sim.add_lock()).smartlock_id
        auths = [
            (await sim.add_auth(lock, name=f"old {i}", code=code)).id for i, code in enumerate(old)
        ]
        for i, auth_id in enumerate(auths[: shape.updates]):
            code = new[i]
            expected.updated[(lock, auth_id)] = code
            expected.names[(lock, auth_id)] = f"old {i}"
            items.append(
                RolloutItem(
                    op=RolloutOp.UPDATE,
                    smartlock_id=lock,
                    auth_id=auth_id,
                    patch=AuthPatch(code=code),
                )
            )
        expected.created[lock] = set()
        for i in range(shape.creates):
            name = f"new {n}-{i}"
            expected.created[lock].add(name)
            items.append(
                RolloutItem(
                    op=RolloutOp.CREATE,
                    smartlock_id=lock,
                    create=AuthFields(name=name, code=new[shape.updates + i]),
                )
            )
        for auth_id in auths[shape.updates :]:
            expected.deleted.add((lock, auth_id))
            items.append(RolloutItem(op=RolloutOp.DELETE, smartlock_id=lock, auth_id=auth_id))
    return items, expected


async def check(sim: SimulatorControl, expected: Expected) -> int:
    """How many changes the devices really hold."""
    right = 0
    for lock, names in expected.created.items():
        device = await sim.device(lock)
        held = {a.id: a for a in device.auths}
        right += sum(
            1
            for (owner, auth_id), code in expected.updated.items()
            if owner == lock and auth_id in held and held[auth_id].code == code
        )
        right += sum(
            1 for (owner, auth_id) in expected.deleted if owner == lock and auth_id not in held
        )
        present = [a.name for a in device.auths if a.name in names]
        right += len(set(present)) if len(present) == len(set(present)) else 0
    return right


@dataclass
class RolloutRun:
    """One rollout measured: its wall time, how it ended, what the devices hold, the Nuki
    requests the fake cloud answered meanwhile and the history of every run it started."""

    changes: int
    seconds: float
    applied: int
    state: str
    runs: int
    held: int
    requests: list[RequestRecord]
    history: HistoryCount
    # What the Temporal server did meanwhile (None: its metrics were not scraped).
    server: ServerOps | None = None
    # CPU time of the server and the worker when the rollout started, and once the server's
    # work for it had settled.
    cpu_start: CpuMark = field(default_factory=CpuMark.unknown)
    cpu_end: CpuMark = field(default_factory=CpuMark.unknown)

    @property
    def writes(self) -> int:
        return sum(r.method in ("PUT", "POST", "DELETE") for r in self.requests)

    @property
    def reads(self) -> int:
        return sum(r.method == "GET" for r in self.requests)


async def measure_rollout(
    client: Client,
    sim: SimulatorControl,
    task_queue: str,
    *,
    locks: int,
    shape: Shape,
    max_in_flight: int,
    metrics_url: str | None = None,
    worker_pid: int | None = None,
) -> RolloutRun:
    """Seed fresh locks, run the plan as one rollout and count what it cost.

    The fake cloud's request log is cleared after seeding, and history is counted for every
    run on ``task_queue`` started after the rollout was submitted: what this rollout caused,
    since earlier entities are idle (no timer, no request) and earlier runs started before.
    """
    items, expected = await seed(sim, locks, shape)
    await sim.clear_requests()
    since = time.time()
    fleet = Fleet(client, task_queue=task_queue)
    options = RolloutOptions(max_in_flight=max_in_flight)
    before = await scrape_settled(metrics_url)
    server_pid = dev_server_pid()
    cpu_start = CpuMark.take(server_pid, worker_pid)
    started = time.monotonic()
    rollout = await fleet.apply_rollout(
        RolloutPlan(name=f"bench {uuid.uuid4().hex[:6]}", items=items, options=options)
    )
    report = await rollout.result()
    seconds = time.monotonic() - started
    after = await scrape_settled(metrics_url)
    cpu_end = CpuMark.take(server_pid, worker_pid)
    records = await sim.requests()
    held = await check(sim, expected)
    history = await history_events(client, started_since(task_queue, since))
    return RolloutRun(
        changes=len(items),
        seconds=seconds,
        applied=report.totals.applied,
        state=report.state.value,
        runs=report.runs,
        held=held,
        requests=records,
        history=history,
        server=None if before is None or after is None else after.since(before),
        cpu_start=cpu_start,
        cpu_end=cpu_end,
    )
