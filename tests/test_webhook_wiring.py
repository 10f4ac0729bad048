"""How the receiver is configured and run: its settings (secrets from the environment or a
private file), `nukiflow webhook register|list|delete` against the fake cloud, the receiver in
the worker process and alone (`nukiflow webhook-receiver`), and the pieces it is built from
(signatures, reading deliveries, URL checks)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import stat
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from nukiflow.activities.nuki_client import NukiClient
from nukiflow.cli import app
from nukiflow.contracts.drift import DriftLedgerView
from nukiflow.contracts.events import AuthEvent, LockEvent, LockEventKind, drift_ledger_workflow_id
from nukiflow.contracts.validation import InputError
from nukiflow.devtools.ports import free_port
from nukiflow.settings import Settings
from nukiflow.simulator import SimulatorControl, SimulatorServer
from nukiflow.temporal.worker import run_worker
from nukiflow.webhooks import SIGNATURE_HEADER, sign, verify
from nukiflow.webhooks.deliveries import (
    UnhandledFeature,
    UnreadableDelivery,
    event_date,
    parse_delivery,
)
from nukiflow.webhooks.registration import check_features, check_webhook_url
from nukiflow.webhooks.server import run_receiver
from tests.conftest import CODEC_KEYS, TOKEN
from tests.webhook_receiver import eventually

SECRET = "c3" * 20
NOW = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No NUKIFLOW_/TEMPORAL_ variables, and no Temporal config file from the machine."""
    for name in list(os.environ):
        if name.startswith(("NUKIFLOW_", "TEMPORAL_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "absent.toml"))
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def private_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


# ---- settings ---------------------------------------------------------------------------


def test_secrets_from_the_environment_and_a_private_file(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret_file = private_file(
        tmp_path / "secrets", "# rotated 2026-05\nfile-one\n\nfile-two # new\n"
    )
    clean_env.setenv("NUKIFLOW_WEBHOOK_SECRETS", "env-one, env-two,,env-one")
    clean_env.setenv("NUKIFLOW_WEBHOOK_SECRET_FILE", str(secret_file))
    clean_env.setenv("NUKIFLOW_WEBHOOK_PORT", "8443")
    clean_env.setenv("NUKIFLOW_WEBHOOK_MAX_AGE_SECONDS", "600")
    settings = Settings()
    assert settings.webhook_secret_list() == ["env-one", "env-two", "file-one", "file-two"]
    assert (settings.webhook_port, settings.webhook_host) == (8443, "127.0.0.1")
    assert settings.webhook_max_age_seconds == 600
    assert settings.webhook_path == "/nuki/webhook"
    # Masked in logs, never in a repr.
    assert {"env-one", "file-two"} <= set(settings.secret_values())
    assert "env-one" not in repr(settings)


def test_a_secret_file_others_can_read_is_refused(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret_file = private_file(tmp_path / "secrets", "one\n", mode=0o640)
    clean_env.setenv("NUKIFLOW_WEBHOOK_SECRET_FILE", str(secret_file))
    settings = Settings()
    with pytest.raises(RuntimeError, match="chmod 600"):
        settings.webhook_secret_list()
    clean_env.setenv("NUKIFLOW_WEBHOOK_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(RuntimeError, match="cannot be read"):
        Settings().webhook_secret_list()
    clean_env.delenv("NUKIFLOW_WEBHOOK_SECRET_FILE")
    clean_env.setenv("NUKIFLOW_WEBHOOK_SECRETS", "one,tw o")
    with pytest.raises(RuntimeError, match="whitespace"):
        Settings().webhook_secret_list()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NUKIFLOW_WEBHOOK_PATH", "nuki"),
        ("NUKIFLOW_WEBHOOK_PATH", "/a b"),
        ("NUKIFLOW_WEBHOOK_PORT", "70000"),
        ("NUKIFLOW_WEBHOOK_MAX_AGE_SECONDS", "0"),
        ("NUKIFLOW_WEBHOOK_QUEUE_SIZE", "0"),
    ],
)
def test_bad_receiver_settings_are_refused(
    clean_env: pytest.MonkeyPatch, name: str, value: str
) -> None:
    clean_env.setenv(name, value)
    with pytest.raises(ValueError, match=name.removeprefix("NUKIFLOW_").lower()):
        Settings()


# ---- signatures, deliveries, URLs -------------------------------------------------------


def test_verify() -> None:
    body = b'{"feature":"DEVICE_STATUS"}'
    good = sign(SECRET, body).encode()
    assert verify(body, good, [SECRET])
    assert verify(body, good, ["other", SECRET])
    assert verify(body, b"  " + good.upper() + b"\r\n", [SECRET])
    assert not verify(body, good, [])
    assert not verify(body, None, [SECRET])
    assert not verify(body, good[:-1], [SECRET])
    assert not verify(body, good + b"0", [SECRET])
    assert not verify(body + b" ", good, [SECRET])
    assert not verify(body, "é".encode() * 32, [SECRET])


def test_reading_deliveries() -> None:
    auth = {
        "id": "5F2A0C8E4B1D9A7C3E6F0B12",
        "smartlockId": 18834485182,
        "type": 13,
        "name": "Guest",
        "enabled": True,
        "remoteAllowed": False,
        "code": 535353,
        "updateDate": "2026-05-01T08:30:00.000Z",
        "somethingNew": 1,
    }
    body = json.dumps({"feature": "DEVICE_AUTHS", "deleted": False, "smartlockAuth": auth})
    event = parse_delivery(body.encode(), received_at=NOW, body_digest="d")
    assert isinstance(event, AuthEvent)
    # The auth id becomes a workflow id: in Nuki's lower case, however it came.
    assert (event.smartlock_id, event.auth_id) == (18834485182, "5f2a0c8e4b1d9a7c3e6f0b12")
    assert event_date(event) == NOW
    deleted = json.dumps({"feature": "DEVICE_AUTHS", "deleted": True, "smartlockAuth": auth})
    assert event_date(parse_delivery(deleted.encode(), received_at=NOW, body_digest="d")) is None

    log = {
        "feature": "DEVICE_LOGS",
        "smartlockId": 7,
        "smartlockLog": {
            "id": "1" * 24,
            "smartlockId": 7,
            "action": 1,
            "trigger": 4,
            "state": 0,
            "date": "2026-05-01T08:30:00Z",
        },
    }
    event = parse_delivery(json.dumps(log).encode(), received_at=NOW, body_digest="d")
    assert isinstance(event, LockEvent) and event.kind is LockEventKind.LOG
    assert event_date(event) == NOW

    for broken, message in [
        ({"feature": "DEVICE_AUTHS", "deleted": "no", "smartlockAuth": auth}, "deleted"),
        (
            {"feature": "DEVICE_AUTHS", "deleted": False, "smartlockAuth": {**auth, "id": ".."}},
            "auth_id",
        ),
        ({"feature": "DEVICE_STATUS", "smartlockId": True, "state": {}}, "smartlock_id"),
        (
            {"feature": "DEVICE_STATUS", "smartlockId": 7, "state": {}, "serverState": "x"},
            "serverState",
        ),
        ({**log, "smartlockId": 8}, "another smartlock"),
        ({"nofeature": 1}, "no feature"),
    ]:
        with pytest.raises(UnreadableDelivery, match=message):
            parse_delivery(json.dumps(broken).encode(), received_at=NOW, body_digest="d")
    # The code in a broken body is never quoted back.
    with pytest.raises(UnreadableDelivery) as caught:
        parse_delivery(
            json.dumps(
                {**json.loads(body), "smartlockAuth": {**auth, "enabled": "535353"}}
            ).encode(),
            received_at=NOW,
            body_digest="d",
        )
    assert "535353" not in str(caught.value)
    with pytest.raises(UnhandledFeature):
        parse_delivery(b'{"feature":"ACCOUNT_USER"}', received_at=NOW, body_digest="d")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://hooks.example.com/nuki", "https"),
        ("ftp://hooks.example.com/nuki", "https://HOST"),
        ("https:///nuki", "https://HOST"),
        ("https://user:pw@hooks.example.com/nuki", "user name"),
        ("https://hooks.example.com/nuki#x", "fragment"),
        ("https://hooks.example.com/a b", "spaces"),
        ("https://hooks.example.com/\x1b[2J", "control"),
        ("https://hooks.example.com:99999/nuki", "cannot be read"),
        ("https://hooks.example.com/" + "a" * 2000, "2000"),
    ],
)
def test_webhook_urls_nuki_would_refuse_are_refused_first(url: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        check_webhook_url(url)


def test_webhook_urls_and_features_accepted() -> None:
    assert check_webhook_url(" https://hooks.example.com/nuki ") == "https://hooks.example.com/nuki"
    assert check_webhook_url("http://127.0.0.1:8082/nuki/webhook")
    assert check_features(["device_auths", "DEVICE_LOGS"]) == ["DEVICE_AUTHS", "DEVICE_LOGS"]
    for bad in ([], ["DEVICE_AUTH"], ["DEVICE_LOGS", "device_logs"]):
        with pytest.raises(InputError):
            check_features(bad)


# ---- the command line -------------------------------------------------------------------


@pytest.fixture
def nuki_env(simulator: SimulatorServer) -> dict[str, str]:
    return {"NUKIFLOW_NUKI_URL": simulator.base_url, "NUKIFLOW_NUKI_TOKEN": TOKEN}


async def invoke(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    return result.exit_code, result.output


async def test_register_list_and_delete(
    nuki_env: dict[str, str], nuki: NukiClient, tmp_path: Path
) -> None:
    secret_file = tmp_path / "webhook-secrets"
    url = "http://127.0.0.1:9/nuki/webhook"
    code, output = await invoke(
        nuki_env, "webhook", "register", url, "--secret-file", str(secret_file)
    )
    assert code == 0, output
    [hook] = await nuki.list_webhooks()
    assert hook.webhook_url == url and hook.secret is not None
    assert hook.webhook_features == ["DEVICE_AUTHS", "DEVICE_STATUS", "DEVICE_LOGS"]
    assert f"Registered webhook {hook.id}" in output and hook.secret not in output
    assert secret_file.read_text() == hook.secret + "\n"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600

    # A second registration (a rotation) appends its secret; --json never shows one.
    code, output = await invoke(
        nuki_env,
        "webhook",
        "register",
        url,
        "--feature",
        "DEVICE_AUTHS",
        "--secret-file",
        str(secret_file),
        "--json",
    )
    assert code == 0, output
    second = json.loads(output)
    assert second["features"] == ["DEVICE_AUTHS"] and "secret" not in second
    secrets = secret_file.read_text().splitlines()
    assert len(secrets) == 2 and secrets[0] == hook.secret and secrets[1] not in output

    code, output = await invoke(nuki_env, "webhook", "list", "--json")
    assert code == 0 and hook.secret not in output
    assert [w["id"] for w in json.loads(output)["webhooks"]] == [hook.id, second["id"]]
    code, output = await invoke(nuki_env, "webhook", "list")
    assert code == 0 and f"{hook.id}  {url}" in output and hook.secret not in output

    code, output = await invoke(nuki_env, "webhook", "delete", str(hook.id))
    assert code == 0 and f"Deleted webhook {hook.id}" in output
    assert [w.id for w in await nuki.list_webhooks()] == [second["id"]]
    code, output = await invoke(nuki_env, "webhook", "delete", str(hook.id))
    assert code == 1 and "not found" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["register", "http://hooks.example.com/nuki", "--secret-file", "s"], "https"),
        (
            [
                "register",
                "https://hooks.example.com/nuki",
                "--feature",
                "DOORBELL",
                "--secret-file",
                "s",
            ],
            "unknown webhook feature",
        ),
        # Not a terminal and no file: the secret would be lost or logged.
        (["register", "https://hooks.example.com/nuki"], "--secret-file"),
        (["register", "https://hooks.example.com/nuki", "--json"], "--secret-file"),
        (["register", "https://hooks.example.com/nuki", "--secret-file", "shared"], "chmod 600"),
        (["delete", "abc"], "positive whole number"),
        (["delete", "0"], "positive whole number"),
    ],
)
async def test_webhook_commands_refuse_bad_input_before_sending(
    nuki_env: dict[str, str],
    nuki: NukiClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    private_file(tmp_path / "shared", "", mode=0o644)
    monkeypatch.chdir(tmp_path)
    code, output = await invoke(nuki_env, "webhook", *args)
    assert code == 2, output
    assert message in " ".join(output.split())
    assert await nuki.list_webhooks() == []
    assert not (tmp_path / "s").exists()


async def test_webhook_commands_need_the_nuki_api(tmp_path: Path) -> None:
    env = {"NUKIFLOW_NUKI_URL": "", "NUKIFLOW_STATE_DIR": str(tmp_path)}
    code, output = await invoke(env, "webhook", "list")
    assert code == 2 and "NUKIFLOW_NUKI_URL" in output


async def test_the_standalone_receiver_needs_a_secret(tmp_path: Path) -> None:
    code, output = await invoke(
        {"NUKIFLOW_WEBHOOK_SECRETS": "", "NUKIFLOW_STATE_DIR": str(tmp_path)}, "webhook-receiver"
    )
    assert code == 2 and "NUKIFLOW_WEBHOOK_SECRETS" in output


# ---- the receiver in the worker process, and alone ----------------------------------------


def process_settings(
    temporal_env: WorkflowEnvironment, task_queue: str, **values: object
) -> Settings:
    options: dict[str, object] = {
        "temporal_address": temporal_env.client.service_client.config.target_host,
        "temporal_namespace": "default",
        "task_queue": task_queue,
        "codec_keys": ",".join(key.to_text() for key in CODEC_KEYS),
        "webhook_secrets": SECRET,
    }
    return Settings.model_validate(options | values)


@contextlib.contextmanager
def restoring_signal_handlers() -> Iterator[None]:
    """run_worker / run_receiver install SIGINT/SIGTERM handlers on the loop: take them off."""
    try:
        yield
    finally:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as client:
        yield client


async def answers(http: httpx.AsyncClient, url: str) -> bool:
    try:
        return (await http.get(url)).status_code == 200
    except httpx.TransportError:
        return False


async def post_signed(http: httpx.AsyncClient, url: str, body: bytes) -> httpx.Response:
    return await http.post(url, content=body, headers={SIGNATURE_HEADER: sign(SECRET, body)})


async def test_the_worker_serves_the_receiver_when_its_port_is_set(
    temporal_env: WorkflowEnvironment,
    temporal_client: Client,
    simulator: SimulatorServer,
    sim: SimulatorControl,
    task_queue: str,
    http: httpx.AsyncClient,
) -> None:
    port = free_port()
    settings = process_settings(
        temporal_env,
        task_queue,
        nuki_url=simulator.base_url,
        nuki_token=TOKEN,
        webhook_port=port,
    )
    lock = (await sim.add_lock()).smartlock_id
    auth = await sim.add_auth(lock, name="App user", code=545454)
    stop = asyncio.Event()
    with restoring_signal_handlers():
        task = asyncio.create_task(run_worker(settings, stop=stop))
        try:
            await eventually(lambda: answers(http, f"http://127.0.0.1:{port}/healthz"))
            body = json.dumps(
                {"feature": "DEVICE_AUTHS", "deleted": False, "smartlockAuth": auth.to_wire()}
            ).encode()
            response = await post_signed(http, f"http://127.0.0.1:{port}/nuki/webhook", body)
            assert response.json() == {"result": "queued"}
            # The worker's own client forwards it, and the worker runs the ledger it starts.
            handle = temporal_client.get_workflow_handle(drift_ledger_workflow_id(lock))

            async def recorded() -> bool:
                try:
                    view = await handle.query("state", result_type=DriftLedgerView)
                except Exception:
                    return False
                return [e.auth_id for e in view.entries] == [auth.id]

            await eventually(recorded, within=20)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)


