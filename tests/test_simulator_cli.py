"""`nukiflow simulator` serves the fake cloud on its own and prints its base URL."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import sys
from pathlib import Path

import httpx

from nukiflow.models.wire import Smartlock


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_simulator_command_serves_seeded_locks_and_stops_on_sigint() -> None:
    port = _free_port()
    script = Path(sys.executable).parent / "nukiflow"
    process = await asyncio.create_subprocess_exec(
        str(script),
        "simulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--token",
        "sim-token-for-test",
        "--locks",
        "3",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    try:
        printed = ""
        while f"http://127.0.0.1:{port}" not in printed:
            line = await asyncio.wait_for(process.stdout.readline(), 20)
            assert line, f"the simulator exited early: {printed}"
            printed += line.decode()
        base_url = re.search(r"http://127\.0\.0\.1:\d+", printed)
        assert base_url is not None
        assert "sim-token-for-test" not in printed, "the token is hinted at, not printed"
        async with httpx.AsyncClient(
            base_url=base_url.group(0), headers={"Authorization": "Bearer sim-token-for-test"}
        ) as http:
            answer = await http.get("/smartlock")
            assert answer.status_code == 200
            locks = [Smartlock.model_validate(item) for item in answer.json()]
            assert len(locks) == 3 and all(lock.keypad_paired for lock in locks)
            assert (
                await http.get("/smartlock", headers={"Authorization": "Bearer x"})
            ).status_code == 401
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 20)
    assert process.returncode == 0
