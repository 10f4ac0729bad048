"""Benchmark: many live auth entities on one worker, and a change to one of them.

Run: ``python -m bench.bench_entities`` (``--quick`` for 1,000 entities). It starts its own
Temporal dev server (in memory), a fake Nuki cloud and a worker *in a process of its own* (so
its memory is the worker's own), all on loopback, and prints figures; it asserts nothing about
time.

Figures (defaults: 10,000 auths across 200 locks, 1 s device delay):
- the time to bring every entity up: one verified change (a new keypad code) per auth, at most
  one change per lock at a time (a lock applies one operation at a time) and ``--concurrency``
  locks at a time (default 100), beside the physical floor (auths per lock times the device
  delay, times the rounds of locks);
- the worker's resident memory (now and its peak) and the dev server's, with every entity open
  (each one a running workflow) and the worker's workflow cache as configured
  (``--max-cached``, default Temporal's 1,000);
- the time for one change to one of them, chosen at random, while all are live, several times
  one after the other: p50 and max, as multiples of the device delay.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import uuid

from bench.entity_parts import Changer, bring_up, open_entities, seed, time_changes
from bench.fleet_parts import (
    WorkerSettings,
    bench_main,
    describe_rss,
    open_stack,
    rss_mib,
    server_rss_mib,
)
from nukiflow.client import NukiFlow
from nukiflow.simulator import SimSettings, SimulatorControl


async def run(args: argparse.Namespace) -> None:
    settings = SimSettings(device_delay=args.device_delay, max_auths=max(200, args.per_lock))
    task_queue = "bench-entities-" + uuid.uuid4().hex[:8]
    worker = WorkerSettings(activity_slots=args.activity_slots, max_cached=args.max_cached)
    entities = args.locks * args.per_lock
    figures: dict[str, object] = {
        "entities": entities,
        "locks": args.locks,
        "device_delay": args.device_delay,
        "max_cached_workflows": worker.cache_size,
    }
    async with (
        open_stack(settings, args.seed, log_level="error") as stack,
        stack.worker("bench.bench_entities", task_queue, worker) as process,
        SimulatorControl(stack.server.base_url, stack.server.token) as sim,
    ):
        auths = await seed(sim, args.locks, args.per_lock)
        changer = Changer(NukiFlow(stack.client, task_queue=task_queue), entities + args.changes)
        print(
            f"{entities} auths across {args.locks} locks, device delay "
            f"{args.device_delay:g} s, worker cache max_cached_workflows={worker.cache_size}",
            flush=True,
        )

        # 1. One verified change per auth, one at a time per lock.
        up = await bring_up(
            changer, auths, concurrency=args.concurrency, device_delay=args.device_delay
        )
        print(
            f"brought up {up.brought_up}/{entities} entities (one verified change each) "
            f"in {up.seconds:.1f} s = {up.seconds / up.floor_seconds:.2f}x the physical floor "
            f"({up.floor_seconds:.0f} s), {entities / up.seconds:.0f} per s",
            flush=True,
        )
        open_count = await open_entities(stack.client, task_queue)
        print(f"open entity workflows: {open_count}", flush=True)
        figures.update(up_seconds=round(up.seconds, 1), open_entities=open_count)

        # 2. Memory with all of them open.
        await asyncio.sleep(args.settle)
        worker_mem, server_mem = rss_mib(process.pid), server_rss_mib()
        print(f"worker memory (VmRSS, VmHWM): {describe_rss(worker_mem)}", flush=True)
        print(f"dev server memory (VmRSS, VmHWM): {describe_rss(server_mem)}", flush=True)
        figures.update(
            worker_rss_mib=None if worker_mem is None else round(worker_mem[0]),
            worker_peak_mib=None if worker_mem is None else round(worker_mem[1]),
            server_rss_mib=None if server_mem is None else round(server_mem[0]),
        )

        # 3. One change at a time to an entity chosen at random, all of them live.
        ratios = await time_changes(
            changer, auths, changes=args.changes, device_delay=args.device_delay, seed=args.seed
        )
        p50 = statistics.median(ratios)
        print(
            f"one change to a live entity ({len(ratios)} one after the other): p50 "
            f"{p50:.2f}x the device delay, max {max(ratios):.2f}x",
            flush=True,
        )
        print(
            f"worker memory after them (VmRSS, VmHWM): {describe_rss(rss_mib(process.pid))}",
            flush=True,
        )
        figures.update(change_p50_x_delay=round(p50, 2), change_max_x_delay=round(max(ratios), 2))
        if args.json:
            print(json.dumps(figures), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--locks", type=int, default=200)
    parser.add_argument("--per-lock", type=int, default=50, help="auths per lock")
    parser.add_argument("--device-delay", type=float, default=1.0, help="seconds per operation")
    parser.add_argument(
        "--concurrency", type=int, default=100, help="locks brought up at the same time"
    )
    parser.add_argument("--changes", type=int, default=9, help="changes timed while all live")
    parser.add_argument("--max-cached", type=int, default=None, help="worker max_cached_workflows")
    parser.add_argument("--activity-slots", type=int, default=1000, help="worker activity slots")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument("--quick", action="store_true", help="1,000 entities across 20 locks")
    parser.add_argument("--serve-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.locks, args.changes = 20, 5
    bench_main(args, run)


if __name__ == "__main__":
    main()