async def test_a_worker_with_a_receiver_and_no_secret_does_not_start(
    temporal_env: WorkflowEnvironment, simulator: SimulatorServer, task_queue: str
) -> None:
    settings = process_settings(
        temporal_env,
        task_queue,
        nuki_url=simulator.base_url,
        nuki_token=TOKEN,
        webhook_port=free_port(),
        webhook_secrets=None,
    )
    with pytest.raises(RuntimeError, match="no webhook secret"):
        await run_worker(settings)


async def test_the_receiver_alone(
    temporal_env: WorkflowEnvironment,
    task_queue: str,
    sim: SimulatorControl,
    http: httpx.AsyncClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    port = free_port()
    settings = process_settings(temporal_env, task_queue)
    stop = asyncio.Event()
    with restoring_signal_handlers():
        task = asyncio.create_task(run_receiver(settings, port=port, stop=stop))
        try:
            await eventually(lambda: answers(http, f"http://127.0.0.1:{port}/healthz"))
            body = json.dumps(
                {"feature": "DEVICE_STATUS", "smartlockId": lock, "state": {"state": 1}}
            ).encode()
            response = await post_signed(http, f"http://127.0.0.1:{port}/nuki/webhook", body)
            assert response.json() == {"result": "queued"}
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
    printed = capsys.readouterr().out
    assert f"nukiflow webhook receiver on http://127.0.0.1:{port}/nuki/webhook" in printed
    assert f"task queue {task_queue}" in printed and SECRET not in printed
    # On stop it forwards what it queued: no lock workflow runs for the lock.
    assert "stopped: received 1, queued 1, ignored 1" in printed
