"""Many accounts: one account's burst of changes beside another account's single change.

One worker (a process of its own, reading an accounts file) serves two accounts of the fake
cloud, each on workflow and activity task queues of its own: ``burst`` (an API token, its
activity queue limited to ``--rate`` activities per second across all workers) and ``quiet``
(OAuth). Workflows carry
their account as their fairness key; the dev server runs with task queue fairness on
(``--no-fairness``: off). It measures ``quiet``'s single auth change (call to verified
outcome) alone, then one after the other while ``burst`` sends ``--changes`` changes across
``--locks`` locks at once, and prints the ratios (target: at most 1.5x) while the burst's
changes are accepted and during its rate-limited run, the burst's wall time and the rate its
Nuki requests reached, and where the quiet change's time went (from its entity's history:
workflow tasks waiting for a worker and running, activities waiting).
Prints figures (``--json``: one object); asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.testing import WorkflowEnvironment

from bench import leave
from bench.worker_process import serve_worker, start_worker_process, stop_process
from nukiflow.client import NukiFlow
from nukiflow.contracts import search_attributes
from nukiflow.contracts.auth import AuthOutcome, OutcomeStatus
from nukiflow.contracts.entity import auth_workflow_id
from nukiflow.contracts.timing import WorkflowTiming
from nukiflow.devtools.temporal_binary import find_temporal_binary
from nukiflow.simulator import SimSettings, SimulatorControl, SimulatorServer
from nukiflow.temporal.codec import Keyring
from nukiflow.temporal.converter import data_converter

TOKEN = "bench-accounts-token"
BURST, QUIET = "burst", "quiet"


def ratio(samples: list[float], alone: list[float], *, worst: bool = False) -> float | None:
    if not samples:
        return None
    value = max(samples) if worst else statistics.median(samples)
    return round(value / statistics.median(alone), 2)


def keypad_code(index: int, first: int = 7) -> int:
    """A distinct valid keypad code per index (digits 1-9, starting with ``first``)."""
    digits = []
    for _ in range(5):
        index, digit = divmod(index, 9)
        digits.append(str(digit + 1))
    return int(str(first) + "".join(reversed(digits)))


# Seconds from the call until Temporal accepted each quiet change (the entity's update
# validator ran): the part of a change's time that does not depend on its account's queue.
ACCEPTED: list[float] = []
# The wall-clock span of each quiet change, to find its events in the entity's history.
SPANS: list[tuple[datetime, datetime]] = []


async def timed_change(flow: NukiFlow, lock: int, auth: str, code: int) -> float:
    began = datetime.now(UTC)
    started = time.monotonic()
    handle = await flow.start_update_auth(lock, auth, {"code": code}, account=QUIET)
    ACCEPTED.append(time.monotonic() - started)
    outcome = handle if isinstance(handle, AuthOutcome) else await handle.result()
    if outcome.status is not OutcomeStatus.APPLIED:
        raise RuntimeError(f"the quiet account's change was not applied: {outcome.reason}")
    SPANS.append((began, datetime.now(UTC)))
    return time.monotonic() - started


def waits(events: list[HistoryEvent], span: tuple[datetime, datetime]) -> dict[str, float]:
    """Where one quiet change spent its time, from the entity's history: seconds its workflow
    tasks waited to be picked up by a worker (schedule to start), ran on the worker (start to
    completion), and its activities waited on the account's queue (schedule to start)."""
    begin, end = span
    totals = {"workflow_task_wait": 0.0, "workflow_task_run": 0.0, "activity_wait": 0.0}
    scheduled: dict[int, datetime] = {}
    started: dict[int, datetime] = {}
    for event in events:
        at = event.event_time.ToDatetime(tzinfo=UTC)
        if event.event_type in (
            EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
            EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        ):
            scheduled[event.event_id] = at
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            first = scheduled.get(event.workflow_task_started_event_attributes.scheduled_event_id)
            started[event.event_id] = at
            if first is not None and begin <= first <= end:
                totals["workflow_task_wait"] += (at - first).total_seconds()
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            run_from = started.get(event.workflow_task_completed_event_attributes.started_event_id)
            if run_from is not None and begin <= run_from <= end:
                totals["workflow_task_run"] += (at - run_from).total_seconds()
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            first = scheduled.get(event.activity_task_started_event_attributes.scheduled_event_id)
            if first is not None and begin <= first <= end:
                totals["activity_wait"] += (at - first).total_seconds()
    return {name: round(value, 3) for name, value in totals.items()}


def median_waits(rows: list[dict[str, float]]) -> dict[str, float] | None:
    if not rows:
        return None
    return {name: round(statistics.median(r[name] for r in rows), 3) for name in rows[0]}


