"""A fleet benchmark stopped with SIGTERM stops what it started, as it does on Ctrl-C, and its
loops that ask Temporal again do not swallow the cancellation that stops it."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import pytest
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError

from bench.chaos_truth import persist
from bench.entity_parts import Changer
from nukiflow.client import NukiFlow

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import argparse, asyncio, pathlib, sys
from bench.fleet_parts import bench_main

async def run(args):
    try:
        print("ready", flush=True)
        await asyncio.sleep(3600)
    finally:
        pathlib.Path(sys.argv[1]).write_text("stopped what it started")

bench_main(argparse.Namespace(serve_worker=False), run)
"""


async def test_sigterm_cancels_the_run_so_its_cleanup_runs(tmp_path: Path) -> None:
    marker = tmp_path / "cleanup"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SCRIPT,
        str(marker),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(60):
            assert (await process.stdout.readline()).strip() == b"ready"
            process.send_signal(signal.SIGTERM)
            status = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert status == 128 + signal.SIGTERM
    assert marker.read_text() == "stopped what it started"


async def _call_until_cancelled(started: asyncio.Event) -> Any:
    """An update call as Temporal's client makes it: cancelled, it raises
    WorkflowUpdateRPCTimeoutOrCancelledError rather than CancelledError."""
    started.set()
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        raise WorkflowUpdateRPCTimeoutOrCancelledError() from None


async def _ends_cancelled(run: Callable[[asyncio.Event], Awaitable[Any]]) -> None:
    started = asyncio.Event()
    task = asyncio.ensure_future(run(started))
    await started.wait()
    task.cancel()
    # A stopped loop ends within one pass (no network here); one that asks again never does.
    done, _ = await asyncio.wait({task}, timeout=10)
    if not done:
        # Stop it for good, so it does not outlive the test in the session's loop.
        for _ in range(100):
            task.cancel()
            await asyncio.sleep(0)
    assert done, "the loop went on asking after its task was cancelled"
    with pytest.raises(asyncio.CancelledError):
        task.result()


async def test_the_chaos_suites_persistent_caller_stops_when_cancelled() -> None:
    await _ends_cancelled(lambda started: persist(lambda: _call_until_cancelled(started)))


class _Flow:
    def __init__(self, started: asyncio.Event) -> None:
        self._started = started

    async def update_auth(self, *args: object, **kwargs: object) -> Any:
        return await _call_until_cancelled(self._started)


async def test_the_entity_benchmarks_changer_stops_when_cancelled() -> None:
    await _ends_cancelled(
        lambda started: Changer(cast(NukiFlow, _Flow(started)), 1).change(1, "a" * 24)
    )
