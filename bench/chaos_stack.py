"""What the chaos suite runs and breaks: a Temporal dev server on a SQLite file (killed and
restarted on the same database), the fake Nuki cloud (in this process, so its request log and
devices share this process's monotonic clock) and worker processes killed with SIGKILL.

Every process started here is registered in :data:`STARTED` and stopped by :meth:`Stack.stop`;
:func:`kill_leftovers` is the last resort of the entry point (Ctrl-C, errors).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

from bench.worker_process import kill_process, start_worker_process, stop_process
from nukiflow.contracts.timing import PollTiming, RetryTiming, WorkflowTiming
from nukiflow.devtools.ports import free_port
from nukiflow.devtools.temporal_server import TemporalDevServer
from nukiflow.simulator import Faults, SimSettings, SimulatorControl, SimulatorServer
from nukiflow.simulator.control_models import RequestRecord
from nukiflow.temporal.codec import Keyring
from nukiflow.temporal.converter import data_converter

# Process ids of every child started (workers, the Temporal server), for the last resort.
STARTED: set[int] = set()

# The fake devices' pace; the timing below is scaled to it (a fast window of about seven
# device delays, so a lost create is sent again within a few device delays).
DEVICE_DELAY = 0.3
ACTION_TIME = 0.4
TIMING = WorkflowTiming(
    poll=PollTiming(
        fast_window_seconds=2.0,
        fast_first_interval_seconds=0.1,
        fast_max_interval_seconds=0.25,
        cold_pace_seconds=0.6,
        slow_initial_interval_seconds=0.5,
        slow_max_interval_seconds=2.0,
        heartbeat_timeout_seconds=3.0,
    ),
    retry=RetryTiming(
        initial_interval_seconds=0.2, backoff=1.5, max_interval_seconds=2.0, call_timeout_seconds=5
    ),
)
# A dead worker's cached workflows move to the next one after this long.
STICKY_SECONDS = 1.0
# How long a write's answer is held back when a kill is meant to land after the cloud took it.
HELD_ANSWER = 1.0
WRITES = {"PUT", "POST", "DELETE"}


def kill_leftovers() -> None:
    """SIGKILL whatever is still registered (the entry point's ``finally``)."""
    for pid in list(STARTED):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
        STARTED.discard(pid)


class Stack:
    """Temporal (SQLite in ``workdir``), the fake cloud, a client and the fake cloud's control."""

    def __init__(self, workdir: Path, seed: int) -> None:
        self.workdir = workdir
        self.keys = Keyring.generate("chaos")
        self.token = "chaos-" + uuid.uuid4().hex
        self.temporal = TemporalDevServer(
            port=free_port(),
            ui_port=None,
            db_file=workdir / "temporal.db",
            log_file=workdir / "temporal.log",
        )
        self.simulator = SimulatorServer(
            token=self.token,
            seed=seed,
            settings=SimSettings(device_delay=DEVICE_DELAY, action_time=ACTION_TIME),
        )
        self._client: Client | None = None
        self._sim: SimulatorControl | None = None

    @property
    def client(self) -> Client:
        assert self._client is not None, "the stack is not started"
        return self._client

    @property
    def sim(self) -> SimulatorControl:
        assert self._sim is not None, "the stack is not started"
        return self._sim

    async def start(self) -> None:
        await self._start_temporal()
        self._client = await self._connect()
        await self.simulator.start()
        self._sim = SimulatorControl(self.simulator.base_url, self.token)

    async def _start_temporal(self) -> None:
        await self.temporal.start()
        if self.temporal.pid is not None:
            STARTED.add(self.temporal.pid)

    async def _connect(self) -> Client:
        # The callers ride out the server's restarts on purpose: no warning per retried call.
        quiet = TelemetryConfig(
            logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                return await Client.connect(
                    self.temporal.address,
                    data_converter=data_converter(self.keys),
                    runtime=Runtime(telemetry=quiet),
                )
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def kill_temporal(self) -> None:
        """SIGKILL the server: no shutdown, whatever it had not written to SQLite is lost."""
        process = self.temporal.process
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()
            STARTED.discard(process.pid)
        await self.temporal.stop()  # closes its log

    async def restart_temporal(self, down_seconds: float = 0.0) -> None:
        """Kill the server, stay down a moment, start it again on the same database and port."""
        await self.kill_temporal()
        try:
            await asyncio.sleep(down_seconds)
        finally:
            # Also when the suite is stopped meanwhile: what follows needs a server.
            await self._start_temporal()

    def worker_env(self, task_queue: str) -> dict[str, str]:
        return {
            "BENCH_TEMPORAL": self.temporal.address,
            "BENCH_KEYS": self.keys.to_text(),
            "BENCH_TASK_QUEUE": task_queue,
            "BENCH_TOKEN": self.token,
            "BENCH_SIM_URL": self.simulator.base_url,
            "BENCH_TIMING": TIMING.model_dump_json(),
            "BENCH_STICKY_SECONDS": str(STICKY_SECONDS),
        }

    async def stop(self) -> None:
        """Everything this stack started, each step run even if one before failed."""
        if self._sim is not None:
            with contextlib.suppress(Exception):
                await self._sim.aclose()
            self._sim = None
        with contextlib.suppress(Exception):
            await self.simulator.stop()
        process = self.temporal.process
        with contextlib.suppress(Exception):
            await self.temporal.stop()
        if process is not None:
            STARTED.discard(process.pid)
        self._client = None


class Workers:
    """One worker process on a scenario's task queue, replaced after every kill."""

    def __init__(self, stack: Stack, task_queue: str, log: Path) -> None:
        self.stack = stack
        self.task_queue = task_queue
        self.log = log
        self.kills = 0
        # Worker processes that ended by themselves (e.g. when Temporal went away).
        self.deaths = 0
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        process = await start_worker_process(
            "bench.chaos", self.stack.worker_env(self.task_queue), log=self.log
        )
        STARTED.add(process.pid)
        self._process = process

    async def kill_and_replace(self) -> None:
        """SIGKILL the worker (its activities and cached workflows just vanish), start another."""
        process, self._process = self._process, None
        if process is not None:
            await kill_process(process)
            STARTED.discard(process.pid)
            self.kills += 1
        await self.start()

    async def watch(self, stop: asyncio.Event) -> None:
        """Start another worker whenever the running one ended by itself (not for kills:
        :meth:`kill_and_replace` replaces its own)."""
        while not await _stopped(stop, 1.0):
            process = self._process
            if process is not None and process.returncode is not None:
                STARTED.discard(process.pid)
                self._process = None
                self.deaths += 1
                await self.start()

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            await stop_process(process, wait_seconds=10)
            STARTED.discard(process.pid)


@dataclass
class FaultPlan:
    """Each lock's own faults, and the slow answer switched on for a kill after a request."""

    base: dict[int, Faults] = field(default_factory=dict)

    async def apply(self, sim: SimulatorControl, *, held_answers: bool = False) -> None:
        for lock, faults in self.base.items():
            if held_answers:
                faults = faults.model_copy(
                    update={
                        "slow_response": HELD_ANSWER,
                        "slow_rate": 1.0,
                        "slow_writes_only": True,
                    }
                )
            await sim.set_faults(faults, lock)


@dataclass
class KillPlan:
    """The kills of one scenario: ``quota`` of them, each at a random moment or right after a
    write reached the fake cloud (its answer held back, so the worker dies before it hears it).
    Drawn from the scenario's own random generator before anything runs."""

    modes: list[str]
    pauses: list[float]

    @classmethod
    def draw(cls, rng: random.Random, quota: int, pause: tuple[float, float]) -> KillPlan:
        modes = ["after-request" if i % 2 else "random" for i in range(quota)]
        rng.shuffle(modes)
        return cls(modes=modes, pauses=[rng.uniform(*pause) for _ in range(quota)])


async def run_kills(
    plan: KillPlan,
    workers: Workers,
    sim: SimulatorControl,
    faults: FaultPlan,
    is_target: Callable[[RequestRecord], bool],
    stop: asyncio.Event,
) -> list[str]:
    """Carry out the kill plan until it is done or ``stop`` is set; returns what each kill hit
    (``random`` or the request it followed)."""
    hits: list[str] = []
    for mode, pause in zip(plan.modes, plan.pauses, strict=True):
        if await _stopped(stop, pause):
            break
        if mode == "random":
            await workers.kill_and_replace()
            hits.append("random moment")
            continue
        cursor = len(await sim.requests())
        await faults.apply(sim, held_answers=True)
        try:
            hit = await _next_write(sim, cursor, is_target, stop)
            if hit is None:
                break
            # The answer of this write is still held back: the worker dies before hearing it.
            await workers.kill_and_replace()
            hits.append(f"{hit.method} {hit.path} ({hit.status}), answer held")
        finally:
            await faults.apply(sim)
    return hits


async def _stopped(stop: asyncio.Event, pause: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=pause)
    return stop.is_set()


async def _next_write(
    sim: SimulatorControl,
    cursor: int,
    is_target: Callable[[RequestRecord], bool],
    stop: asyncio.Event,
) -> RequestRecord | None:
    while not stop.is_set():
        records = await sim.requests(since=cursor)
        cursor += len(records)
        for record in records:
            if record.method in WRITES and is_target(record):
                return record
        await asyncio.sleep(0.02)
    return None


def lock_of(record: RequestRecord) -> int | None:
    """The smartlock a Nuki API request names (None for account-wide paths)."""
    parts = record.path.split("/")
    if len(parts) > 2 and parts[1] == "smartlock" and parts[2].isdigit():
        return int(parts[2])
    return None