async def quiet_samples(flow: NukiFlow, lock: int, auth: str, count: int) -> list[float]:
    return [await timed_change(flow, lock, auth, keypad_code(i, first=5)) for i in range(count)]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    fairness = (
        [] if args.no_fairness else ["--dynamic-config-value", "matching.enableFairness=true"]
    )
    keys = Keyring.generate("bench")
    # The dev server writes its banner to the stdout it inherits: give it stderr, so --json
    # prints one object alone.
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(find_temporal_binary()),
            search_attributes=list(search_attributes.ALL),
            data_converter=data_converter(keys),
            dev_server_extra_args=["--headless", *fairness],
        )
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    settings = SimSettings(device_delay=args.device_delay, lock_race_writes=1)
    server = SimulatorServer(token=TOKEN, seed=args.seed, settings=settings)
    await server.start()
    task_queue = "bench-accounts-" + uuid.uuid4().hex[:8]
    try:
        async with AsyncExitStack() as stack:
            sim = await stack.enter_async_context(SimulatorControl(server.base_url, TOKEN))
            await sim.add_account(BURST, api_tokens=["burst-token"])
            await sim.add_account(QUIET, client_id="quiet", client_secret="s", refresh_tokens=["r"])
            # The worker, in a process of its own, reads the accounts as production does.
            folder = stack.enter_context(tempfile.TemporaryDirectory())
            accounts = Path(folder) / "accounts.toml"
            accounts.write_text(
                f'[accounts.{BURST}]\ntoken = "burst-token"\n'
                f"activities_per_second = {args.rate}\n\n"
                f'[accounts.{QUIET}]\nclient_id = "quiet"\nclient_secret = "s"\n'
                'refresh_token = "r"\n',
                encoding="utf-8",
            )
            accounts.chmod(0o600)
            process = await start_worker_process(
                "bench.bench_accounts",
                {
                    "BENCH_TEMPORAL": env.client.service_client.config.target_host,
                    "BENCH_KEYS": keys.to_text(),
                    "BENCH_TASK_QUEUE": task_queue,
                    "BENCH_TOKEN": TOKEN,
                    "BENCH_SIM_URL": server.base_url,
                    "BENCH_ACCOUNTS_FILE": str(accounts),
                },
            )
            stack.push_async_callback(stop_process, process)
            flow = NukiFlow(env.client, task_queue=task_queue, timing=WorkflowTiming())

            quiet_lock = (await sim.add_lock(account=QUIET)).smartlock_id
            quiet_auth = (await sim.add_auth(quiet_lock, name="Quiet", code=535353)).id
            targets: list[tuple[int, str]] = []
            per_lock = max(1, args.changes // args.locks)
            for _ in range(args.locks):
                lock = (await sim.add_lock(account=BURST)).smartlock_id
                for n in range(per_lock):
                    auth = await sim.add_auth(lock, name=f"Burst {n}", code=535353)
                    targets.append((lock, auth.id))
            targets = targets[: args.changes]

            # Warm up (the entity's first read, the first OAuth token), then unloaded.
            await timed_change(flow, quiet_lock, quiet_auth, 545454)
            alone = await quiet_samples(flow, quiet_lock, quiet_auth, args.samples)
            alone_spans = SPANS[-len(alone) :]

            burst_started = time.monotonic()
            since = len(await sim.requests())
            accepted = 0
            all_accepted = 0.0

            async def burst_change(index: int, lock: int, auth: str) -> AuthOutcome:
                nonlocal accepted, all_accepted
                started = await flow.start_update_auth(
                    lock, auth, {"code": keypad_code(index)}, account=BURST
                )
                accepted += 1
                if accepted == len(targets):
                    all_accepted = time.monotonic() - burst_started
                if isinstance(started, AuthOutcome):
                    return started
                return await started.result()

            burst = asyncio.ensure_future(
                asyncio.gather(
                    *(burst_change(i, lock, auth) for i, (lock, auth) in enumerate(targets))
                )
            )
            # Beside the burst, one change after the other until it is done: those that began
            # while its changes were still being accepted (Update-with-Start of every one),
            # and those that began once all were accepted (the rate-limited run).
            storm: list[float] = []
            steady: list[float] = []
            storm_accept: list[float] = []
            storm_spans: list[tuple[datetime, datetime]] = []
            index = 0
            while not burst.done():
                phase = steady if accepted == len(targets) else storm
                code = keypad_code(index, first=6)
                index += 1
                phase.append(await timed_change(flow, quiet_lock, quiet_auth, code))
                if phase is storm:
                    storm_accept.append(ACCEPTED[-1])
                    storm_spans.append(SPANS[-1])
            outcomes = await burst
            quiet_history = await env.client.get_workflow_handle(
                auth_workflow_id(quiet_lock, quiet_auth)
            ).fetch_history()
            events = list(quiet_history.events)
            burst_wall = time.monotonic() - burst_started
            records = (await sim.requests())[since:]
            burst_paths = {f"/smartlock/{lock}" for lock, _ in targets}
            burst_requests = [r for r in records if any(r.path.startswith(p) for p in burst_paths)]
        applied = sum(1 for o in outcomes if o.status is OutcomeStatus.APPLIED)
        span = (
            max(r.time for r in burst_requests) - min(r.time for r in burst_requests)
            if len(burst_requests) > 1
            else 0.0
        )
        result = {
            "changes": len(targets),
            "locks": args.locks,
            "device_delay_seconds": args.device_delay,
            "server_fairness": not args.no_fairness,
            "burst_rate_limit_activities_per_second": args.rate,
            "burst_applied": applied,
            "burst_wall_seconds": round(burst_wall, 2),
            "burst_accepted_seconds": round(all_accepted, 2),
            "burst_nuki_requests": len(burst_requests),
            "burst_nuki_requests_per_second": round(len(burst_requests) / span, 1)
            if span
            else None,
            "quiet_alone_seconds_p50": round(statistics.median(alone), 3),
            "quiet_alone_seconds": [round(x, 3) for x in alone],
            "quiet_while_accepted_seconds": [round(x, 3) for x in storm],
            "quiet_during_run_seconds": [round(x, 3) for x in steady],
            "quiet_while_accepted_acceptance_seconds": [round(x, 3) for x in storm_accept],
            "ratio_while_accepted_p50": ratio(storm, alone),
            "ratio_while_accepted_max": ratio(storm, alone, worst=True),
            "quiet_alone_waits_p50": median_waits([waits(events, s) for s in alone_spans]),
            "quiet_while_accepted_waits_p50": median_waits([waits(events, s) for s in storm_spans]),
            "quiet_while_accepted_waits": [waits(events, s) for s in storm_spans],
            "ratio_during_run_p50": ratio(steady, alone),
            "ratio_during_run_max": ratio(steady, alone, worst=True),
        }
    finally:
        await server.stop()
        await env.shutdown()
    return result


def report(result: dict[str, Any]) -> None:
    print(
        f"accounts: {result['changes']} changes on account {BURST!r} across {result['locks']} "
        f"locks (queue limited to {result['burst_rate_limit_activities_per_second']:g} "
        f"activities/s), device delay {result['device_delay_seconds']:g} s, task queue "
        f"fairness {'on' if result['server_fairness'] else 'off'}"
    )
    print(
        f"  burst: {result['burst_applied']}/{result['changes']} applied in "
        f"{result['burst_wall_seconds']:.1f} s (all accepted after "
        f"{result['burst_accepted_seconds']:.1f} s); "
        f"{result['burst_nuki_requests']} Nuki requests, "
        f"{result['burst_nuki_requests_per_second']} per second"
    )
    print(
        f"  account {QUIET!r}, one change after the other (call -> verified): alone p50 "
        f"{result['quiet_alone_seconds_p50']:.2f} s (n={len(result['quiet_alone_seconds'])})"
    )
    print(
        f"    beside the burst while its changes were being accepted: "
        f"{result['ratio_while_accepted_p50']}x p50, worst {result['ratio_while_accepted_max']}x "
        f"(n={len(result['quiet_while_accepted_seconds'])}; of its seconds, until Temporal "
        f"accepted the change: {result['quiet_while_accepted_acceptance_seconds']})"
    )
    print(
        f"    seconds per change (p50) its workflow tasks waited for a worker / ran / its "
        f"activities waited: alone {result['quiet_alone_waits_p50']}, while accepted "
        f"{result['quiet_while_accepted_waits_p50']}"
    )
    print(
        f"    beside the burst's rate-limited run: {result['ratio_during_run_p50']}x p50, "
        f"worst {result['ratio_during_run_max']}x (n={len(result['quiet_during_run_seconds'])}; "
        "target <= 1.5x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--changes", type=int, default=500, help="changes of the burst")
    parser.add_argument("--locks", type=int, default=50, help="locks the burst spreads over")
    parser.add_argument("--rate", type=float, default=50.0, help="burst queue activities/s")
    parser.add_argument("--device-delay", type=float, default=0.3, help="device s/operation")
    parser.add_argument("--samples", type=int, default=5, help="quiet changes measured each")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--no-fairness", action="store_true", help="the server without task queue fairness"
    )
    parser.add_argument("--quick", action="store_true", help="100 changes on 10 locks")
    parser.add_argument("--serve-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_worker:
        asyncio.run(serve_worker())
        leave()
    if args.quick:
        args.changes, args.locks, args.samples = 100, 10, 3
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result))
    else:
        report(result)
    leave()


if __name__ == "__main__":
    main()
