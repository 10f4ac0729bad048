"""The webhook receiver over real HTTP, forwarding to a real Temporal dev server: signatures,
duplicates, stale deliveries, the bounded queue, where each event goes (the auth's entity, the
lock's workflow, the drift ledger), Temporal out of reach, and the fake cloud's own deliveries
end to end.

Preconditions are reached deterministically (a forwarder that is not started yet, the fake
cloud's `*_nth` faults) and awaited with bounded polls on the receiver's counters or on
Temporal, never by sleeping.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.api.history.v1 import WorkflowExecutionSignaledEventAttributes
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from nukiflow.activities.nuki_client import NukiClient
from nukiflow.client import NukiFlow
from nukiflow.contracts import search_attributes as sa
from nukiflow.contracts.auth import OutcomeStatus
from nukiflow.contracts.drift import DriftLedgerView, LedgerStatus
from nukiflow.contracts.events import (
    AUTH_EVENT_SIGNAL,
    LOCK_EVENT_SIGNAL,
    AuthEvent,
    LockEvent,
    LockEventKind,
    auth_workflow_id,
    drift_ledger_workflow_id,
    lock_workflow_id,
)
from nukiflow.contracts.wire import SmartlockAuth, SmartlockLog
from nukiflow.devtools.ports import free_port
from nukiflow.simulator import Faults, SimulatorControl, webhook_bodies
from nukiflow.temporal.converter import data_converter
from nukiflow.webhooks import (
    SIGNATURE_HEADER,
    ForwardingPolicy,
    WebhookReceiver,
    WebhookServer,
    sign,
)
from nukiflow.webhooks.registration import register_receiver
from tests.conftest import CODEC_KEYS
from tests.webhook_receiver import eventually

SECRET = "5e" * 20
OTHER_SECRET = "a1" * 20
# Retries and give-up scaled down: Temporal out of reach is given up within a second.
FAST = ForwardingPolicy(
    rpc_timeout_seconds=5,
    retry_initial_seconds=0.05,
    retry_max_seconds=0.2,
    give_up_after_seconds=1.0,
    drain_seconds=2.0,
)


# ---- fixtures and helpers -----------------------------------------------------------------


def make_receiver(client: Client, task_queue: str, **options: Any) -> WebhookReceiver:
    options.setdefault("secrets", [SECRET])
    options.setdefault("policy", FAST)
    return WebhookReceiver(client, task_queue=task_queue, **options)


@pytest.fixture
async def server(temporal_client: Client, task_queue: str) -> AsyncIterator[WebhookServer]:
    async with WebhookServer(make_receiver(temporal_client, task_queue)) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as client:
        yield client


def encode(body: dict[str, Any]) -> bytes:
    """As Nuki (and the fake cloud) send it: compact JSON."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def auth_delivery(auth: SmartlockAuth, *, deleted: bool = False, **changes: Any) -> bytes:
    return encode(webhook_bodies.auth_body(auth.model_copy(update=changes), deleted))


def status_delivery(smartlock_id: int, state: int) -> bytes:
    return encode(
        {
            "feature": "DEVICE_STATUS",
            "smartlockId": smartlock_id,
            "state": {"mode": 2, "state": state, "trigger": 0, "lastAction": 1},
            "serverState": 0,
            "adminPinState": 0,
        }
    )


def log_delivery(smartlock_id: int, date: datetime) -> bytes:
    entry = SmartlockLog(
        id="6" * 24, smartlock_id=smartlock_id, action=1, trigger=4, state=0, date=date
    )
    return encode(webhook_bodies.log_body(entry))


