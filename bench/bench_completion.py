"""Benchmark: completion by webhook against polling, for auth changes and lock actions.

Run: ``python -m bench.bench_completion [--quick] [--json]``. It starts its own Temporal dev
server, a fake Nuki cloud, nukiflow's webhook receiver registered with it and two workers (one
that expects webhooks, one that does not), all on loopback, and prints figures; it asserts
nothing about time. In one run, for

- (a) polling only: a worker that does not expect webhooks, before any webhook is registered;
- (b) webhooks on: a worker that expects them, every delivery arriving;
- (c) webhooks on with 20 % of deliveries dropped (seeded, per lock),

it measures the time from call to verified outcome as a multiple of the device's delay (auth
changes; actions: of the action time), the Nuki API requests per verified auth change and per
confirmed action (counted by the fake cloud: every request on the lock's paths while the call
ran), and the wrong outcomes: a change not answered applied, or the device not holding it; an
action not confirmed, or the device not having executed it exactly once. Entities are warmed up
first (their first change also reads the auth: not counted). Production timing throughout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bench import leave
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.client import NukiFlow
from nukiflow.contracts import search_attributes
from nukiflow.contracts.action import ActionName, ActionStatus
from nukiflow.contracts.auth import OutcomeStatus
from nukiflow.contracts.timing import WorkflowTiming
from nukiflow.devtools.temporal_binary import find_temporal_binary
from nukiflow.simulator import Faults, SimSettings, SimulatorControl, SimulatorServer
from nukiflow.simulator.control_models import RequestRecord
from nukiflow.temporal.codec import Keyring
from nukiflow.temporal.converter import data_converter
from nukiflow.temporal.worker import build_worker
from nukiflow.webhooks import WebhookReceiver
from nukiflow.webhooks.registration import DEFAULT_FEATURES
from nukiflow.webhooks.server import WebhookServer

TOKEN = "bench-" + uuid.uuid4().hex
FIRST_CODE = 555511
MODES = {
    "a": "polling only",
    "b": "webhooks on",
    "c": "webhooks on, 20% of deliveries dropped",
}


@dataclass
class Figures:
    """One mode's figures."""

    mode: str
    changes: int = 0
    change_ratios: list[float] = field(default_factory=list, repr=False)
    change_requests: list[int] = field(default_factory=list, repr=False)
    changes_wrong: int = 0
    actions: int = 0
    action_ratios: list[float] = field(default_factory=list, repr=False)
    action_requests: list[int] = field(default_factory=list, repr=False)
    actions_wrong: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "auth_changes": self.changes,
            "change_p50_x_delay": round(statistics.median(self.change_ratios), 3),
            "change_p95_x_delay": round(percentile(self.change_ratios, 0.95), 3),
            "requests_per_change": round(statistics.mean(self.change_requests), 2),
            "requests_per_change_max": max(self.change_requests),
            "changes_wrong": self.changes_wrong,
            "actions": self.actions,
            "action_p50_x_time": round(statistics.median(self.action_ratios), 3),
            "action_p95_x_time": round(percentile(self.action_ratios, 0.95), 3),
            "requests_per_action": round(statistics.mean(self.action_requests), 2),
            "requests_per_action_max": max(self.action_requests),
            "actions_wrong": self.actions_wrong,
        }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def codes(n: int) -> list[int]:
    """n valid keypad codes (digits 1-9 only)."""
    out: list[int] = []
    value = FIRST_CODE
    while len(out) < n:
        if "0" not in str(value):
            out.append(value)
        value += 1
    return out


def lock_requests(records: list[RequestRecord], smartlock_id: int, since: float) -> int:
    base = f"/smartlock/{smartlock_id}"
    return sum(
        1 for r in records if r.time >= since and (r.path == base or r.path.startswith(base + "/"))
    )


async def auth_lane(
    flow: NukiFlow,
    sim: SimulatorControl,
    figures: Figures,
    faults: Faults,
    changes: int,
    delay: float,
    lane: int,
) -> None:
    """One auth on a lock of its own: a warm-up change, then ``changes`` measured ones."""
    lock = (await sim.add_lock()).smartlock_id
    await sim.set_faults(faults, lock)
    auth = await sim.add_auth(lock, name="bench", code=555599)
    await flow.update_auth(lock, auth.id, {"name": "warm"})
    for code in codes(changes * (lane + 1))[-changes:]:
        since = time.monotonic()
        outcome = await flow.update_auth(lock, auth.id, {"code": code})
        elapsed = time.monotonic() - since
        device = await sim.device(lock)
        held = [a.code for a in device.auths if a.id == auth.id]
        figures.changes += 1
        figures.change_ratios.append(elapsed / delay)
        figures.change_requests.append(lock_requests(await sim.requests(), lock, since))
        if outcome.status is not OutcomeStatus.APPLIED or held != [code]:
            figures.changes_wrong += 1


