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
import random
import statistics
import time
import traceback
import uuid

from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.testing import WorkflowEnvironment

from bench import leave
from bench.bench_rollout import TOKEN, codes, peak_rss_mib, server_rss_mib
from bench.worker_process import serve_worker, start_worker_process, stop_process
from nukiflow.client import NukiFlow
from nukiflow.contracts import search_attributes
from nukiflow.contracts.auth import AuthOutcome, OutcomeStatus
from nukiflow.devtools.temporal_binary import find_temporal_binary
from nukiflow.simulator import SimSettings, SimulatorControl, SimulatorServer
from nukiflow.temporal.codec import Keyring
from nukiflow.temporal.converter import data_converter


async def seed(sim: SimulatorControl, locks: int, per_lock: int) -> dict[int, list[str]]:
    """Locks with keypad codes on them (put on the devices directly, nothing pending)."""
    pool = iter(codes(locks * per_lock))
    auths: dict[int, list[str]] = {}
    gate = asyncio.Semaphore(32)

    async def one_lock() -> None:
        async with gate:
            lock = (await sim.add_lock()).smartlock_id
            auths[lock] = [
                (await sim.add_auth(lock, name=f"code {i}", code=next(pool))).id
                for i in range(per_lock)
            ]

    await asyncio.gather(*(one_lock() for _ in range(locks)))
    return auths


def memory(pid: int) -> str:
    now, peak = peak_rss_mib(pid, "VmRSS"), peak_rss_mib(pid, "VmHWM")
    if now is None or peak is None:
        return "unknown"
    return f"{now:.0f} MiB now, {peak:.0f} MiB peak"


async def run(args: argparse.Namespace) -> None:
    keys = Keyring.generate("bench")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_temporal_binary()),
        search_attributes=list(search_attributes.ALL),
        data_converter=data_converter(keys),
        dev_server_log_level="error",
    )
    settings = SimSettings(device_delay=args.device_delay, max_auths=max(200, args.per_lock))
    server = SimulatorServer(token=TOKEN, seed=args.seed, settings=settings)
    await server.start()
    task_queue = "bench-entities-" + uuid.uuid4().hex[:8]
    worker_env = {
        "BENCH_TEMPORAL": env.client.service_client.config.target_host,
        "BENCH_KEYS": keys.to_text(),
        "BENCH_TASK_QUEUE": task_queue,
        "BENCH_TOKEN": TOKEN,
        "BENCH_SIM_URL": server.base_url,
        "BENCH_ACTIVITY_SLOTS": str(args.activity_slots),
    }
    if args.max_cached is not None:
        worker_env["BENCH_MAX_CACHED_WORKFLOWS"] = str(args.max_cached)
    process = await start_worker_process("bench.bench_entities", worker_env)
    entities = args.locks * args.per_lock
    figures: dict[str, object] = {
        "entities": entities,
        "locks": args.locks,
        "device_delay": args.device_delay,
        "max_cached_workflows": args.max_cached or 1000,
    }
    try:
        async with SimulatorControl(server.base_url, TOKEN) as sim:
            auths = await seed(sim, args.locks, args.per_lock)
            flow = NukiFlow(env.client, task_queue=task_queue)
            fresh = iter(codes(entities + args.changes + 10, first=611111))
            print(
                f"{entities} auths across {args.locks} locks, device delay "
                f"{args.device_delay:g} s, worker cache max_cached_workflows="
                f"{figures['max_cached_workflows']}",
                flush=True,
            )

            # 1. One verified change per auth, one at a time per lock.
            failed = 0

            gate = asyncio.Semaphore(args.concurrency)

            async def lock_changes(lock: int, ids: list[str]) -> None:
                nonlocal failed
                async with gate:
                    for auth_id in ids:
                        outcome = await change(lock, auth_id, next(fresh))
                        failed += outcome.status is not OutcomeStatus.APPLIED

            async def change(lock: int, auth_id: str, code: int) -> AuthOutcome:
                # A call the busy server did not answer in time is sent again with the same
                # request id: it attaches to its change.
                request_id = uuid.uuid4().hex
                for _ in range(10):
                    try:
                        return await flow.update_auth(
                            lock, auth_id, {"code": code}, request_id=request_id
                        )
                    except WorkflowUpdateRPCTimeoutOrCancelledError:
                        continue
                raise RuntimeError(f"auth {auth_id}: no answer after 10 calls")

            started = time.monotonic()
            await asyncio.gather(*(lock_changes(lock, ids) for lock, ids in auths.items()))
            up = time.monotonic() - started
            rounds = -(-args.locks // args.concurrency)
            floor = args.per_lock * args.device_delay * rounds
            print(
                f"brought up {entities - failed}/{entities} entities (one verified change each) "
                f"in {up:.1f} s = {up / floor:.2f}x the physical floor ({floor:.0f} s), "
                f"{entities / up:.0f} per s",
                flush=True,
            )
            open_count = await env.client.count_workflows(
                f"TaskQueue = '{task_queue}' AND WorkflowType = 'NukiAuthEntity' "
                "AND ExecutionStatus = 'Running'"
            )
            print(f"open entity workflows: {open_count.count}", flush=True)
            figures.update(up_seconds=round(up, 1), open_entities=open_count.count)

            # 2. Memory with all of them open.
            await asyncio.sleep(args.settle)
            worker_now = peak_rss_mib(process.pid, "VmRSS")
            server_mem = server_rss_mib()
            print(f"worker memory (VmRSS, VmHWM): {memory(process.pid)}", flush=True)
            print(
                "dev server memory (VmRSS, VmHWM): "
                + (
                    "unknown"
                    if server_mem is None
                    else f"{server_mem[0]:.0f} MiB now, {server_mem[1]:.0f} MiB peak"
                ),
                flush=True,
            )
            figures.update(
                worker_rss_mib=None if worker_now is None else round(worker_now),
                worker_peak_mib=round(peak_rss_mib(process.pid) or 0),
                server_rss_mib=None if server_mem is None else round(server_mem[0]),
            )

            # 3. One change at a time to an entity chosen at random, all of them live.
            rng = random.Random(args.seed)
            ratios: list[float] = []
            for _ in range(args.changes):
                lock = rng.choice(list(auths))
                auth_id = rng.choice(auths[lock])
                t0 = time.monotonic()
                outcome = await change(lock, auth_id, next(fresh))
                took = time.monotonic() - t0
                assert outcome.status is OutcomeStatus.APPLIED, outcome
                ratios.append(took / args.device_delay)
            p50 = statistics.median(ratios)
            print(
                f"one change to a live entity ({len(ratios)} one after the other): p50 "
                f"{p50:.2f}x the device delay, max {max(ratios):.2f}x",
                flush=True,
            )
            print(
                f"worker memory after them (VmRSS, VmHWM): {memory(process.pid)}",
                flush=True,
            )
            figures.update(
                change_p50_x_delay=round(p50, 2), change_max_x_delay=round(max(ratios), 2)
            )
            if args.json:
                print(json.dumps(figures), flush=True)
    finally:
        await stop_process(process)
        await server.stop()
        await env.shutdown()


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
    if args.serve_worker:
        asyncio.run(serve_worker())
        leave()
    if args.quick:
        args.locks, args.changes = 20, 5
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
