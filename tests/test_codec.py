"""Payload encryption: the codec, keys and rotation, settings, the codec server, real workers."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.worker import Replayer, Worker

from nukiflow.activities.nuki_client import NukiClient
from nukiflow.client import NukiFlow
from nukiflow.contracts.auth import AuthChange, AuthPatch, OutcomeStatus
from nukiflow.contracts.entity import AuthEntityInput, auth_workflow_id
from nukiflow.devtools.temporal_binary import find_temporal_binary
from nukiflow.settings import Settings
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.server import SimulatorServer
from nukiflow.temporal.codec import (
    ENCODING,
    KEY_ID_METADATA,
    CodecConfigError,
    CodecKey,
    DecryptionError,
    EncryptionCodec,
    Keyring,
    UnencryptedPayloadError,
    UnknownKeyError,
    dev_key_file,
    encrypted_key_id,
    ensure_dev_keyring,
)
from nukiflow.temporal.codec_server import (
    CodecServer,
    create_app,
    describe_auth,
    server_from_settings,
)
from nukiflow.temporal.connect import connect_temporal
from nukiflow.temporal.converter import data_converter, require_encryption
from nukiflow.temporal.worker import build_worker
from nukiflow.workflows.auth_entity import AuthEntityWorkflow
from tests.conftest import CODEC_KEYS, FAST_TIMING, TOKEN
from tests.test_secrets import iter_payloads

SECRET_CODE = 847261
UI_ORIGIN = "http://localhost:8233"
SERVER_TOKEN = "codec-" + os.urandom(8).hex()


def _json_payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


def _client(template: Client, keys: Keyring) -> Client:
    """A client on the session's server that encrypts with ``keys``."""
    return Client(
        template.service_client, namespace=template.namespace, data_converter=data_converter(keys)
    )


# -- the codec --------------------------------------------------------------------------


async def test_round_trip_hides_value_and_encoding() -> None:
    codec = EncryptionCodec(CODEC_KEYS)
    original = _json_payload(f'{{"code": {SECRET_CODE}}}')
    (sealed,) = await codec.encode([original])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[KEY_ID_METADATA] == CODEC_KEYS.current.key_id.encode()
    assert str(SECRET_CODE).encode() not in sealed.SerializeToString()
    assert b"json/plain" not in sealed.SerializeToString()
    (again,) = await codec.encode([original])
    assert again.data != sealed.data, "every payload gets its own nonce"
    assert await codec.decode([sealed, again]) == [original, original]


async def test_unencrypted_payloads_are_refused_unless_only_shown() -> None:
    plain = _json_payload('"written without encryption"')
    with pytest.raises(UnencryptedPayloadError, match="'json/plain'"):
        await EncryptionCodec(CODEC_KEYS).decode([plain])
    assert await EncryptionCodec(CODEC_KEYS, allow_plaintext=True).decode([plain]) == [plain]


async def test_rotation_new_payloads_use_the_first_key_old_ones_stay_readable() -> None:
    old = Keyring.generate("old")
    new = old.rotated(CodecKey.generate("new"))
    assert new.key_ids == ["new", "old"]
    (by_old,) = await EncryptionCodec(old).encode([_json_payload("1")])
    rotated = EncryptionCodec(new)
    (by_new,) = await rotated.encode([_json_payload("2")])
    assert encrypted_key_id(by_old) == "old" and encrypted_key_id(by_new) == "new"
    assert [p.data for p in await rotated.decode([by_old, by_new])] == [b"1", b"2"]


async def test_a_payload_of_a_missing_key_fails_clearly() -> None:
    new = Keyring.generate("new")
    (sealed,) = await EncryptionCodec(new).encode([_json_payload("1")])
    only_old = Keyring.generate("old")
    with pytest.raises(UnknownKeyError) as caught:
        await EncryptionCodec(only_old).decode([sealed])
    message = str(caught.value)
    assert "'new'" in message and "old" in message and "NUKIFLOW_CODEC_KEYS" in message
    assert base64.b64encode(new.current.secret).decode() not in message


