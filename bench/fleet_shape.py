"""The fleet benchmark's shape floors (``bench.shape_floor``), each on a dev server and a worker
of its own, fresh as the rollout's are, beside a Temporal floor measured there just before.

An empty-workflow floor measured late in a long run (after the rollouts and the live entities)
came out about a third slower than at its start, on the rollouts' server and on a fresh one
alike. So the yardsticks run first, in the state the rollout finds, each on a fresh server, and
each is compared with the floor of its own server only.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client

from bench.fleet_parts import WorkerSettings, measure_floor, open_stack
from bench.process_cpu import CpuMark, CpuSpent, cpu_figures, cpu_line
from bench.server_metrics import scrape_settled
from bench.shape_floor import MAX_SHAPE_CHANGES, ShapeRun, direct_floor, shape_floor
from nukiflow.simulator import SimSettings

Measure = Callable[[Client, str], Awaitable[ShapeRun]]


@dataclass(frozen=True)
class Beside:
    """A yardstick measured beside the Temporal floor of its own server and worker."""

    floor_seconds: float
    seconds: float
    cpu_floor: CpuSpent
    cpu: CpuSpent

    @property
    def x_floor(self) -> float:
        return self.seconds / self.floor_seconds

    def figures(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 2),
            "temporal_floor_seconds": round(self.floor_seconds, 2),
            "x_temporal_floor": round(self.x_floor, 2),
            "cpu": cpu_figures(self.cpu_floor, self.cpu),
        }


async def measure_beside_floor(
    args: argparse.Namespace, module: str, changes: int, measure: Measure, name: str
) -> Beside:
    """A fresh dev server and worker process: the idle rate, ``changes`` empty workflows, then
    ``measure``; each CPU window runs until the server's work for it has settled."""
    settings = WorkerSettings(activity_slots=args.activity_slots)
    task_queue = f"bench-fleet-{name}-{args.seed}"
    sim_settings = SimSettings(device_delay=args.device_delay, action_time=args.device_delay)
    async with (
        open_stack(sim_settings, args.seed, log_level="error") as stack,
        stack.worker(module, task_queue, settings) as process,
    ):
        floor = await measure_floor(stack, process.pid, task_queue, changes)
        await scrape_settled(stack.metrics_url)
        start = CpuMark.take(floor.server_pid, process.pid)
        run = await measure(stack.client, task_queue)
        await scrape_settled(stack.metrics_url)
        end = CpuMark.take(floor.server_pid, process.pid)
    return Beside(
        floor_seconds=floor.seconds,
        seconds=run.seconds,
        cpu_floor=CpuSpent.between(floor.cpu_start, start, changes, floor.idle),
        cpu=CpuSpent.between(start, end, changes, floor.idle),
    )


@dataclass(frozen=True)
class ShapeFloors:
    changes: int
    shape: Beside
    # None: the yardstick without the driver failed or ran out of time.
    direct: Beside | None

    def rollout_x_shape(self, rollout_x_floor: float) -> float:
        """The rollout's multiple of its Temporal floor over the shape's multiple of its own."""
        return rollout_x_floor / self.shape.x_floor

    def figures(self, rollout_x_floor: float | None) -> dict[str, Any]:
        """The report's ``shape`` figures."""
        ratio = None if rollout_x_floor is None else self.rollout_x_shape(rollout_x_floor)
        return {
            "changes": self.changes,
            **self.shape.figures(),
            "rollout_x_shape": None if ratio is None else round(ratio, 2),
            "direct": None if self.direct is None else self.direct.figures(),
        }


def time_limit(changes: int, in_flight: int, device_delay: float) -> float:
    """Seconds a yardstick may take before it counts as failed: ten times the devices' own
    time, plus ten minutes for the servers (a hung one must not hang the benchmark)."""
    rounds = -(-changes // in_flight)
    return 600.0 + 10 * rounds * device_delay


async def shape_part(
    args: argparse.Namespace, module: str, say: Callable[[str], None]
) -> ShapeFloors | None:
    """Both shape floors; None (said why) when the run is too large for the driver or the
    driven yardstick failed: the rest of the benchmark goes on either way."""
    changes = args.locks * (args.updates + args.creates + args.deletes)
    # As the rollout: at most one change per lock in flight.
    in_flight = min(args.max_in_flight, args.locks)
    say(
        f"shape floor: {changes} changes made of this shape's bare Temporal operations and the "
        "device delay, with none of nukiflow's workflow or activity code (its converter and "
        f"worker are shared): a driver workflow, {in_flight} at a time, each an activity "
        f"sending Update-with-Start to a workflow of its own that runs one "
        f"{args.device_delay:g} s activity; on a dev server and a worker of its own"
    )
    if changes > MAX_SHAPE_CHANGES:
        say(f"  not measured: the driver runs at most {MAX_SHAPE_CHANGES:,} changes")
        return None
    limit = time_limit(changes, in_flight, args.device_delay)
    sizes = {"changes": changes, "max_in_flight": in_flight, "device_delay": args.device_delay}

    async def beside(floor: Callable[..., Awaitable[ShapeRun]], name: str) -> Beside | None:
        try:
            async with asyncio.timeout(limit):
                return await measure_beside_floor(
                    args, module, changes, functools.partial(floor, **sizes), name
                )
        except Exception as exc:  # a yardstick that failed must not cost the run its report
            say(f"  {name}: not measured: {type(exc).__name__}: {exc}")
            return None

    shape = await beside(shape_floor, "shape")
    if shape is None:
        return None
    say(
        f"  {shape.seconds:.1f} s = {shape.x_floor:.2f}x the Temporal floor measured just "
        f"before it ({shape.floor_seconds:.1f} s, the same server and worker)"
    )
    say("  " + cpu_line(shape.cpu_floor, shape.cpu))
    alone = await beside(direct_floor, "direct")
    if alone is not None:
        say(
            f"  without the driver, on another fresh server (each Update-with-Start sent by "
            f"the benchmark, {in_flight} at a time): {alone.seconds:.1f} s = "
            f"{alone.x_floor:.2f}x its Temporal floor ({alone.floor_seconds:.1f} s); "
            + cpu_line(
                alone.cpu_floor, alone.cpu, "CPU per change (the benchmark's own not counted)"
            )
        )
    return ShapeFloors(changes=changes, shape=shape, direct=alone)