async def post(
    http: httpx.AsyncClient,
    url: str,
    body: bytes,
    secret: str | None = SECRET,
    *,
    signature: bytes | None = None,
) -> httpx.Response:
    headers: dict[str, Any] = {"Content-Type": "application/json; charset=UTF-8"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    elif secret is not None:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    return await http.post(url, content=body, headers=headers)


async def signals(
    client: Client, workflow_id: str, name: str
) -> list[WorkflowExecutionSignaledEventAttributes]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return [
        event.workflow_execution_signaled_event_attributes
        for event in history.events
        if event.HasField("workflow_execution_signaled_event_attributes")
        and event.workflow_execution_signaled_event_attributes.signal_name == name
    ]


async def recorded_signals(
    client: Client, workflow_id: str, name: str, count: int
) -> list[WorkflowExecutionSignaledEventAttributes]:
    """The signals once ``count`` of them are in the history: a signal that arrives while a
    workflow task is running is buffered by Temporal and written only when that task ends."""
    found: list[WorkflowExecutionSignaledEventAttributes] = []

    async def enough() -> bool:
        found[:] = await signals(client, workflow_id, name)
        return len(found) >= count

    await eventually(enough)
    return found


async def decoded(
    client: Client, signal: WorkflowExecutionSignaledEventAttributes, kind: type
) -> Any:
    [value] = await client.data_converter.decode(signal.input.payloads, [kind])
    return value


async def ledger(client: Client, smartlock_id: int) -> DriftLedgerView:
    handle = client.get_workflow_handle(drift_ledger_workflow_id(smartlock_id))
    view: DriftLedgerView = await handle.query("state", result_type=DriftLedgerView)
    return view


async def exists(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def managed_auth(
    sim: SimulatorControl, flow: NukiFlow, lock: int, code: int
) -> SmartlockAuth:
    """An auth whose entity runs: changed once through nukiflow."""
    auth = await sim.add_auth(lock, name="Guest", code=code)
    outcome = await flow.update_auth(lock, auth.id, {"name": "Guest 2"})
    assert outcome.status is OutcomeStatus.APPLIED, outcome
    return auth.model_copy(update={"name": "Guest 2"})


# ---- signatures, size, unreadable bodies --------------------------------------------------


async def test_bad_signatures_are_refused_and_forward_nothing(
    server: WebhookServer,
    http: httpx.AsyncClient,
    sim: SimulatorControl,
    worker: Worker,
    temporal_client: Client,
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    auth = await sim.add_auth(lock, name="Cleaner", code=535353)
    body = auth_delivery(auth)
    refusals = [
        await post(http, server.url, body, None),  # no signature
        await post(http, server.url, body, OTHER_SECRET),  # another webhook's secret
        await post(http, server.url, body, signature=b"0" * 64),  # wrong
        await post(http, server.url, body, signature=sign(SECRET, body + b" ").encode()),
        await post(http, server.url, body, signature=b"\xff" * 64),  # not even ASCII
        await post(http, server.url, body, signature=sign(SECRET, body)[:63].encode()),
    ]
    assert [r.status_code for r in refusals] == [401] * 6
    assert all(r.json() == {"error": "signature does not verify"} for r in refusals)
    counters = server.receiver.counters
    assert (counters.received, counters.refused, counters.queued) == (6, 6, 0)
    # The same body, signed right, still goes through: nothing was remembered from them.
    accepted = await post(http, server.url, body)
    assert accepted.status_code == 200 and accepted.json() == {"result": "queued"}
    await eventually(lambda: server.receiver.counters.unmanaged == 1)
    counters = server.receiver.counters
    assert (counters.received, counters.refused, counters.queued) == (7, 6, 1)
    assert [e.auth_id for e in (await ledger(temporal_client, lock)).entries] == [auth.id]


async def test_signature_header_is_case_insensitive_and_verified_over_raw_bytes(
    server: WebhookServer, http: httpx.AsyncClient
) -> None:
    body = status_delivery(7, 1)
    upper = sign(SECRET, body).upper().encode()
    assert (await post(http, server.url, body, signature=upper)).status_code == 200
    # The same JSON with other bytes (spaces) is another body: its signature must be its own.
    spaced = json.dumps(json.loads(body)).encode()
    refused = await post(http, server.url, spaced, signature=sign(SECRET, body).encode())
    assert refused.status_code == 401


async def test_a_rotated_secret_is_accepted(
    temporal_client: Client, task_queue: str, http: httpx.AsyncClient
) -> None:
    receiver = make_receiver(temporal_client, task_queue, secrets=[OTHER_SECRET, SECRET])
    async with WebhookServer(receiver) as server:
        old = await post(http, server.url, status_delivery(11, 1), SECRET)
        new = await post(http, server.url, status_delivery(11, 3), OTHER_SECRET)
        assert (old.status_code, new.status_code) == (200, 200)
        # The old webhook is deleted and its secret removed: its deliveries stop verifying.
        receiver.set_secrets([OTHER_SECRET])
        assert (await post(http, server.url, status_delivery(11, 4), SECRET)).status_code == 401
        assert (
            await post(http, server.url, status_delivery(11, 5), OTHER_SECRET)
        ).status_code == 200
        assert (receiver.counters.queued, receiver.counters.refused) == (3, 1)


async def test_without_a_secret_everything_is_refused(
    temporal_client: Client, task_queue: str, http: httpx.AsyncClient
) -> None:
    async with WebhookServer(make_receiver(temporal_client, task_queue, secrets=[])) as server:
        response = await post(http, server.url, status_delivery(11, 1), "")
        assert response.status_code == 401
        assert server.receiver.counters.refused == 1


async def test_body_size_is_bounded(
    temporal_client: Client, task_queue: str, http: httpx.AsyncClient
) -> None:
    receiver = make_receiver(temporal_client, task_queue, max_body_bytes=1024)
    async with WebhookServer(receiver) as server:
        big = encode({"feature": "DEVICE_STATUS", "padding": "x" * 2000})
        assert (await post(http, server.url, big)).status_code == 413

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
            for _ in range(4):
                yield b"x" * 400

        streamed = await http.post(
            server.url, content=chunks(), headers={SIGNATURE_HEADER: "0" * 64}
        )
        assert streamed.status_code == 413
        assert (receiver.counters.refused, receiver.counters.queued) == (2, 0)


async def test_signed_bodies_it_cannot_forward_are_acknowledged(
    server: WebhookServer, http: httpx.AsyncClient
) -> None:
    bodies = {
        b"not json": "unreadable",
        b"[1, 2]": "unreadable",
        encode({"feature": "DEVICE_AUTHS", "deleted": False, "smartlockAuth": {"id": "zz"}}): (
            "unreadable"
        ),
        encode({"feature": "DEVICE_STATUS", "smartlockId": 0, "state": {}}): "unreadable",
        encode({"feature": "DEVICE_CONFIG", "smartlockId": 1}): "unhandled",
    }
    for body, result in bodies.items():
        response = await post(http, server.url, body)
        assert (response.status_code, response.json()) == (200, {"result": result}), body
    counters = server.receiver.counters
    assert (counters.unreadable, counters.unhandled, counters.queued) == (4, 1, 0)


async def test_health(server: WebhookServer, http: httpx.AsyncClient) -> None:
    response = await http.get(server.url.rsplit("/nuki/", 1)[0] + "/healthz")
    assert response.json() == {"status": "alive", "forwarding": True}
    assert (await http.get(server.url)).status_code == 405


# ---- duplicates, stale deliveries, the bounded queue --------------------------------------


async def test_a_duplicate_is_forwarded_once(
    server: WebhookServer,
    http: httpx.AsyncClient,
    sim: SimulatorControl,
    flow: NukiFlow,
    worker: Worker,
    temporal_client: Client,
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    auth = await managed_auth(sim, flow, lock, 535454)
    body = auth_delivery(auth, name="Renamed in the app")
    first = await post(http, server.url, body)
    again = await post(http, server.url, body)
    assert first.json() == {"result": "queued"} and again.json() == {"result": "duplicate"}
    assert again.status_code == 200
    await eventually(lambda: server.receiver.counters.forwarded == 1)
    entity = auth_workflow_id(lock, auth.id)
    assert len(await recorded_signals(temporal_client, entity, AUTH_EVENT_SIGNAL, 1)) == 1
    assert server.receiver.counters.duplicates == 1


async def test_stale_deliveries_are_acknowledged_not_forwarded(
    server: WebhookServer, http: httpx.AsyncClient, sim: SimulatorControl
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    auth = await sim.add_auth(lock, name="Old", code=536363)
    now = datetime.now(UTC)
    stale = [
        auth_delivery(auth, update_date=now - timedelta(days=2)),
        auth_delivery(auth, update_date=now + timedelta(days=2)),  # as far in the future
        log_delivery(lock, now - timedelta(days=2)),
    ]
    for body in stale:
        response = await post(http, server.url, body)
        assert (response.status_code, response.json()) == (200, {"result": "stale"})
    assert (server.receiver.counters.stale, server.receiver.counters.queued) == (3, 0)
    # A deletion is dated by nothing in its body (its updateDate is the auth's last change):
    # it is never judged stale. Nor is a status.
    deleted = await post(
        http, server.url, auth_delivery(auth, deleted=True, update_date=now - timedelta(days=30))
    )
    status = await post(http, server.url, status_delivery(lock, 3))
    fresh_log = await post(http, server.url, log_delivery(lock, now - timedelta(minutes=5)))
    assert [r.json()["result"] for r in (deleted, status, fresh_log)] == ["queued"] * 3


async def test_max_age_is_configurable(
    temporal_client: Client, task_queue: str, http: httpx.AsyncClient
) -> None:
    receiver = make_receiver(temporal_client, task_queue, max_age=timedelta(minutes=1))
    async with WebhookServer(receiver) as server:
        old = await post(
            http, server.url, log_delivery(5, datetime.now(UTC) - timedelta(minutes=5))
        )
        assert old.json() == {"result": "stale"}


async def test_a_full_queue_still_answers_2xx(
    temporal_client: Client, task_queue: str, sim: SimulatorControl
) -> None:
    """The forwarder is not running yet (no lifespan under httpx's ASGI transport), so the
    queue of one fills deterministically."""
    lock = (await sim.add_lock()).smartlock_id
    receiver = make_receiver(temporal_client, task_queue, queue_size=1)
    transport = httpx.ASGITransport(app=receiver)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as http:
        bodies = [status_delivery(lock, state) for state in (2, 3, 4)]
        answers = [await post(http, "/nuki/webhook", body) for body in bodies]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert [a.json()["result"] for a in answers] == ["queued", "dropped", "dropped"]
        assert (receiver.counters.queued, receiver.counters.dropped) == (1, 2)
        await receiver.start()
        try:
            # No lock workflow runs for the lock: the event is looked at and ignored.
            await eventually(lambda: receiver.counters.ignored == 1)
            # A dropped delivery sent again is not mistaken for a duplicate.
            again = await post(http, "/nuki/webhook", bodies[1])
            assert again.json() == {"result": "queued"}
            await eventually(lambda: receiver.counters.ignored == 2)
        finally:
            await receiver.stop()


async def test_answers_while_temporal_is_unreachable(http: httpx.AsyncClient) -> None:
    """Nothing listens where the client points: Nuki still gets its 200 at once, and the event
    is given up after the forwarder's retries."""
    unreachable = await Client.connect(
        f"127.0.0.1:{free_port()}", data_converter=data_converter(CODEC_KEYS), lazy=True
    )
    receiver = make_receiver(unreachable, "nowhere")
    async with WebhookServer(receiver) as server:
        response = await post(http, server.url, status_delivery(23, 1))
        assert (response.status_code, response.json()) == (200, {"result": "queued"})
        await eventually(lambda: receiver.counters.failed == 1)
        assert receiver.counters.forwarded == 0


# ---- where events go --------------------------------------------------------------------


async def test_an_auth_event_reaches_its_entity_as_an_encrypted_signal(
    server: WebhookServer,
    http: httpx.AsyncClient,
    sim: SimulatorControl,
    flow: NukiFlow,
    worker: Worker,
    temporal_client: Client,
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    auth = await managed_auth(sim, flow, lock, 537373)
    response = await post(http, server.url, auth_delivery(auth, code=538383, enabled=False))
    assert response.json() == {"result": "queued"}
    await eventually(lambda: server.receiver.counters.forwarded == 1)

    [signal] = await recorded_signals(
        temporal_client, auth_workflow_id(lock, auth.id), AUTH_EVENT_SIGNAL, 1
    )
    event = await decoded(temporal_client, signal, AuthEvent)
    assert (event.smartlock_id, event.auth_id, event.deleted) == (lock, auth.id, False)
    assert (event.auth.code, event.auth.enabled, event.auth.name) == (538383, False, "Guest 2")
    assert len(event.digest) == 64 and event.received_at.tzinfo is not None
    # In history the code is encrypted, never in plain text.
    assert b"538383" not in signal.SerializeToString()
    assert "538383" not in repr(event)
    # The entity keeps running and serving changes with the signal in its history.
    outcome = await flow.update_auth(lock, auth.id, {"name": "Guest 3"})
    assert outcome.status is OutcomeStatus.APPLIED


async def test_an_unmanaged_auth_lands_in_the_drift_ledger(
    server: WebhookServer,
    http: httpx.AsyncClient,
    sim: SimulatorControl,
    worker: Worker,
    temporal_client: Client,
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    auth = await sim.add_auth(lock, name="From the app", code=539393)
    assert (await post(http, server.url, auth_delivery(auth))).json() == {"result": "queued"}
    await eventually(lambda: server.receiver.counters.unmanaged == 1)
    assert not await exists(temporal_client, auth_workflow_id(lock, auth.id))

    view = await ledger(temporal_client, lock)
    assert view.status is LedgerStatus.UNMANAGED and (view.unmanaged, view.deleted) == (1, 0)
    [entry] = view.entries
    assert (entry.auth_id, entry.name, entry.type, entry.enabled, entry.deleted) == (
        auth.id,
        "From the app",
        13,
        True,
        False,
    )
    assert not entry.entity_ended
    assert "539393" not in view.model_dump_json()
    description = await temporal_client.get_workflow_handle(
        drift_ledger_workflow_id(lock)
    ).describe()
    attributes = description.typed_search_attributes
    assert attributes.get(sa.SMARTLOCK_ID) == lock
    assert attributes.get(sa.KIND) == "unmanaged"
    assert attributes.get(sa.STATUS) == "unmanaged"
    assert description.task_queue == server.receiver.forwarder.task_queue

    # Deleted in the app: the ledger says so, and the lock holds nothing unmanaged any more.
    await post(http, server.url, auth_delivery(auth, deleted=True))
    await eventually(lambda: server.receiver.counters.unmanaged == 2)

    async def cleared() -> bool:
        return (await ledger(temporal_client, lock)).status is LedgerStatus.CLEAR

    await eventually(cleared)
    [entry] = (await ledger(temporal_client, lock)).entries
    assert entry.deleted and entry.sightings == 2


async def test_an_ended_entity_takes_no_events(
    server: WebhookServer,
    http: httpx.AsyncClient,
    sim: SimulatorControl,
    flow: NukiFlow,
    worker: Worker,
    temporal_client: Client,
) -> None:
    """nukiflow deleted the auth, so its entity completed: the deletion's report is ignored;
    a report that the auth is there after all goes to the ledger, marked as once managed."""
    lock = (await sim.add_lock()).smartlock_id
    auth = await managed_auth(sim, flow, lock, 541414)
    assert (await flow.delete_auth(lock, auth.id)).status is OutcomeStatus.APPLIED
    await post(http, server.url, auth_delivery(auth, deleted=True, name="as it was"))
    await eventually(lambda: server.receiver.counters.ignored == 1)
    assert not await exists(temporal_client, drift_ledger_workflow_id(lock))

    await post(http, server.url, auth_delivery(auth, name="still there"))
    await eventually(lambda: server.receiver.counters.unmanaged == 1)
    [entry] = (await ledger(temporal_client, lock)).entries
    assert entry.entity_ended and entry.name == "still there"


async def test_lock_events_reach_a_running_lock_workflow_only(
    server: WebhookServer,
    http: httpx.AsyncClient,
    sim: SimulatorControl,
    flow: NukiFlow,
    worker: Worker,
    temporal_client: Client,
) -> None:
    idle = (await sim.add_lock()).smartlock_id
    await post(http, server.url, status_delivery(idle, 3))
    await eventually(lambda: server.receiver.counters.ignored == 1)
    assert not await exists(temporal_client, lock_workflow_id(idle))

    lock = (await sim.add_lock()).smartlock_id
    assert (await flow.action(lock, "unlock")).ok
    now = datetime.now(UTC)
    await post(http, server.url, status_delivery(lock, 3))
    await post(http, server.url, log_delivery(lock, now))
    await eventually(lambda: server.receiver.counters.forwarded == 2)
    sent = await recorded_signals(temporal_client, lock_workflow_id(lock), LOCK_EVENT_SIGNAL, 2)
    events = [await decoded(temporal_client, s, LockEvent) for s in sent]
    assert [e.kind for e in events] == [LockEventKind.STATUS, LockEventKind.LOG]
    assert events[0].state is not None and events[0].state.state == 3
    assert events[0].server_state == 0
    assert events[1].log is not None and events[1].log.date == now


# ---- end to end with the fake cloud -------------------------------------------------------


async def test_a_change_made_in_the_app_reaches_the_entity(
    server: WebhookServer,
    nuki: NukiClient,
    sim: SimulatorControl,
    flow: NukiFlow,
    worker: Worker,
    temporal_client: Client,
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    auth = await managed_auth(sim, flow, lock, 542424)
    hook = await register_receiver(nuki, server.url)
    assert hook.secret is not None
    server.receiver.set_secrets([hook.secret])

    await sim.update_device_auth(lock, auth.id, name="Changed in the app", enabled=False)
    entity = auth_workflow_id(lock, auth.id)

    async def arrived() -> bool:
        for signal in await signals(temporal_client, entity, AUTH_EVENT_SIGNAL):
            event = await decoded(temporal_client, signal, AuthEvent)
            if event.auth.name == "Changed in the app":
                assert event.auth.enabled is False and event.auth.code == 542424
                return True
        return False

    await eventually(arrived)
    # The fake cloud's own record: delivered, answered 200.
    delivered = [d for d in await sim.webhook_deliveries() if d.feature == "DEVICE_AUTHS"]
    assert delivered and all(d.status == 200 for d in delivered)


async def test_the_fake_clouds_faults_are_handled(
    server: WebhookServer,
    nuki: NukiClient,
    sim: SimulatorControl,
    worker: Worker,
    temporal_client: Client,
) -> None:
    """The first delivery is wrongly signed (401 to the cloud), the second is sent twice
    (forwarded once)."""
    lock = (await sim.add_lock()).smartlock_id
    auth = await sim.add_auth(lock, name="App user", code=543434)
    hook = await register_receiver(nuki, server.url, ["DEVICE_AUTHS"])
    server.receiver.set_secrets([hook.secret or ""])
    await sim.set_faults(Faults(webhook_bad_signature_nth=[1], webhook_duplicate_nth=[2]), lock)
    await sim.update_device_auth(lock, auth.id, name="First")
    await sim.update_device_auth(lock, auth.id, name="Second")

    async def settled() -> bool:
        return len([d for d in await sim.webhook_deliveries() if d.attempt > 0]) == 3

    await eventually(settled)
    statuses = [(d.status, d.bad_signature, d.duplicate) for d in await sim.webhook_deliveries()]
    assert statuses == [(401, True, False), (200, False, False), (200, False, True)]
    await eventually(lambda: server.receiver.counters.unmanaged == 1)
    counters = server.receiver.counters
    assert (counters.refused, counters.duplicates, counters.queued) == (1, 1, 1)
    [entry] = (await ledger(temporal_client, lock)).entries
    assert entry.name == "Second" and entry.sightings == 1


async def test_a_failure_reading_a_body_is_acknowledged_and_logged_without_it(
    server: WebhookServer,
    http: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(body: bytes, **_: object) -> None:
        raise RuntimeError(f"cannot read {body!r}, code 546464")

    monkeypatch.setattr("nukiflow.webhooks.receiver.parse_delivery", broken)
    response = await post(http, server.url, status_delivery(3, 1))
    assert (response.status_code, response.json()) == (200, {"result": "unreadable"})
    assert server.receiver.counters.unreadable == 1
    assert "RuntimeError" in caplog.text and "546464" not in caplog.text