async def test_wrong_key_under_the_same_id_or_altered_data_is_refused() -> None:
    (sealed,) = await EncryptionCodec(Keyring.generate("k1")).encode([_json_payload("1")])
    with pytest.raises(DecryptionError, match="does not decrypt with key 'k1'"):
        await EncryptionCodec(Keyring.generate("k1")).decode([sealed])
    ring = Keyring.generate("k2")
    (sealed,) = await EncryptionCodec(ring).encode([_json_payload("1")])
    sealed.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(DecryptionError):
        await EncryptionCodec(ring).decode([sealed])


def test_keys_parse_from_the_settings_format() -> None:
    first, second = CodecKey.generate("a"), CodecKey.generate("b.2")
    urlsafe = base64.urlsafe_b64encode(second.secret).decode().rstrip("=")
    ring = Keyring.parse(f"# comment\n {first.to_text()} ,\n b.2:{urlsafe}\n")
    assert ring.key_ids == ["a", "b.2"] and ring.current.secret == first.secret
    found = ring.get("b.2")
    assert found is not None and found.secret == second.secret
    assert Keyring.parse(ring.to_text()).key_ids == ["a", "b.2"]
    secret_text = base64.b64encode(first.secret).decode()
    assert secret_text not in repr(ring) and secret_text not in repr(first)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no key given"),
        ("nokey", "id:base64-key"),
        ("a:!!!notbase64", "not valid base64"),
        ("a:" + base64.b64encode(b"short").decode(), "AES-256 needs 32"),
        ("bad/id:" + base64.b64encode(bytes(32)).decode(), "invalid key id"),
        (
            "a:"
            + base64.b64encode(bytes(32)).decode()
            + ",a:"
            + base64.b64encode(bytes(32)).decode(),
            "given twice",
        ),
    ],
)
def test_malformed_keys_are_refused_without_echoing_them(text: str, message: str) -> None:
    with pytest.raises(CodecConfigError, match=message) as caught:
        Keyring.parse(text)
    secret_part = text.partition(":")[2]
    if len(secret_part) > 8:
        assert secret_part not in str(caught.value)


@pytest.mark.parametrize("urlsafe", [False, True])
def test_a_key_written_the_wrong_way_round_is_not_echoed(urlsafe: bool) -> None:
    key = CodecKey.generate("k1")
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    secret = encode(key.secret).decode().rstrip("=" if urlsafe else "")
    with pytest.raises(CodecConfigError, match="invalid key id") as caught:
        Keyring.parse(f"{secret}:k1")
    assert secret[:8] not in str(caught.value)


def test_dev_keyring_is_generated_once_and_private(tmp_path: Path) -> None:
    ring = ensure_dev_keyring(tmp_path / "state")
    assert ring.current.key_id.startswith("dev")
    path = dev_key_file(tmp_path / "state")
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_dev_keyring(tmp_path / "state").current.secret == ring.current.secret


# -- settings: production refuses to start without a key -------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith("NUKIFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return tmp_path


