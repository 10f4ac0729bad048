"""`nukiflow simulator` and `python -m nukiflow.simulator` serve the fake cloud on their own and
print its base URL and token."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import nukiflow.simulator
from nukiflow.cli import app
from nukiflow.contracts.wire import Smartlock
from nukiflow.devtools.ports import free_port
from nukiflow.devtools.stack import DEV_NUKI_TOKEN
from nukiflow.simulator.__main__ import build_parser
from nukiflow.simulator.standalone import DEV_TOKEN, _token_hint

SCRIPT = str(Path(sys.executable).parent / "nukiflow")


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@asynccontextmanager
async def serving(
    *command: str,
    stop_with: signal.Signals = signal.SIGINT,
    sigint_ignored: bool = False,
) -> AsyncIterator[tuple[str, str]]:
    """Start the simulator; yields its base URL and what it printed up to its control line,
    then stops it with ``stop_with`` and expects a clean exit. ``sigint_ignored``: started
    as a background job of a script is, with SIGINT ignored.

    NUKIFLOW_SIM_TOKEN is cleared: the defaults are what is tested."""
    env = {k: v for k, v in os.environ.items() if k != "NUKIFLOW_SIM_TOKEN"}
    process = await asyncio.create_subprocess_exec(
        *command,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        preexec_fn=_ignore_sigint if sigint_ignored else None,
    )
    assert process.stdout is not None
    try:
        printed = ""
        while "Control surface" not in printed:
            line = await asyncio.wait_for(process.stdout.readline(), 20)
            assert line, f"the simulator exited early: {printed}"
            printed += line.decode()
        base_url = re.search(r"http://127\.0\.0\.1:\d+", printed)
        assert base_url is not None
        yield base_url.group(0), printed
    finally:
        process.send_signal(stop_with)
        try:
            await asyncio.wait_for(process.wait(), 20)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert process.returncode == 0


async def test_simulator_command_serves_seeded_locks_and_stops_on_sigint() -> None:
    port = free_port()
    async with serving(
        SCRIPT,
        "simulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--token",
        "sim-token-for-test",
        "--locks",
        "3",
    ) as (base_url, printed):
        assert base_url == f"http://127.0.0.1:{port}"
        assert "sim-token-for-test" not in printed, "a chosen token is hinted at, not printed"
        assert "Bearer token: sim-… (18 characters)" in printed
        async with httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": "Bearer sim-token-for-test"}
        ) as http:
            answer = await http.get("/smartlock")
            assert answer.status_code == 200
            locks = [Smartlock.model_validate(item) for item in answer.json()]
            assert len(locks) == 3 and all(lock.keypad_paired for lock in locks)
            assert (
                await http.get("/smartlock", headers={"Authorization": "Bearer x"})
            ).status_code == 401


@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGTERM], ids=["int", "term"])
async def test_stops_cleanly_on_sigint_and_sigterm_also_started_with_sigint_ignored(
    stop_with: signal.Signals,
) -> None:
    async with serving(
        SCRIPT,
        "simulator",
        "--port",
        str(free_port()),
        "--locks",
        "1",
        stop_with=stop_with,
        sigint_ignored=True,
    ):
        pass


@pytest.mark.parametrize(
    "command",
    [[SCRIPT, "simulator"], [sys.executable, "-m", "nukiflow.simulator"]],
    ids=["nukiflow-simulator", "python-m"],
)
async def test_both_entry_points_default_to_the_printed_dev_token(command: list[str]) -> None:
    async with serving(*command, "--port", str(free_port()), "--locks", "1") as (
        base_url,
        printed,
    ):
        assert f"Bearer token: {DEV_TOKEN}\n" in printed
        async with httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {DEV_TOKEN}"}
        ) as http:
            assert (await http.get("/smartlock")).status_code == 200


def test_one_default_token_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    assert build_parser().parse_args([]).token == DEV_TOKEN
    # `nukiflow dev` gives its fake cloud the same well-known token.
    assert DEV_NUKI_TOKEN == DEV_TOKEN

    served: dict[str, Any] = {}
    monkeypatch.setattr(nukiflow.simulator, "run", lambda **kwargs: served.update(kwargs))
    monkeypatch.delenv("NUKIFLOW_SIM_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["simulator"])
    assert result.exit_code == 0, result.output
    assert served["token"] == DEV_TOKEN

    monkeypatch.setenv("NUKIFLOW_SIM_TOKEN", "from-the-environment")
    result = CliRunner().invoke(app, ["simulator"])
    assert result.exit_code == 0, result.output
    assert served["token"] == "from-the-environment"


def test_token_hint_prints_only_the_dev_token_in_full() -> None:
    assert _token_hint(DEV_TOKEN) == DEV_TOKEN
    hint = _token_hint("a-real-looking-secret-token")
    assert "secret" not in hint and hint.startswith("a-re")
