"""A fleet benchmark stopped with SIGTERM stops what it started, as it does on Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

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
