"""Benchmark: what calling nukiflow through Nexus from another namespace adds to a change.

Run: ``python -m bench.bench_nexus`` (``--quick`` for a short run). It starts its own Temporal
dev server (with the callers' namespace), a fake Nuki cloud whose device takes ``--delay``
seconds per operation, a nukiflow worker, a caller's worker and a Nexus endpoint, all on
loopback, and prints figures; it asserts nothing about time.

The same number of code changes to one auth, one after the other, first through the facade,
then from a caller's workflow through the endpoint (``update_auth``). Figures:
- call -> verified outcome / device delay, p50 and p95, each way, and the p50 difference in ms
  (what Nexus, the request's workflow and its activity add);
- history events per change: the request's workflow in nukiflow's namespace and the caller's
  workflow (one operation each).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench import leave
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.client import NukiFlow
from nukiflow.contracts import search_attributes
from nukiflow.contracts.auth import AuthOutcome, AuthPatch, OutcomeStatus
from nukiflow.contracts.timing import WorkflowTiming
from nukiflow.devtools.temporal_binary import find_temporal_binary
from nukiflow.nexus.caller import OperationCall, OperationCallResult, OperationCallWorkflow
from nukiflow.nexus.endpoints import ensure_endpoint
from nukiflow.nexus.models import UpdateAuthInput
from nukiflow.nexus.service import CALLER_NAMESPACE
from nukiflow.nexus.workflows import call_workflow_id
from nukiflow.simulator import SimSettings, SimulatorControl, SimulatorServer
from nukiflow.temporal.codec import Keyring
from nukiflow.temporal.converter import data_converter
from nukiflow.temporal.worker import build_worker

TOKEN = "bench-token"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(args: argparse.Namespace) -> None:
    keys = Keyring.generate("bench")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_temporal_binary()),
        search_attributes=list(search_attributes.ALL),
        data_converter=data_converter(keys),
        dev_server_extra_args=["--headless", "--namespace", CALLER_NAMESPACE],
    )
    server = SimulatorServer(token=TOKEN, seed=3, settings=SimSettings(device_delay=args.delay))
    await server.start()
    task_queue = "bench-nexus-" + uuid.uuid4().hex[:8]
    endpoint = f"bench-{task_queue}"
    caller = await Client.connect(
        env.client.service_client.config.target_host,
        namespace=CALLER_NAMESPACE,
        data_converter=data_converter(keys),
    )
    try:
        await ensure_endpoint(
            env.client, endpoint, target_namespace="default", target_task_queue=task_queue
        )
        async with (
            SimulatorControl(server.base_url, TOKEN) as sim,
            NukiClient(TOKEN, server.base_url) as nuki,
            build_worker(env.client, nuki, task_queue),
            Worker(caller, task_queue="bench-caller", workflows=[OperationCallWorkflow]),
        ):
            flow = NukiFlow(env.client, task_queue=task_queue, timing=WorkflowTiming())
            lock = (await sim.add_lock()).smartlock_id
            auth = (await sim.add_auth(lock, name="Bench", code=535353)).id
            direct: list[float] = []
            through: list[float] = []
            request_events: list[int] = []
            caller_events: list[int] = []
            for i in range(args.changes):
                code = 545411 + i % 9
                started = time.monotonic()
                outcome = await flow.update_auth(lock, auth, {"code": code})
                direct.append(time.monotonic() - started)
                assert outcome.status is OutcomeStatus.APPLIED, outcome
            for i in range(args.changes):
                code = 565611 + i % 9
                request = UpdateAuthInput(
                    request_id=f"bench-{uuid.uuid4().hex[:8]}",
                    smartlock_id=lock,
                    auth_id=auth,
                    patch=AuthPatch(code=code),
                    deadline_at=datetime.now(UTC) + timedelta(minutes=10),
                )
                workflow_id = f"bench-caller-{i}-{uuid.uuid4().hex[:6]}"
                started = time.monotonic()
                result: OperationCallResult = await caller.execute_workflow(
                    OperationCallWorkflow.run,
                    OperationCall(
                        endpoint=endpoint,
                        operation="update_auth",
                        input=request.model_dump(mode="json"),
                    ),
                    id=workflow_id,
                    task_queue="bench-caller",
                )
                through.append(time.monotonic() - started)
                assert result.output is not None, result.error
                assert AuthOutcome.model_validate(result.output).status is OutcomeStatus.APPLIED
                handle = env.client.get_workflow_handle(
                    call_workflow_id("update", request.request_id)
                )
                request_events.append(len((await handle.fetch_history()).events))
                own = caller.get_workflow_handle(workflow_id)
                caller_events.append(len((await own.fetch_history()).events))
        print(
            f"Nexus overhead: {args.changes} code changes each way to one auth, device delay "
            f"{args.delay:g} s, production timing"
        )
        for name, samples in (("facade", direct), ("Nexus ", through)):
            ratios = [s / args.delay for s in samples]
            print(
                f"  {name} call -> verified / delay: p50 {statistics.median(ratios):.2f}x  "
                f"p95 {percentile(ratios, 0.95):.2f}x  (p50 {statistics.median(samples):.2f} s)"
            )
        added = (statistics.median(through) - statistics.median(direct)) * 1000
        print(f"  Nexus adds (p50): {added:.0f} ms per change")
        print(
            f"  history events per change: request workflow {statistics.mean(request_events):.0f}"
            f" (nukiflow's namespace), caller {statistics.mean(caller_events):.0f}"
        )
    finally:
        await server.stop()
        await env.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--changes", type=int, default=20, help="changes each way")
    parser.add_argument("--delay", type=float, default=1.0, help="device seconds per operation")
    parser.add_argument("--quick", action="store_true", help="fewer changes (about 15 s)")
    args = parser.parse_args()
    if args.quick:
        args.changes = 5
    asyncio.run(run(args))
    leave()


if __name__ == "__main__":
    main()