def test_settings_read_keys_from_environment(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ring = Keyring([CodecKey.generate("new"), CodecKey.generate("old")])
    monkeypatch.setenv("NUKIFLOW_CODEC_KEYS", ",".join(k.to_text() for k in ring))
    monkeypatch.setenv("NUKIFLOW_NUKI_URL", "https://api.nuki.io")
    assert Settings().keyring().key_ids == ["new", "old"]
    assert "new:" not in repr(Settings())


def test_settings_read_keys_from_a_file(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = clean_env / "keys"
    path.write_text(Keyring.generate("filed").to_text())
    path.chmod(0o600)
    monkeypatch.setenv("NUKIFLOW_CODEC_KEY_FILE", str(path))
    monkeypatch.setenv("NUKIFLOW_NUKI_URL", "https://api.nuki.io")
    assert Settings().keyring().key_ids == ["filed"]


async def test_production_refuses_to_start_without_a_key(clean_env: Path) -> None:
    # Even with a dev key lying around: production never falls back to it.
    ensure_dev_keyring(clean_env / ".nukiflow")
    settings = Settings(nuki_url="https://api.nuki.io", nuki_token="t", state_dir=Path(".nukiflow"))
    with pytest.raises(CodecConfigError, match="NUKIFLOW_CODEC_KEYS") as caught:
        settings.keyring()
    assert "nukiflow dev" not in str(caught.value)
    with pytest.raises(CodecConfigError):
        await connect_temporal(settings)  # refuses before connecting anywhere


def test_dev_mode_finds_the_key_nukiflow_dev_generated(clean_env: Path) -> None:
    settings = Settings(state_dir=clean_env / "state")
    with pytest.raises(CodecConfigError, match="nukiflow dev"):
        settings.keyring()
    ring = ensure_dev_keyring(clean_env / "state")
    assert settings.keyring().current.secret == ring.current.secret


def test_codec_server_settings(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / "token").write_text("s3cret\n")
    monkeypatch.setenv("NUKIFLOW_CODEC_SERVER_TOKEN_FILE", str(clean_env / "token"))
    monkeypatch.setenv(
        "NUKIFLOW_CODEC_CORS_ORIGINS", "https://ui.example.com/, http://localhost:8233"
    )
    settings = Settings()
    assert settings.codec_token() == "s3cret"
    assert settings.cors_origins == ["https://ui.example.com", "http://localhost:8233"]
    assert "s3cret" not in repr(settings)


# -- the data converter -----------------------------------------------------------------


async def test_converter_encrypts_models_and_failure_messages() -> None:
    converter = data_converter(CODEC_KEYS)
    patch = AuthPatch(code=SECRET_CODE)
    (payload,) = await converter.encode([patch])
    assert str(SECRET_CODE).encode() not in payload.SerializeToString()
    assert await converter.decode([payload], [AuthPatch]) == [patch]

    failure = Failure()
    await converter.encode_failure(ApplicationError(f"code {SECRET_CODE} refused"), failure)
    assert failure.message == "Encoded failure"
    assert str(SECRET_CODE).encode() not in failure.SerializeToString()
    decoded = await converter.decode_failure(failure)
    assert str(SECRET_CODE) in str(decoded)


def test_a_client_without_encryption_is_refused(temporal_client: Client) -> None:
    require_encryption(temporal_client)
    plain = Client(temporal_client.service_client, data_converter=pydantic_data_converter)
    with pytest.raises(CodecConfigError, match="does not encrypt"):
        require_encryption(plain)


def test_workflow_modules_never_import_cryptography() -> None:
    """The sandbox cannot re-import cryptography: the codec must stay out of workflow code."""
    script = (
        "import importlib, pkgutil, sys, workflows\n"
        "for m in pkgutil.iter_modules(workflows.__path__):\n"
        "    importlib.import_module('nukiflow.workflows.' + m.name)\n"
        "assert 'cryptography' not in sys.modules, 'a workflow module imports cryptography'\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=Path(__file__).parents[1])


# -- the codec server -------------------------------------------------------------------


@pytest.fixture
async def codec_server() -> AsyncIterator[CodecServer]:
    async with CodecServer(
        CODEC_KEYS, port=0, cors_origins=[UI_ORIGIN], token=SERVER_TOKEN
    ) as server:
        yield server


@pytest.fixture
async def http(codec_server: CodecServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=codec_server.endpoint) as client:
        yield client


def _body(*payloads: Payload) -> bytes:
    return json_format.MessageToJson(Payloads(payloads=list(payloads))).encode()


def _payloads(response: httpx.Response) -> list[Payload]:
    message = Payloads()
    json_format.Parse(response.content, message)
    return list(message.payloads)


AUTH = {"Authorization": f"Bearer {SERVER_TOKEN}", "Content-Type": "application/json"}


async def test_codec_server_round_trip(http: httpx.AsyncClient) -> None:
    original = _json_payload(f'{{"code": {SECRET_CODE}}}')
    encoded = await http.post("/encode", content=_body(original), headers=AUTH)
    assert encoded.status_code == 200, encoded.text
    (sealed,) = _payloads(encoded)
    assert encrypted_key_id(sealed) == CODEC_KEYS.current.key_id
    assert str(SECRET_CODE) not in encoded.text
    # Any prefix works (e.g. a per-namespace endpoint), and what the workers wrote decodes.
    (by_worker,) = await EncryptionCodec(CODEC_KEYS).encode([original])
    decoded = await http.post(
        "/default/decode",
        content=_body(sealed, by_worker),
        headers={**AUTH, "X-Namespace": "default"},
    )
    assert decoded.status_code == 200, decoded.text
    assert _payloads(decoded) == [original, original]


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", f"Basic {SERVER_TOKEN}", "Bearer"]
)
async def test_codec_server_rejects_a_missing_or_wrong_token(
    http: httpx.AsyncClient, authorization: str | None
) -> None:
    (sealed,) = await EncryptionCodec(CODEC_KEYS).encode([_json_payload("1")])
    headers = {"Content-Type": "application/json", "Origin": UI_ORIGIN}
    if authorization is not None:
        headers["Authorization"] = authorization
    for path in ("/decode", "/encode"):
        response = await http.post(path, content=_body(sealed), headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["access-control-allow-origin"] == UI_ORIGIN, "UI sees why"
        assert SERVER_TOKEN not in response.text


async def test_codec_server_answers_cors_preflight_for_the_ui_only(
    http: httpx.AsyncClient,
) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    allowed = await http.options("/decode", headers={**preflight, "Origin": UI_ORIGIN})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == UI_ORIGIN
    assert "POST" in allowed.headers["access-control-allow-methods"]
    allowed_headers = allowed.headers["access-control-allow-headers"].lower()
    assert {"authorization", "content-type", "x-namespace"} <= {
        h.strip() for h in allowed_headers.split(",")
    }
    assert allowed.headers["access-control-allow-credentials"] == "true"
    other = await http.options(
        "/decode", headers={**preflight, "Origin": "https://evil.example.com"}
    )
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers
    answer = await http.post(
        "/decode", content=_body(_json_payload("1")), headers={**AUTH, "Origin": UI_ORIGIN}
    )
    assert answer.headers["access-control-allow-origin"] == UI_ORIGIN


async def test_codec_server_refuses_bad_requests(http: httpx.AsyncClient) -> None:
    (foreign,) = await EncryptionCodec(Keyring.generate("elsewhere")).encode([_json_payload("1")])
    unknown = await http.post("/decode", content=_body(foreign), headers=AUTH)
    assert unknown.status_code == 400 and "'elsewhere'" in unknown.text
    not_json = await http.post("/decode", content=b"{", headers=AUTH)
    assert not_json.status_code == 400
    text_plain = await http.post(
        "/decode", content=_body(foreign), headers={**AUTH, "Content-Type": "text/plain"}
    )
    assert text_plain.status_code == 415
    assert (await http.post("/other", content=b"{}", headers=AUTH)).status_code == 404
    assert (await http.get("/healthz")).text == "ok"


async def test_codec_server_without_token_is_loopback_only() -> None:
    with pytest.raises(CodecConfigError, match="NUKIFLOW_CODEC_SERVER_TOKEN"):
        CodecServer(CODEC_KEYS, host="0.0.0.0", port=0)
    app = create_app(CODEC_KEYS, cors_origins=[UI_ORIGIN])
    headers = {"Content-Type": "application/json"}
    body = _body(_json_payload("1"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8081") as local:
        assert (await local.post("/encode", content=body, headers=headers)).status_code == 200
    # A rebinding attacker's host name pointing at 127.0.0.1 is not answered.
    async with httpx.AsyncClient(transport=transport, base_url="http://evil.example:8081") as evil:
        assert (await evil.post("/encode", content=body, headers=headers)).status_code == 400


async def test_anonymous_codec_server_beyond_loopback_is_an_explicit_choice(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NUKIFLOW_CODEC_KEYS", CODEC_KEYS.current.to_text())
    monkeypatch.setenv("NUKIFLOW_CODEC_SERVER_HOST", "0.0.0.0")
    with pytest.raises(CodecConfigError, match="NUKIFLOW_CODEC_SERVER_ANONYMOUS"):
        server_from_settings(Settings())
    monkeypatch.setenv("NUKIFLOW_CODEC_SERVER_ANONYMOUS", "true")
    server = server_from_settings(Settings())
    assert "whoever reaches it" in describe_auth(server)
    transport = httpx.ASGITransport(app=server.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://codec.internal") as http:
        answer = await http.post(
            "/decode",
            content=_body(_json_payload("1")),
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 200


def _payload_data(output: str) -> bytes:
    """The payload bytes of `temporal workflow show -o json` (base64 in its JSON)."""
    return b"\n".join(base64.b64decode(m) for m in re.findall(r'"data": "([^"]*)"', output))


async def test_the_temporal_cli_reads_histories_through_the_codec_server(
    flow: NukiFlow,
    sim: SimulatorControl,
    worker: Worker,
    temporal_client: Client,
    codec_server: CodecServer,
) -> None:
    """Protocol check with the real `temporal` CLI: it shows the code only through the server."""
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="front door", code=847269)
    outcome = await flow.update_auth(lock.smartlock_id, auth.id, {"code": SECRET_CODE})
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    show = [
        str(find_temporal_binary()),
        "workflow",
        "show",
        "--address",
        temporal_client.service_client.config.target_host,
        "--workflow-id",
        auth_workflow_id(lock.smartlock_id, auth.id),
        "--output",
        "json",
    ]

    async def run(*extra: str) -> str:
        process = await asyncio.create_subprocess_exec(
            *show, *extra, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        return out.decode()

    raw = await run()
    assert str(SECRET_CODE) not in raw
    assert str(SECRET_CODE).encode() not in _payload_data(raw)
    decoded = await run(
        "--codec-endpoint", codec_server.endpoint, "--codec-auth", f"Bearer {SERVER_TOKEN}"
    )
    assert str(SECRET_CODE).encode() in _payload_data(decoded)


# -- real workers and rotation ----------------------------------------------------------


async def _workflow_task_failure(client: Client, workflow_id: str) -> Failure:
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(200):
        for event in (await handle.fetch_history()).events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                return event.workflow_task_failed_event_attributes.failure
        await asyncio.sleep(0.05)
    raise AssertionError(f"no workflow task failed in {workflow_id}")


async def test_a_worker_with_only_the_old_key_fails_clearly_until_it_gets_the_new_one(
    sim: SimulatorControl,
    simulator: SimulatorServer,
    temporal_client: Client,
    task_queue: str,
) -> None:
    old = Keyring.generate("old")
    rotated = old.rotated(CodecKey.generate("new"))
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="front door", code=847271)
    new_client = _client(temporal_client, rotated)
    async with NukiClient(TOKEN, simulator.base_url) as nuki:
        stale = build_worker(
            _client(temporal_client, old), nuki, task_queue, graceful_shutdown=timedelta(0)
        )
        async with stale:
            # Started by a client that already has the new key. (A short task timeout: the
            # stale worker may take the retried task with it when it stops.)
            handle = await new_client.start_workflow(
                AuthEntityWorkflow.run,
                AuthEntityInput(
                    smartlock_id=lock.smartlock_id, auth_id=auth.id, timing=FAST_TIMING
                ),
                id=auth_workflow_id(lock.smartlock_id, auth.id),
                task_queue=task_queue,
                task_timeout=timedelta(seconds=1),
            )
            change = asyncio.create_task(
                handle.execute_update(
                    AuthEntityWorkflow.change,
                    AuthChange(request_id="r1", patch=AuthPatch(code=SECRET_CODE)),
                )
            )
            failure = await _workflow_task_failure(new_client, handle.id)
            # The task failure is itself encrypted (with the old key, which the new ring has).
            assert failure.message == "Encoded failure"
            error = await new_client.data_converter.decode_failure(failure)
            assert "encrypted with key 'new'" in str(error), str(error)
            assert "it has old" in str(error)
            assert not change.done(), "the change waits; nothing is lost"
        # Deploy the new key: the same change completes.
        async with build_worker(new_client, nuki, task_queue, graceful_shutdown=timedelta(0)):
            outcome = await asyncio.wait_for(change, timeout=20)
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason


async def test_a_workflow_started_without_encryption_does_not_drive_a_lock(
    sim: SimulatorControl, worker: Worker, temporal_client: Client, task_queue: str
) -> None:
    """Only key holders write valid inputs: a plain-text change (say from the UI or CLI without
    the codec server) is refused by the worker and never reaches the lock."""
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="front door", code=847271)
    plain = Client(
        temporal_client.service_client,
        namespace=temporal_client.namespace,
        data_converter=pydantic_data_converter,
    )
    handle = await plain.start_workflow(
        AuthEntityWorkflow.run,
        AuthEntityInput(smartlock_id=lock.smartlock_id, auth_id=auth.id, timing=FAST_TIMING),
        id=auth_workflow_id(lock.smartlock_id, auth.id),
        task_queue=task_queue,
    )
    change = asyncio.create_task(
        handle.execute_update(
            AuthEntityWorkflow.change,
            AuthChange(request_id="r1", patch=AuthPatch(code=SECRET_CODE)),
        )
    )
    try:
        failure = await _workflow_task_failure(temporal_client, handle.id)
        error = await temporal_client.data_converter.decode_failure(failure)
        assert "refusing an unencrypted payload" in str(error), str(error)
        assert [r for r in await sim.requests() if r.method != "GET"] == []
    finally:
        change.cancel()
        await temporal_client.get_workflow_handle(handle.id).terminate()


async def test_rotation_keeps_old_histories_readable(
    sim: SimulatorControl,
    simulator: SimulatorServer,
    temporal_client: Client,
    task_queue: str,
) -> None:
    """Run under key 1, rotate to key 2 (key 1 kept): a new worker continues the entity, whose
    history now holds both keys, and the whole history replays with the rotated ring."""
    first = Keyring.generate("first")
    second = first.rotated(CodecKey.generate("second"))
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="front door", code=847271)
    workflow_id = auth_workflow_id(lock.smartlock_id, auth.id)
    async with NukiClient(TOKEN, simulator.base_url) as nuki:
        for ring, code in ((first, 847272), (second, 847273)):
            client = _client(temporal_client, ring)
            # A fresh worker each time: the rotated one must replay the first key's events.
            async with build_worker(client, nuki, task_queue, graceful_shutdown=timedelta(0)):
                flow = NukiFlow(client, task_queue=task_queue, timing=FAST_TIMING)
                outcome = await flow.update_auth(lock.smartlock_id, auth.id, {"code": code})
                assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    history = (
        await _client(temporal_client, second).get_workflow_handle(workflow_id).fetch_history()
    )
    key_ids = {
        encrypted_key_id(payload)
        for event in history.events
        for path, payload in iter_payloads(event)
        # Search attributes and patch markers are plain by design (see test_secrets).
        if "search_attributes" not in path and "patch-data" not in path
    }
    assert key_ids == {"first", "second"}
    await Replayer(
        workflows=[AuthEntityWorkflow], data_converter=data_converter(second)
    ).replay_workflow(history)
    result = await Replayer(
        workflows=[AuthEntityWorkflow],
        data_converter=data_converter(Keyring([second.current])),
    ).replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None, "without the first key the history is unreadable"
