"""`python worker.py` (and so `nukiflow worker`): a worker alone against the configured Temporal
and Nuki API, as in production, that shuts down gracefully on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from nukiflow.client import NukiFlow
from nukiflow.contracts.auth import OutcomeStatus
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.server import SimulatorServer
from tests.conftest import CODEC_KEYS, TOKEN

ROOT = Path(__file__).resolve().parent.parent


async def test_worker_py_serves_changes_and_stops_on_sigterm(
    temporal_env: WorkflowEnvironment,
    simulator: SimulatorServer,
    sim: SimulatorControl,
    flow: NukiFlow,
    task_queue: str,
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUKIFLOW_")}
    env.update(
        NUKIFLOW_TEMPORAL_ADDRESS=temporal_env.client.service_client.config.target_host,
        NUKIFLOW_TASK_QUEUE=task_queue,
        NUKIFLOW_NUKI_URL=simulator.base_url,
        NUKIFLOW_NUKI_TOKEN=TOKEN,
        NUKIFLOW_CODEC_KEYS=",".join(key.to_text() for key in CODEC_KEYS),
        NUKIFLOW_STATE_DIR=str(tmp_path),
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "worker.py"),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        lock = await sim.add_lock()
        auth = await sim.add_auth(lock.smartlock_id, name="guest", code=545454)
        outcome = await asyncio.wait_for(
            flow.update_auth(lock.smartlock_id, auth.id, {"code": 565656}), 30
        )
        assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
        assert (await sim.device(lock.smartlock_id)).auths[0].code == 565656
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 30)
    log = output.decode()
    assert process.returncode == 0, log
    assert "shutting down" in log
    assert TOKEN not in log and "565656" not in log
