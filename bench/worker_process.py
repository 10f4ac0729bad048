"""A nukiflow worker in a process of its own, for the benchmarks and the chaos suite.

The parent starts ``python -m <module> --serve-worker`` with the settings below in the
environment; the module's ``--serve-worker`` calls :func:`serve_worker`, which prints ``READY``
once it polls and runs until SIGTERM (graceful) or SIGKILL (a crash: nothing is cleaned up,
which is the point of the chaos suite). A process of its own gives a worker its own peak memory
to measure, and a real death to survive.

Environment: ``BENCH_TEMPORAL`` (address), ``BENCH_KEYS`` (codec keys), ``BENCH_TASK_QUEUE``,
``BENCH_TOKEN`` and ``BENCH_SIM_URL`` (the fake cloud), optional ``BENCH_ACTIVITY_SLOTS``,
``BENCH_TIMING`` (a :class:`~nukiflow.contracts.timing.WorkflowTiming` as JSON: the timing of the
changes rollout items send; default: the production defaults), ``BENCH_STICKY_SECONDS`` (how
soon a dead worker's cached workflows move to another; default: Temporal's),
``BENCH_ACCOUNTS_FILE`` (an accounts file: the worker serves each account's activity queue
too, ``BENCH_TOKEN`` being the default account), ``BENCH_MAX_CACHED_WORKFLOWS`` (the worker's
workflow cache; default: Temporal's, 1,000).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from temporalio.client import Client

from nukiflow.contracts.timing import WorkflowTiming
from nukiflow.temporal.codec import Keyring
from nukiflow.temporal.converter import data_converter

READY = b"READY"
STARTUP_TIMEOUT = 60.0


async def serve_worker(
    extra_workflows: Sequence[type] = (),
    extra_activities: Sequence[Callable[..., Any]] = (),
) -> None:
    """Run a worker with every nukiflow workflow (fleet ones included) until SIGTERM; the
    extra workflows and activities (a benchmark's yardsticks) run beside them."""
    from nukiflow.accounts import FileCredentialProvider
    from nukiflow.accounts.clients import AccountClients
    from nukiflow.client import NukiFlow
    from nukiflow.temporal.worker import account_workers, build_worker

    env = os.environ
    client = await Client.connect(
        env["BENCH_TEMPORAL"],
        namespace="default",
        data_converter=data_converter(Keyring.parse(env["BENCH_KEYS"])),
    )
    task_queue = env["BENCH_TASK_QUEUE"]
    timing = WorkflowTiming.model_validate_json(env.get("BENCH_TIMING") or "{}")
    options: dict[str, Any] = {
        # Rollout items wait in activities: room for them and for the auths' own.
        "max_concurrent_activities": int(env.get("BENCH_ACTIVITY_SLOTS", "1000")),
    }
    if env.get("BENCH_MAX_CACHED_WORKFLOWS"):
        options["max_cached_workflows"] = int(env["BENCH_MAX_CACHED_WORKFLOWS"])
    if env.get("BENCH_STICKY_SECONDS"):
        sticky = timedelta(seconds=float(env["BENCH_STICKY_SECONDS"]))
        options["sticky_queue_schedule_to_start_timeout"] = sticky
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    accounts_file = env.get("BENCH_ACCOUNTS_FILE")
    provider = FileCredentialProvider.from_file(
        Path(accounts_file) if accounts_file else None, default_token=env["BENCH_TOKEN"]
    )
    async with (
        await AccountClients.open(provider, env["BENCH_SIM_URL"]) as clients,
        contextlib.AsyncExitStack() as stack,
    ):
        flow = NukiFlow(client, task_queue=task_queue, timing=timing)
        shutdown = timedelta(seconds=5)
        worker = build_worker(
            client,
            clients[None],
            task_queue,
            flow=flow,
            graceful_shutdown=shutdown,
            # Beside nukiflow's own (the plugin adds those).
            workflows=list(extra_workflows),
            activities=list(extra_activities),
            **options,
        )
        for each in [worker, *account_workers(client, clients, flow, graceful_shutdown=shutdown)]:
            await stack.enter_async_context(each)
        sys.stdout.buffer.write(READY + b"\n")
        sys.stdout.flush()
        await stop.wait()


def worker_environment(env: dict[str, str]) -> dict[str, str]:
    """The worker's environment: this one and ``env``.

    Python's bytecode settings are left as they are (``PYTHONDONTWRITEBYTECODE`` too): the
    worker keeps the compiled code of the workflow modules Temporal's sandbox imports afresh for
    every run (``nukiflow/temporal/workflow_code.py``), as a deployed worker does.
    """
    return {**os.environ, **env}


async def start_worker_process(
    module: str, env: dict[str, str], *, log: IO[bytes] | Path | None = None
) -> asyncio.subprocess.Process:
    """Start ``python -m module --serve-worker`` and return once it polls.

    ``log`` receives the worker's stderr (its log lines); None keeps the parent's. The process
    gets a session of its own, so a Ctrl-C in the terminal reaches the parent only, which then
    stops its workers itself.
    """
    handle: IO[bytes] | None
    handle = log.open("ab") if isinstance(log, Path) else log
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            "--serve-worker",
            env=worker_environment(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=handle,
            start_new_session=True,
        )
    finally:
        if isinstance(log, Path) and handle is not None:
            handle.close()
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), timeout=STARTUP_TIMEOUT)
    except BaseException:
        await kill_process(process)
        raise
    if line.strip() != READY:
        await kill_process(process)
        raise RuntimeError(f"the worker process did not start: {line!r}")
    return process


async def kill_process(process: asyncio.subprocess.Process) -> None:
    """SIGKILL and reap (nothing happens if it is gone already)."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    await process.wait()


async def stop_process(process: asyncio.subprocess.Process, wait_seconds: float = 30) -> None:
    """SIGTERM (the worker lets running activities finish), then SIGKILL after a while."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout=wait_seconds)
        except TimeoutError:
            await kill_process(process)