async def action_lane(
    flow: NukiFlow,
    sim: SimulatorControl,
    figures: Figures,
    faults: Faults,
    actions: int,
    action_time: float,
) -> None:
    """One lock: a warm-up unlock/lock, then ``actions`` measured ones in turn."""
    lock = (await sim.add_lock()).smartlock_id
    await sim.set_faults(faults, lock)
    for name in (ActionName.UNLOCK, ActionName.LOCK):
        await flow.action(lock, name)
    for i in range(actions):
        name = ActionName.UNLOCK if i % 2 == 0 else ActionName.LOCK
        executed_before = len((await sim.device(lock)).actions)
        since = time.monotonic()
        outcome = await flow.action(lock, name)
        elapsed = time.monotonic() - since
        # The device's truth once it is idle: the action ran exactly once.
        device = await sim.device(lock)
        while device.pending:
            await asyncio.sleep(0.1)
            device = await sim.device(lock)
        executed = device.actions[executed_before:]
        figures.actions += 1
        figures.action_ratios.append(elapsed / action_time)
        figures.action_requests.append(lock_requests(await sim.requests(), lock, since))
        if outcome.status is not ActionStatus.CONFIRMED or len(executed) != 1:
            figures.actions_wrong += 1


async def measure(
    flow: NukiFlow, sim: SimulatorControl, mode: str, faults: Faults, args: argparse.Namespace
) -> Figures:
    figures = Figures(mode=MODES[mode])
    await asyncio.gather(
        *(
            auth_lane(flow, sim, figures, faults, args.changes, args.device_delay, lane)
            for lane in range(args.lanes)
        ),
        *(
            action_lane(flow, sim, figures, faults, args.actions, args.action_time)
            for _ in range(args.lanes)
        ),
    )
    return figures


def worker_for(client: Client, nuki: NukiClient, task_queue: str, webhooks: bool) -> Any:
    flow = NukiFlow(client, task_queue=task_queue, timing=WorkflowTiming())
    return build_worker(client, nuki, task_queue, flow=flow, webhooks=webhooks)


async def quiet_temporal() -> WorkflowEnvironment:
    """A Temporal dev server whose banner does not reach this process's stdout (``--json``
    prints one object there)."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        return await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(find_temporal_binary()),
            search_attributes=list(search_attributes.ALL),
            data_converter=data_converter(Keyring.generate("bench")),
            dev_server_extra_args=["--headless"],
        )
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    env = await quiet_temporal()
    settings = SimSettings(device_delay=args.device_delay, action_time=args.action_time)
    server = SimulatorServer(token=TOKEN, seed=args.seed, settings=settings)
    await server.start()
    polling_queue = "bench-polling-" + uuid.uuid4().hex[:8]
    webhook_queue = "bench-webhooks-" + uuid.uuid4().hex[:8]
    results: list[Figures] = []
    try:
        async with (
            SimulatorControl(server.base_url, TOKEN) as sim,
            NukiClient(TOKEN, server.base_url) as nuki,
            worker_for(env.client, nuki, polling_queue, webhooks=False),
            worker_for(env.client, nuki, webhook_queue, webhooks=True),
        ):
            timing = WorkflowTiming()
            polling = NukiFlow(env.client, task_queue=polling_queue, timing=timing)
            results.append(await measure(polling, sim, "a", Faults(), args))

            receiver = WebhookReceiver(env.client, secrets=[], task_queue=webhook_queue)
            async with WebhookServer(receiver) as door:
                webhook = await nuki.register_webhook(door.url, DEFAULT_FEATURES)
                receiver.set_secrets([webhook.secret or ""])
                webhooks = NukiFlow(env.client, task_queue=webhook_queue, timing=timing)
                results.append(await measure(webhooks, sim, "b", Faults(), args))
                dropping = Faults(webhook_drop_rate=0.2)
                results.append(await measure(webhooks, sim, "c", dropping, args))
    finally:
        await server.stop()
        await env.shutdown()
    return [figures.summary() for figures in results]


def print_table(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"completion: {args.lanes} auths x {args.changes} changes and {args.lanes} locks x "
        f"{args.actions} actions per mode, device delay {args.device_delay:g} s, action time "
        f"{args.action_time:g} s, production timing"
    )
    for row in rows:
        print(f"({'abc'[rows.index(row)]}) {row['mode']}")
        print(
            f"    auth change -> verified / device delay: p50 {row['change_p50_x_delay']:.2f}x  "
            f"p95 {row['change_p95_x_delay']:.2f}x   API requests/change "
            f"{row['requests_per_change']:.2f} (max {row['requests_per_change_max']})   "
            f"wrong {row['changes_wrong']}/{row['auth_changes']}"
        )
        print(
            f"    action -> confirmed / action time:     p50 {row['action_p50_x_time']:.2f}x  "
            f"p95 {row['action_p95_x_time']:.2f}x   API requests/action "
            f"{row['requests_per_action']:.2f} (max {row['requests_per_action_max']})   "
            f"wrong {row['actions_wrong']}/{row['actions']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    # Few lanes: on a small machine more of them measure the machine's contention, not nukiflow.
    parser.add_argument("--lanes", type=int, default=3, help="auths (and locks) side by side")
    parser.add_argument("--changes", type=int, default=8, help="measured changes per auth")
    parser.add_argument("--actions", type=int, default=8, help="measured actions per lock")
    parser.add_argument("--device-delay", type=float, default=2.0, help="seconds per operation")
    parser.add_argument("--action-time", type=float, default=2.0, help="device seconds/action")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--quick", action="store_true", help="fewer changes and actions")
    args = parser.parse_args()
    if args.quick:
        args.lanes, args.changes, args.actions = 2, 3, 3
    rows = asyncio.run(run(args))
    if args.json:
        print(json.dumps({"settings": vars(args), "modes": rows}))
    else:
        print_table(rows, args)
    leave(0)


if __name__ == "__main__":
    main()
