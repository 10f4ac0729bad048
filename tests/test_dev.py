"""`nukiflow dev` as a user runs it: the console script of the virtual environment, not
activated, on a temporary state directory and free ports. It must print where everything is,
serve the operator commands, stop every child on SIGTERM or Ctrl-C, and keep its workflows
across a restart.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.service import RPCError
from typer.testing import CliRunner

from nukiflow.cli import app
from nukiflow.contracts.drift import DriftLedgerView
from nukiflow.contracts.entity import auth_workflow_id
from nukiflow.contracts.events import drift_ledger_workflow_id
from nukiflow.devtools.ports import free_port
from nukiflow.simulator.control import SimulatorControl
from nukiflow.temporal.codec import Keyring
from nukiflow.temporal.converter import data_converter
from tests.webhook_receiver import eventually

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc for child processes")

SCRIPT = Path(sys.executable).parent / "nukiflow"
READY = "nukiflow dev is ready"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a fresh shell: no NUKIFLOW_* settings, no venv on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUKIFLOW_", "VIRTUAL_ENV"))}
    env["PATH"] = "/usr/bin:/bin"
    env.update(extra)
    return env


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may contain spaces, so split after the last ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class Dev:
    process: asyncio.subprocess.Process
    output: list[str]
    ports: dict[str, int]
    state_dir: Path

    @property
    def text(self) -> str:
        return "".join(self.output)

    def env(self) -> dict[str, str]:
        return {
            "NUKIFLOW_TEMPORAL_ADDRESS": f"localhost:{self.ports['temporal']}",
            "NUKIFLOW_STATE_DIR": str(self.state_dir),
        }

    async def stop(self, sig: int) -> int:
        self.process.send_signal(sig)
        await asyncio.wait_for(self.process.wait(), 30)
        assert self.process.stdout is not None
        self.output.append((await self.process.stdout.read()).decode())
        assert self.process.returncode is not None
        return self.process.returncode


async def start_dev(state_dir: Path, ports: dict[str, int]) -> Dev:
    process = await asyncio.create_subprocess_exec(
        str(SCRIPT),
        "dev",
        "--state-dir",
        str(state_dir),
        "--temporal-port",
        str(ports["temporal"]),
        "--ui-port",
        str(ports["ui"]),
        "--nuki-port",
        str(ports["nuki"]),
        "--codec-port",
        str(ports["codec"]),
        env=clean_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    dev = Dev(process, [], ports, state_dir)
    assert process.stdout is not None
    try:
        async with asyncio.timeout(30):
            while READY not in dev.text or "Webhooks" not in dev.text:
                line = await process.stdout.readline()
                if not line:
                    raise AssertionError(f"nukiflow dev ended while starting:\n{dev.text}")
                dev.output.append(line.decode())
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    return dev


@pytest.fixture
async def ports() -> AsyncIterator[dict[str, int]]:
    yield {name: free_port() for name in ("temporal", "ui", "nuki", "codec")}


async def invoke(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    return result.exit_code, result.output


async def test_dev_runs_everything_stops_cleanly_and_keeps_its_workflows(
    tmp_path: Path, ports: dict[str, int]
) -> None:
    state_dir = tmp_path / "state"
    dev = await start_dev(state_dir, ports)
    try:
        text = dev.text
        assert f"localhost:{ports['temporal']}" in text
        assert f"http://localhost:{ports['ui']}" in text
        assert f"http://127.0.0.1:{ports['nuki']}" in text and "nukiflow-dev-token" in text
        lock_id = int(re.search(r"Locks\s+(\d+)", text).group(1))  # type: ignore[union-attr]
        children = children_of(dev.process.pid)
        assert any("temporal server" in cmdline(pid) for pid in children), children
        assert (state_dir / "temporal.db").is_file()
        assert (state_dir / "codec-keys").stat().st_mode & 0o077 == 0

        # The worker works: an unknown auth is looked up on the fake cloud and reported.
        auth_id = "c" * 24
        code, output = await invoke(
            dev.env(), "auth", "update", str(lock_id), auth_id, "--name", "x"
        )
        assert code == 1 and "was not found" in output, output

        # The webhook receiver runs, registered with the fake cloud: a change made on the
        # device reaches Temporal (no entity manages the auth, so the lock's drift ledger).
        hook_url = re.search(r"Webhooks\s+(\S+)", text).group(1)  # type: ignore[union-attr]
        assert hook_url.startswith("http://127.0.0.1:") and hook_url.endswith("/nuki/webhook")
        nuki_env = {
            "NUKIFLOW_NUKI_URL": f"http://127.0.0.1:{ports['nuki']}",
            "NUKIFLOW_NUKI_TOKEN": "nukiflow-dev-token",
        }
        code, output = await invoke(nuki_env, "webhook", "list")
        assert code == 0 and hook_url in output, output
        async with SimulatorControl(nuki_env["NUKIFLOW_NUKI_URL"], "nukiflow-dev-token") as sim:
            added = await sim.add_auth(lock_id, name="From the app", code=545656)
        client = await Client.connect(
            f"localhost:{ports['temporal']}",
            data_converter=data_converter(Keyring.from_file(state_dir / "codec-keys")),
        )
        ledger = client.get_workflow_handle(drift_ledger_workflow_id(lock_id))

        async def recorded() -> bool:
            try:
                view = await ledger.query("state", result_type=DriftLedgerView)
            except RPCError:
                return False
            return [entry.auth_id for entry in view.entries] == [added.id]

        await eventually(recorded, within=20)

        # A second dev on the same state directory is refused while the first runs.
        second = await asyncio.create_subprocess_exec(
            str(SCRIPT),
            "dev",
            "--state-dir",
            str(state_dir),
            "--temporal-port",
            str(free_port()),
            env=clean_env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        refused, _ = await asyncio.wait_for(second.communicate(), 30)
        assert second.returncode == 1 and b"another `nukiflow dev`" in refused
    finally:
        status = await dev.stop(signal.SIGTERM)
    assert status == 0, dev.text
    assert "Stopped" in dev.text
    assert not [pid for pid in children if alive(pid)], "a child outlived nukiflow dev"

    # Started again on the same state directory: the workflow is still there, and its
    # encrypted history still reads (the dev key is kept in the state directory).
    dev = await start_dev(state_dir, ports)
    try:
        children = children_of(dev.process.pid)
        code, output = await invoke(dev.env(), "auth", "show", str(lock_id), auth_id)
        assert code == 0, output
        assert "failed" in output and auth_workflow_id(lock_id, auth_id) in output
    finally:
        status = await dev.stop(signal.SIGINT)  # Ctrl-C
    assert status == 0, dev.text
    assert not [pid for pid in children if alive(pid)], "a child outlived nukiflow dev"


async def test_dev_says_what_is_wrong(tmp_path: Path, ports: dict[str, int]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", ports["temporal"]))
        busy.listen()
        process = await asyncio.create_subprocess_exec(
            str(SCRIPT),
            "dev",
            "--state-dir",
            str(tmp_path / "a"),
            "--temporal-port",
            str(ports["temporal"]),
            "--nuki-port",
            str(ports["nuki"]),
            "--ui-port",
            str(ports["ui"]),
            env=clean_env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1
    assert f"port {ports['temporal']}" in output.decode() and "--temporal-port" in output.decode()

    process = await asyncio.create_subprocess_exec(
        str(SCRIPT),
        "dev",
        "--state-dir",
        str(tmp_path / "b"),
        "--temporal-port",
        str(ports["temporal"]),
        "--nuki-port",
        str(ports["nuki"]),
        "--ui-port",
        str(ports["ui"]),
        env=clean_env(NUKIFLOW_TEMPORAL_BIN=str(tmp_path / "missing")),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1
    assert "NUKIFLOW_TEMPORAL_BIN" in output.decode()
