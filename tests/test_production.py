"""The production path: Temporal's client configuration, the worker process (SIGTERM, probes,
metrics) and its logs."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from nukiflow.activities.nuki_client import NukiClient
from nukiflow.client import NukiFlow
from nukiflow.contracts.auth import OutcomeStatus
from nukiflow.devtools.ports import free_port
from nukiflow.settings import Settings
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.server import SimulatorServer
from nukiflow.simulator.settings import Faults
from nukiflow.temporal.health import health_server
from nukiflow.temporal.logs import JsonFormatter, RedactingFilter
from nukiflow.temporal.worker import build_worker
from tests.conftest import CODEC_KEYS, TOKEN, StartWorker

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No NUKIFLOW_/TEMPORAL_ variables, and no Temporal config file from the machine."""
    for name in list(os.environ):
        if name.startswith(("NUKIFLOW_", "TEMPORAL_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "absent.toml"))
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_settings_from_the_environment(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("file-token\n")
    clean_env.setenv("NUKIFLOW_NUKI_URL", "https://api.nuki.io")
    clean_env.setenv("NUKIFLOW_NUKI_TOKEN_FILE", str(token_file))
    clean_env.setenv("NUKIFLOW_TASK_QUEUE", "locks")
    clean_env.setenv("NUKIFLOW_HEALTH_PORT", "8088")
    clean_env.setenv("NUKIFLOW_MAX_CONCURRENT_ACTIVITIES", "50")
    clean_env.setenv("NUKIFLOW_LOG_FORMAT", "json")
    settings = Settings()
    assert settings.require_nuki() == ("https://api.nuki.io", "file-token")
    assert settings.task_queue == "locks"
    assert settings.health_port == 8088
    assert settings.max_concurrent_activities == 50
    assert settings.log_format == "json"
    assert settings.temporal_address == "localhost:7233"
    assert "file-token" not in repr(settings)


def test_settings_follow_temporals_client_configuration(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "temporal.toml"
    config.write_text(
        """
[profile.default]
address = "localhost:7233"

[profile.prod]
address = "acme.a1b2c.tmprl.cloud:7233"
namespace = "acme.a1b2c"
api_key = "cloud-api-key"
"""
    )
    clean_env.setenv("TEMPORAL_CONFIG_FILE", str(config))
    clean_env.setenv("TEMPORAL_PROFILE", "prod")
    settings = Settings()
    assert settings.temporal_address == "acme.a1b2c.tmprl.cloud:7233"
    assert settings.temporal_namespace == "acme.a1b2c"
    options = settings.temporal_connect_options()
    assert options["api_key"] == "cloud-api-key"
    assert options["target_host"] == "acme.a1b2c.tmprl.cloud:7233"
    assert "cloud-api-key" in settings.secret_values()

    # Temporal's own variables override the profile; nukiflow's own override both.
    clean_env.setenv("TEMPORAL_NAMESPACE", "other")
    assert Settings().temporal_namespace == "other"
    clean_env.setenv("NUKIFLOW_TEMPORAL_ADDRESS", "127.0.0.1:7233")
    assert Settings().temporal_connect_options()["target_host"] == "127.0.0.1:7233"


def test_a_broken_temporal_profile_is_a_clear_error(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "temporal.toml"
    config.write_text("[profile.default\naddress = ")
    clean_env.setenv("TEMPORAL_CONFIG_FILE", str(config))
    with pytest.raises(ValueError, match="TEMPORAL_CONFIG_FILE"):
        Settings()


async def test_health_endpoints_follow_the_worker(
    temporal_client: Client, simulator: SimulatorServer, task_queue: str
) -> None:
    async with NukiClient(TOKEN, simulator.base_url) as nuki:
        worker = build_worker(temporal_client, nuki, task_queue)
        async with (
            health_server(temporal_client, worker, "127.0.0.1", 0) as health,
            httpx.AsyncClient(base_url=health.base_url) as http,
        ):
            assert (await http.get("/healthz")).status_code == 200
            before = await http.get("/readyz")
            assert before.status_code == 503 and "not polling" in before.json()["reason"]
            async with worker:
                # The worker starts polling a moment after it is entered (on a loaded machine,
                # seconds).
                for _ in range(400):
                    ready = await http.get("/readyz")
                    if ready.status_code == 200:
                        break
                    await asyncio.sleep(0.05)
                assert ready.status_code == 200, ready.text
            after = await http.get("/readyz")
            assert after.status_code == 503


async def test_sigterm_in_the_middle_of_a_change_loses_nothing(
    temporal_env: WorkflowEnvironment,
    simulator: SimulatorServer,
    sim: SimulatorControl,
    flow: NukiFlow,
    task_queue: str,
    start_worker: StartWorker,
    tmp_path: Path,
) -> None:
    """A worker process is stopped with SIGTERM after it wrote and before the lock applied:
    a second worker finishes the change, writing nothing twice. The first worker served its
    probes and metrics meanwhile."""
    health_port, metrics_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUKIFLOW_", "TEMPORAL_"))}
    env.update(
        NUKIFLOW_TEMPORAL_ADDRESS=temporal_env.client.service_client.config.target_host,
        NUKIFLOW_TASK_QUEUE=task_queue,
        NUKIFLOW_NUKI_URL=simulator.base_url,
        NUKIFLOW_NUKI_TOKEN=TOKEN,
        NUKIFLOW_CODEC_KEYS=",".join(key.to_text() for key in CODEC_KEYS),
        NUKIFLOW_HEALTH_HOST="127.0.0.1",
        NUKIFLOW_HEALTH_PORT=str(health_port),
        NUKIFLOW_METRICS_BIND=f"127.0.0.1:{metrics_port}",
        NUKIFLOW_GRACEFUL_SHUTDOWN_SECONDS="1",
        NUKIFLOW_LOG_FORMAT="json",
        TEMPORAL_CONFIG_FILE=str(tmp_path / "absent.toml"),
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
        # Offline, the lock holds what it is sent: the change stays unapplied until the second
        # worker runs, however long stopping the first one takes.
        await sim.set_faults(Faults(offline_mode="hold"), lock.smartlock_id)
        await sim.set_online(lock.smartlock_id, False)
        change = asyncio.create_task(flow.update_auth(lock.smartlock_id, auth.id, {"code": 565656}))
        for _ in range(500):
            if any(r.method == "POST" for r in await sim.requests()):
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the worker process never wrote the change")
        async with httpx.AsyncClient() as http:
            ready = await http.get(f"http://127.0.0.1:{health_port}/readyz")
            assert ready.status_code == 200, ready.text
            metrics = await http.get(f"http://127.0.0.1:{metrics_port}/metrics")
            assert metrics.status_code == 200 and "temporal_" in metrics.text
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, output.decode()
        assert not change.done()
        await start_worker()
        await sim.set_online(lock.smartlock_id, True)
        outcome = await asyncio.wait_for(change, 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    accepted = [r for r in await sim.requests() if r.method == "POST" and r.status == 204]
    assert len(accepted) == 1, "the change was written once, by the first worker"
    lines = [json.loads(line) for line in output.decode().splitlines() if line.startswith("{")]
    assert any("shutting down" in entry["message"] for entry in lines)
    text = output.decode()
    assert TOKEN not in text and "565656" not in text and "545454" not in text


def test_log_redaction_and_json_lines() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(["tok-123-secret"]))
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("nukiflow.test.redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("token %s, code %d, smartlock 17234758180, 3 writes", "tok-123-secret", 555123)
        try:
            raise ValueError("input_value=555124")
        except ValueError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "token ******, code ******, smartlock 17234758180, 3 writes"
    assert first["level"] == "warning" and first["logger"] == "nukiflow.test.redaction"
    assert "555124" not in second["exception"] and "ValueError" in second["exception"]
