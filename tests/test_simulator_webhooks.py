"""Decentral webhooks of the fake cloud, over real HTTP: registration, signed deliveries for auth
operations, actions and changes made on the device directly, every delivery fault, retries,
deactivation, and a receiver that is slow or gone never holding up the cloud.

Preconditions are reached through the fake cloud's deterministic knobs (`*_nth`, held
receivers) and awaited with bounded polls on the delivery log or the receiver, never by sleeping.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from nukiflow.simulator import (
    Faults,
    SimulatorControl,
    SimulatorServer,
    WebhookDelivery,
)
from tests.conftest import sim_settings
from tests.webhook_receiver import SIGNATURE_HEADER, Receiver, eventually

HEX24 = re.compile(r"^[0-9a-f]{24}$")
SIGNATURE = re.compile(r"^[0-9a-f]{64}$")
ALL_DEVICE_FEATURES = ["DEVICE_STATUS", "DEVICE_LOGS", "DEVICE_AUTHS"]


# ---- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture
async def api(simulator: SimulatorServer) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client of the Nuki API."""
    async with httpx.AsyncClient(
        base_url=simulator.base_url,
        headers={"Authorization": f"Bearer {simulator.token}"},
        trust_env=False,
        timeout=10.0,
    ) as client:
        yield client


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as running:
        yield running


@pytest.fixture
async def second_receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as running:
        yield running


@pytest.fixture
async def lock_id(sim: SimulatorControl) -> int:
    return (await sim.add_lock(name="Front door")).smartlock_id


async def register(
    api: httpx.AsyncClient, url: str, features: list[str] | None = None
) -> dict[str, Any]:
    response = await api.put(
        "/api/decentralWebhook",
        json={"webhookUrl": url, "webhookFeatures": features or ALL_DEVICE_FEATURES},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def listed_auth(api: httpx.AsyncClient, lock_id: int, auth_id: str) -> dict[str, Any]:
    response = await api.get(f"/smartlock/{lock_id}/auth/{auth_id}")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def deliveries_until(
    sim: SimulatorControl, count: int, **match: object
) -> list[WebhookDelivery]:
    """Wait (bounded) until the delivery log holds `count` records matching `match`."""
    found: list[WebhookDelivery] = []

    async def enough() -> bool:
        nonlocal found
        found = [
            record
            for record in await sim.webhook_deliveries()
            if all(getattr(record, key) == value for key, value in match.items())
        ]
        return len(found) >= count

    await eventually(enough)
    return found


async def received(receiver: Receiver, count: int) -> None:
    await eventually(lambda: len(receiver.received) >= count)


# ---- registration -------------------------------------------------------------------------


async def test_register_list_and_delete(api: httpx.AsyncClient, receiver: Receiver) -> None:
    first = await register(api, receiver.url, ["DEVICE_AUTHS"])
    assert set(first) == {"id", "secret", "webhookUrl", "webhookFeatures"}
    assert isinstance(first["id"], int) and 0 < first["id"] < 2**31
    assert re.fullmatch(r"[0-9a-f]{40}", first["secret"])
    assert first["webhookUrl"] == receiver.url
    assert first["webhookFeatures"] == ["DEVICE_AUTHS"]
    second = await register(api, "https://hooks.example.com/nuki", ["DEVICE_STATUS"])
    assert second["id"] != first["id"] and second["secret"] != first["secret"]

    listed = (await api.get("/api/decentralWebhook")).json()
    assert listed == [first, second]

    assert (await api.delete(f"/api/decentralWebhook/{first['id']}")).status_code == 204
    assert (await api.get("/api/decentralWebhook")).json() == [second]
    gone = await api.delete(f"/api/decentralWebhook/{first['id']}")
    assert gone.status_code == 404
    assert gone.json()["detailMessage"] == "Decentral webhook not found"


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",  # real Nuki wants https; plain http only on loopback
        "http://10.0.0.7:8080/hook",
        "http://127.0.0.1.example.com/hook",
        "ftp://127.0.0.1/hook",
        "127.0.0.1:8080/hook",
        "https:///hook",
    ],
)
async def test_refuses_urls_nuki_refuses(api: httpx.AsyncClient, url: str) -> None:
    response = await api.put(
        "/api/decentralWebhook", json={"webhookUrl": url, "webhookFeatures": ["DEVICE_AUTHS"]}
    )
    assert response.status_code == 400
    assert response.json() == {
        "detailMessage": f"The supplied value '{url}' for parameter 'webhookUrl' is not valid",
        "stackTrace": [],
        "suppressedExceptions": [],
    }
    assert (await api.get("/api/decentralWebhook")).json() == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://127.8.9.10:9/hook",
        "http://localhost:9/hook",
        "http://[::1]:9/hook",
        "https://hooks.example.com/nuki",
    ],
)
async def test_accepts_https_and_loopback_http(api: httpx.AsyncClient, url: str) -> None:
    assert (await register(api, url))["webhookUrl"] == url


@pytest.mark.parametrize(
    ("features", "parameter"),
    [
        ([], "webhookFeatures"),
        (["DEVICE_AUTHS", "DEVICE_AUTHS"], "webhookFeatures"),
        (["DEVICE_AUTH"], "webhookFeatures"),
        (None, "webhookFeatures"),
    ],
)
async def test_refuses_bad_features(
    api: httpx.AsyncClient, receiver: Receiver, features: object, parameter: str
) -> None:
    body: dict[str, object] = {"webhookUrl": receiver.url}
    if features is not None:
        body["webhookFeatures"] = features
    response = await api.put("/api/decentralWebhook", json=body)
    assert response.status_code == 400
    assert f"for parameter '{parameter}'" in response.json()["detailMessage"]


async def test_token_and_forbidden_like_every_path(
    simulator: SimulatorServer, sim: SimulatorControl, api: httpx.AsyncClient
) -> None:
    async with httpx.AsyncClient(base_url=simulator.base_url, trust_env=False) as anonymous:
        assert (await anonymous.get("/api/decentralWebhook")).status_code == 401
        assert (await anonymous.delete("/api/decentralWebhook/1")).status_code == 401
    await sim.set_faults(Faults(forbidden=True))
    assert (await api.get("/api/decentralWebhook")).status_code == 403
    put = await api.put(
        "/api/decentralWebhook",
        json={"webhookUrl": "https://hooks.example.com", "webhookFeatures": ["DEVICE_AUTHS"]},
    )
    assert put.status_code == 403


# ---- deliveries ---------------------------------------------------------------------------


async def test_auth_update_is_delivered_signed_once_it_landed(
    sim: SimulatorControl, api: httpx.AsyncClient, receiver: Receiver, lock_id: int
) -> None:
    auth = await sim.add_auth(lock_id, name="Guest", code=535353, allowed_week_days=127)
    hook = await register(api, receiver.url, ["DEVICE_AUTHS"])
    update = {"name": "Guest", "code": 565656, "allowedWeekDays": 96}
    assert (await api.post(f"/smartlock/{lock_id}/auth/{auth.id}", json=update)).status_code == 204

    await received(receiver, 1)
    delivery = receiver.received[0]
    assert delivery.headers["content-type"] == "application/json; charset=UTF-8"
    assert SIGNATURE.fullmatch(delivery.headers[SIGNATURE_HEADER.lower()])
    assert delivery.signed_with(hook["secret"])
    assert not delivery.signed_with("another secret")
    # The signature covers the bytes as sent: a receiver that re-serializes the JSON it parsed
    # signs other bytes and must not accept them.
    reserialized = json.dumps(delivery.body).encode()
    assert reserialized != delivery.raw
    assert not type(delivery)(reserialized, delivery.headers).signed_with(hook["secret"])

    body = delivery.body
    assert set(body) == {"feature", "deleted", "smartlockAuth"}
    assert body["feature"] == "DEVICE_AUTHS" and body["deleted"] is False
    # Sent after the write landed: the auth as the API now lists it, no operationId.
    assert body["smartlockAuth"] == await listed_auth(api, lock_id, auth.id)
    assert body["smartlockAuth"]["code"] == 565656
    assert body["smartlockAuth"]["allowedWeekDays"] == 96
    assert "operationId" not in body["smartlockAuth"]
    device = await sim.device(lock_id)
    assert [a.code for a in device.auths] == [565656]

    # The receiver has it before the sender has its answer: wait for the record.
    [record] = await deliveries_until(sim, 1)
    assert record.webhook_id == hook["id"] and record.url == receiver.url
    assert record.feature == "DEVICE_AUTHS" and record.smartlock_id == lock_id
    assert record.outcome == "delivered" and record.status == 200 and record.attempt == 1
    assert HEX24.fullmatch(record.delivery_id) and record.time >= record.emitted


async def test_create_and_delete_through_the_api_are_delivered(
    sim: SimulatorControl, api: httpx.AsyncClient, receiver: Receiver, lock_id: int
) -> None:
    await register(api, receiver.url, ["DEVICE_AUTHS"])
    create = {"name": "Cleaner", "remoteAllowed": False, "type": 13, "code": 515151}
    assert (await api.put(f"/smartlock/{lock_id}/auth", json=create)).status_code == 204
    await received(receiver, 1)
    created = receiver.bodies()[0]
    assert created["deleted"] is False
    auth_id = created["smartlockAuth"]["id"]
    assert created["smartlockAuth"] == await listed_auth(api, lock_id, auth_id)

    assert (await api.delete(f"/smartlock/{lock_id}/auth/{auth_id}")).status_code == 204
    await received(receiver, 2)
    deleted = receiver.bodies()[1]
    assert deleted["deleted"] is True
    assert deleted["smartlockAuth"]["id"] == auth_id
    assert deleted["smartlockAuth"]["name"] == "Cleaner"
    assert (await api.get(f"/smartlock/{lock_id}/auth/{auth_id}")).status_code == 404


async def test_lost_update_sends_nothing(
    sim: SimulatorControl, api: httpx.AsyncClient, receiver: Receiver, lock_id: int
) -> None:
    """Nothing changed on the device, so nothing is announced (the listing reverts silently)."""
    auth = await sim.add_auth(lock_id, name="Guest", code=535353)
    await register(api, receiver.url, ["DEVICE_AUTHS"])
    await sim.set_faults(Faults(lost_update_nth=[1]), lock_id)
    lost = {"name": "Guest", "code": 565656}
    assert (await api.post(f"/smartlock/{lock_id}/auth/{auth.id}", json=lost)).status_code == 204
    # Queued behind the lost one on the same device: once it is announced, the first is done.
    marker = {"name": "Marker", "remoteAllowed": False, "type": 13, "code": 545454}
    assert (await api.put(f"/smartlock/{lock_id}/auth", json=marker)).status_code == 204
    await received(receiver, 1)
    assert [b["smartlockAuth"]["name"] for b in receiver.bodies()] == ["Marker"]
    assert (await listed_auth(api, lock_id, auth.id))["code"] == 535353


async def test_action_delivers_each_state_and_the_log_entry(
    api: httpx.AsyncClient, receiver: Receiver, lock_id: int
) -> None:
    await register(api, receiver.url, ["DEVICE_STATUS", "DEVICE_LOGS"])
    assert (await api.post(f"/smartlock/{lock_id}/action/unlock")).status_code == 204
    await received(receiver, 3)

    statuses = receiver.bodies("DEVICE_STATUS")
    assert [s["state"]["state"] for s in statuses] == [2, 3]  # unlocking, unlocked
    for status in statuses:
        assert set(status) == {"feature", "smartlockId", "state", "serverState", "adminPinState"}
        assert status["smartlockId"] == lock_id and status["serverState"] == 0
        assert status["state"]["lastAction"] == 1
        assert "operationId" not in status["state"]
    smartlock = (await api.get(f"/smartlock/{lock_id}")).json()
    final_state = {k: v for k, v in smartlock["state"].items() if k != "operationId"}
    assert statuses[-1]["state"] == final_state

    [entry] = receiver.bodies("DEVICE_LOGS")
    assert set(entry) == {"feature", "smartlockId", "smartlockLog"}
    assert entry["smartlockId"] == lock_id
    newest = (await api.get(f"/smartlock/{lock_id}/log", params={"limit": 1})).json()
    assert entry["smartlockLog"] == newest[0]
    assert entry["smartlockLog"]["action"] == 1 and entry["smartlockLog"]["trigger"] == 4
    # Without faults one webhook sees the events in the order they happened.
    assert [r.feature for r in receiver.received] == ["DEVICE_STATUS"] * 2 + ["DEVICE_LOGS"]


async def test_lock_n_go_reports_every_transitional_state(
    api: httpx.AsyncClient, receiver: Receiver, lock_id: int
) -> None:
    await register(api, receiver.url, ["DEVICE_STATUS"])
    response = await api.post(f"/smartlock/{lock_id}/action", json={"action": 4})
    assert response.status_code == 204
    await received(receiver, 4)
    assert [s["state"]["state"] for s in receiver.bodies()] == [2, 6, 4, 1]


async def test_going_offline_is_a_status_change(
    sim: SimulatorControl, api: httpx.AsyncClient, receiver: Receiver, lock_id: int
) -> None:
    await register(api, receiver.url, ["DEVICE_STATUS"])
    await sim.set_online(lock_id, False)
    await sim.set_online(lock_id, False)  # no change, nothing sent
    await sim.set_online(lock_id, True)
    await received(receiver, 2)
    assert [s["serverState"] for s in receiver.bodies()] == [4, 0]


async def test_direct_device_changes_are_delivered(
    sim: SimulatorControl, api: httpx.AsyncClient, receiver: Receiver, lock_id: int
) -> None:
    """Changed in the Nuki app: no operationId, no validation beyond types, DEVICE_AUTHS."""
    await register(api, receiver.url, ["DEVICE_AUTHS"])
    auth = await sim.add_auth(lock_id, name="Guest", code=535353, allowed_from_time=480)
    changed = await sim.update_device_auth(
        lock_id, auth.id, name="Renamed in the app", code=121212, allowed_from_time=None
    )
    assert changed.name == "Renamed in the app" and changed.code == 121212  # no Nuki rules
    assert changed.allowed_from_time is None and changed.operation_id is None
    listed = await listed_auth(api, lock_id, auth.id)
    assert listed == changed.to_wire()
    await sim.delete_device_auth(lock_id, auth.id)
    assert (await api.get(f"/smartlock/{lock_id}/auth/{auth.id}")).status_code == 404

    await received(receiver, 3)
    added, updated, deleted = receiver.bodies()
    assert added["deleted"] is False and added["smartlockAuth"] == auth.to_wire()
    assert updated["deleted"] is False and updated["smartlockAuth"] == listed
    assert deleted["deleted"] is True and deleted["smartlockAuth"] == listed
    assert (await sim.device(lock_id)).auths == []


async def test_direct_change_refuses_wrong_types_and_unknown_auths(
    sim: SimulatorControl, lock_id: int
) -> None:
    auth = await sim.add_auth(lock_id, name="Guest", code=535353)
    with pytest.raises(httpx.HTTPStatusError) as bad_type:
        await sim._call("PATCH", f"/locks/{lock_id}/auths/{auth.id}", {"enabled": "sometimes"})
    assert bad_type.value.response.status_code == 400
    with pytest.raises(httpx.HTTPStatusError) as null_name:
        await sim._call("PATCH", f"/locks/{lock_id}/auths/{auth.id}", {"name": None})
    assert null_name.value.response.status_code == 400
    with pytest.raises(httpx.HTTPStatusError) as unknown:
        await sim.update_device_auth(lock_id, "0" * 24, name="Nobody")
    assert unknown.value.response.status_code == 404
    with pytest.raises(httpx.HTTPStatusError) as unknown_delete:
        await sim.delete_device_auth(lock_id, "0" * 24)
    assert unknown_delete.value.response.status_code == 404


async def test_direct_change_during_a_pending_write_is_announced_with_its_operation(
    sim: SimulatorControl, api: httpx.AsyncClient, receiver: Receiver, lock_id: int
) -> None:
    """The app changes the auth while an API write is queued: the delivery shows the device's
    values and the pending operationId; when the write lands it overwrites the app's change."""
    auth = await sim.add_auth(lock_id, name="Guest", code=535353)
    await register(api, receiver.url, ["DEVICE_AUTHS"])
    await sim.set_online(lock_id, False)
    await sim.set_faults(Faults(offline_mode="hold"), lock_id)  # the write waits on the device
    update = {"name": "Guest", "code": 565656}
    assert (await api.post(f"/smartlock/{lock_id}/auth/{auth.id}", json=update)).status_code == 204
    operation_id = (await listed_auth(api, lock_id, auth.id))["operationId"]
    await sim.update_device_auth(lock_id, auth.id, name="From the app")
    await received(receiver, 1)
    during = receiver.bodies()[0]["smartlockAuth"]
    assert during["name"] == "From the app" and during["code"] == 535353
    assert during["operationId"] == operation_id
    await sim.set_online(lock_id, True)
    await received(receiver, 2)
    after = receiver.bodies()[1]["smartlockAuth"]
    assert after["name"] == "Guest" and after["code"] == 565656 and "operationId" not in after


async def test_features_filter_and_deleted_webhooks(
    sim: SimulatorControl,
    api: httpx.AsyncClient,
    receiver: Receiver,
    second_receiver: Receiver,
    lock_id: int,
) -> None:
    logs_only = await register(api, receiver.url, ["DEVICE_LOGS"])
    auths_only = await register(api, second_receiver.url, ["DEVICE_AUTHS"])
    assert (await api.post(f"/smartlock/{lock_id}/action/lock")).status_code == 204
    auth = await sim.add_auth(lock_id, name="Guest", code=535353)
    await deliveries_until(sim, 1, webhook_id=logs_only["id"])
    await deliveries_until(sim, 1, webhook_id=auths_only["id"])
    assert [r.feature for r in receiver.received] == ["DEVICE_LOGS"]
    assert [r.feature for r in second_receiver.received] == ["DEVICE_AUTHS"]

    assert (await api.delete(f"/api/decentralWebhook/{auths_only['id']}")).status_code == 204
    await sim.update_device_auth(lock_id, auth.id, name="Nobody hears this")
    assert (await api.post(f"/smartlock/{lock_id}/action/unlock")).status_code == 204
    # The later event reached the other webhook: the change before it is long published.
    records = await deliveries_until(sim, 2, webhook_id=logs_only["id"])
    assert len(second_receiver.received) == 1
    records = await sim.webhook_deliveries()
    assert [r.webhook_id for r in records].count(auths_only["id"]) == 1


# ---- faults -------------------------------------------------------------------------------


async def test_duplicate(
    sim: SimulatorControl, api: httpx.AsyncClient, receiver: Receiver, lock_id: int
) -> None:
    hook = await register(api, receiver.url, ["DEVICE_AUTHS"])
    await sim.set_faults(Faults(webhook_duplicate_nth=[1]))
    await sim.add_auth(lock_id, name="Guest", code=535353)
    records = await deliveries_until(sim, 2)
    first, second = receiver.received
    assert first == second and first.signed_with(hook["secret"])
    assert [(r.attempt, r.duplicate, r.outcome) for r in records] == [
        (1, False, "delivered"),
        (1, True, "delivered"),
    ]
    assert records[0].delivery_id == records[1].delivery_id


async def test_reorder(
    sim: SimulatorControl, api: httpx.AsyncClient, receiver: Receiver, lock_id: int
) -> None:
    await register(api, receiver.url, ["DEVICE_AUTHS"])
    await sim.set_faults(Faults(webhook_reorder_nth=[1], webhook_reorder_hold=60))
    auth = await sim.add_auth(lock_id, name="First", code=535353)
    await sim.update_device_auth(lock_id, auth.id, name="Second")
    records = await deliveries_until(sim, 2)
    assert [b["smartlockAuth"]["name"] for b in receiver.bodies()] == ["Second", "First"]
    assert [r.reordered for r in records] == [False, True]
    assert records[0].emitted > records[1].emitted  # the later event went first


async def test_reordered_delivery_without_a_next_one_is_sent_late(
    sim: SimulatorControl, api: httpx.AsyncClient, receiver: Receiver, lock_id: int
) -> None:
    await register(api, receiver.url, ["DEVICE_AUTHS"])
    await sim.set_faults(Faults(webhook_reorder_nth=[1], webhook_reorder_hold=0.05))
    await sim.add_auth(lock_id, name="Alone", code=535353)
    [record] = await deliveries_until(sim, 1, outcome="delivered")
    assert record.reordered
    assert [b["smartlockAuth"]["name"] for b in receiver.bodies()] == ["Alone"]


async def test_drop(
    sim: SimulatorControl, api: httpx.AsyncClient, receiver: Receiver, lock_id: int
) -> None:
    await register(api, receiver.url, ["DEVICE_AUTHS"])
    await sim.set_faults(Faults(webhook_drop_nth=[1]))
    auth = await sim.add_auth(lock_id, name="Lost", code=535353)
    await sim.update_device_auth(lock_id, auth.id, name="Kept")
    await deliveries_until(sim, 1, outcome="delivered")
    assert [b["smartlockAuth"]["name"] for b in receiver.bodies()] == ["Kept"]
    dropped, delivered = await sim.webhook_deliveries()
    assert (dropped.outcome, dropped.attempt, dropped.status) == ("dropped", 0, None)
    assert delivered.outcome == "delivered"


async def test_wrong_signature(
    sim: SimulatorControl, api: httpx.AsyncClient, receiver: Receiver, lock_id: int
) -> None:
    hook = await register(api, receiver.url, ["DEVICE_AUTHS"])
    await sim.set_faults(Faults(webhook_bad_signature_nth=[1]))
    auth = await sim.add_auth(lock_id, name="Forged", code=535353)
    await sim.update_device_auth(lock_id, auth.id, name="Genuine")
    records = await deliveries_until(sim, 2)
    forged, genuine = receiver.received
    assert SIGNATURE.fullmatch(forged.headers[SIGNATURE_HEADER.lower()])
    assert not forged.signed_with(hook["secret"])
    assert genuine.signed_with(hook["secret"])
    assert [r.bad_signature for r in records] == [True, False]


async def test_delay_holds_one_locks_deliveries_back(
    sim: SimulatorControl,
    api: httpx.AsyncClient,
    receiver: Receiver,
) -> None:
    """Per-lock faults: the delayed lock's event is overtaken by a later one of another lock
    (the delay is far longer than the test, so the order is certain)."""
    slow = (await sim.add_lock(name="Slow")).smartlock_id
    fast = (await sim.add_lock(name="Fast")).smartlock_id
    await register(api, receiver.url, ["DEVICE_AUTHS"])
    await sim.set_faults(Faults(webhook_delay=600), slow)
    await sim.add_auth(slow, name="Late", code=535353)
    await sim.add_auth(fast, name="On time", code=535353)
    [record] = await deliveries_until(sim, 1)
    assert [b["smartlockAuth"]["name"] for b in receiver.bodies()] == ["On time"]
    assert record.smartlock_id == fast and record.delayed == 0


async def test_delayed_delivery_arrives_after_its_delay(
    sim: SimulatorControl, api: httpx.AsyncClient, receiver: Receiver, lock_id: int
) -> None:
    await register(api, receiver.url, ["DEVICE_AUTHS"])
    await sim.set_faults(Faults(webhook_delay=0.2))
    await sim.add_auth(lock_id, name="Late", code=535353)
    [record] = await deliveries_until(sim, 1, outcome="delivered")
    assert record.delayed == 0.2
    # A lower bound the timer guarantees (same monotonic clock), not a measurement.
    assert record.time - record.emitted >= 0.2 - 1e-3


async def test_faults_repeat_from_the_seed(
    sim: SimulatorControl, api: httpx.AsyncClient, receiver: Receiver
) -> None:
    async def run() -> list[tuple[str, str, bool]]:
        await sim.reset(seed=4242)
        faulty = (await sim.add_lock()).smartlock_id
        calm = (await sim.add_lock()).smartlock_id
        await register(api, receiver.url, ["DEVICE_AUTHS"])
        await sim.set_faults(Faults(webhook_drop_rate=0.4, webhook_duplicate_rate=0.4), faulty)
        auth = await sim.add_auth(faulty, name="Name 0", code=535353)
        for number in range(1, 12):
            await sim.update_device_auth(faulty, auth.id, name=f"Name {number}")
        # One webhook sends in order: once the calm lock's later event is delivered, every
        # earlier delivery (and its duplicate) has been sent.
        await sim.add_auth(calm, name="Marker", code=535353)
        await deliveries_until(sim, 1, smartlock_id=calm, outcome="delivered")
        records = [r for r in await sim.webhook_deliveries() if r.smartlock_id == faulty]
        return [(r.delivery_id, r.outcome, r.duplicate) for r in records]

    first = await run()
    second = await run()
    assert first == second
    assert len({delivery_id for delivery_id, _, _ in first}) == 12
    outcomes = {(outcome, duplicate) for _, outcome, duplicate in first}
    assert outcomes == {("dropped", False), ("delivered", False), ("delivered", True)}


# ---- failures: retries, deactivation, receivers that are slow or gone ----------------------


async def test_retries_when_set(
    sim: SimulatorControl, api: httpx.AsyncClient, receiver: Receiver, lock_id: int
) -> None:
    await sim.set_settings(sim_settings(webhook_retries=2, webhook_retry_delay=0.01))
    hook = await register(api, receiver.url, ["DEVICE_AUTHS"])
    receiver.script = [500, 503]
    await sim.add_auth(lock_id, name="Third time lucky", code=535353)
    await deliveries_until(sim, 1, outcome="delivered")
    records = await sim.webhook_deliveries()
    assert [(r.attempt, r.outcome, r.status) for r in records] == [
        (1, "failed", 500),
        (2, "failed", 503),
        (3, "delivered", 200),
    ]
    assert len({r.delivery_id for r in records}) == 1
    assert len(receiver.received) == 3
    [view] = await sim.webhooks()
    assert view.id == hook["id"] and view.active and view.consecutive_failures == 0


async def test_no_retry_by_default_and_deactivation_after_failures(
    sim: SimulatorControl,
    api: httpx.AsyncClient,
    receiver: Receiver,
    second_receiver: Receiver,
    lock_id: int,
) -> None:
    await sim.set_settings(sim_settings(webhook_deactivate_after=2))
    receiver.status = 500
    failing = await register(api, receiver.url, ["DEVICE_AUTHS"])
    healthy = await register(api, second_receiver.url, ["DEVICE_AUTHS"])
    auth = await sim.add_auth(lock_id, name="One", code=535353)
    await sim.update_device_auth(lock_id, auth.id, name="Two")
    await deliveries_until(sim, 2, webhook_id=failing["id"])
    await sim.update_device_auth(lock_id, auth.id, name="Three")
    await received(second_receiver, 3)  # the third event is out; the failing hook got none

    failed = [r for r in await sim.webhook_deliveries() if r.webhook_id == failing["id"]]
    assert [(r.attempt, r.outcome, r.status) for r in failed] == [(1, "failed", 500)] * 2
    assert len(receiver.received) == 2
    views = {view.id: view for view in await sim.webhooks()}
    assert not views[failing["id"]].active
    assert views[failing["id"]].consecutive_failures == 2
    assert views[failing["id"]].deactivated_at is not None
    assert views[healthy["id"]].active
    # Nuki's listing has no field for it: a deactivated webhook is still listed.
    listed = {hook["id"] for hook in (await api.get("/api/decentralWebhook")).json()}
    assert listed == {failing["id"], healthy["id"]}


async def test_deliveries_queued_for_a_deactivated_webhook_are_discarded(
    sim: SimulatorControl, api: httpx.AsyncClient, receiver: Receiver, lock_id: int
) -> None:
    await sim.set_settings(sim_settings(webhook_deactivate_after=1, webhook_timeout=120))
    await register(api, receiver.url, ["DEVICE_AUTHS"])
    receiver.hold = asyncio.Event()
    receiver.script = [500]
    auth = await sim.add_auth(lock_id, name="Fails", code=535353)
    await sim.update_device_auth(lock_id, auth.id, name="Queued behind it")
    receiver.hold.set()
    records = await deliveries_until(sim, 2)
    assert [(r.attempt, r.outcome) for r in records] == [(1, "failed"), (0, "discarded")]
    assert len(receiver.received) == 1
    [view] = await sim.webhooks()
    assert not view.active


async def test_a_success_resets_the_failure_count(
    sim: SimulatorControl, api: httpx.AsyncClient, receiver: Receiver, lock_id: int
) -> None:
    await sim.set_settings(sim_settings(webhook_deactivate_after=2))
    hook = await register(api, receiver.url, ["DEVICE_AUTHS"])
    receiver.script = [500, 200, 500]
    auth = await sim.add_auth(lock_id, name="One", code=535353)
    for name in ("Two", "Three"):
        await sim.update_device_auth(lock_id, auth.id, name=name)
    await deliveries_until(sim, 3)
    [view] = await sim.webhooks()
    assert view.id == hook["id"] and view.active and view.consecutive_failures == 1


async def test_unreachable_receiver_is_recorded(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    await register(api, f"http://127.0.0.1:{port}/hook", ["DEVICE_AUTHS"])
    await sim.add_auth(lock_id, name="Nobody home", code=535353)
    [record] = await deliveries_until(sim, 1)
    assert record.outcome == "failed" and record.status is None
    assert record.error is not None and record.error.startswith("ConnectError")


async def test_slow_receiver_never_stalls_the_cloud(
    sim: SimulatorControl,
    api: httpx.AsyncClient,
    receiver: Receiver,
    second_receiver: Receiver,
    lock_id: int,
) -> None:
    await sim.set_settings(sim_settings(webhook_timeout=120))
    receiver.hold = asyncio.Event()  # answers nothing until released
    await register(api, receiver.url, ["DEVICE_AUTHS"])
    await register(api, second_receiver.url, ["DEVICE_AUTHS"])
    auth = await sim.add_auth(lock_id, name="Guest", code=535353)
    await received(second_receiver, 1)

    # While the first receiver holds its delivery: the API answers, the device applies writes,
    # other webhooks get theirs, and the held webhook's next deliveries queue behind it.
    update = {"name": "Guest", "code": 565656}
    assert (await api.post(f"/smartlock/{lock_id}/auth/{auth.id}", json=update)).status_code == 204
    await received(second_receiver, 2)
    assert [a.code for a in (await sim.device(lock_id)).auths] == [565656]
    assert receiver.received == []

    receiver.hold.set()
    await received(receiver, 2)
    assert [b["smartlockAuth"]["code"] for b in receiver.bodies()] == [535353, 565656]


async def test_delivery_log_is_bounded_and_clearable(
    sim: SimulatorControl, api: httpx.AsyncClient, receiver: Receiver, lock_id: int
) -> None:
    await sim.set_settings(sim_settings(webhook_log_size=3))
    await register(api, receiver.url, ["DEVICE_AUTHS"])
    auth = await sim.add_auth(lock_id, name="Name 0", code=535353)
    seen: list[str] = []
    for number in range(1, 6):
        if number > 1:
            await sim.update_device_auth(lock_id, auth.id, name=f"Name {number}")
        records: list[WebhookDelivery] = []

        async def recorded() -> bool:
            nonlocal records
            records = await sim.webhook_deliveries()
            return bool(records) and records[-1].delivery_id not in seen

        await eventually(recorded)
        seen.append(records[-1].delivery_id)
    assert [r.delivery_id for r in await sim.webhook_deliveries()] == seen[-3:]
    await sim.clear_webhook_deliveries()
    assert await sim.webhook_deliveries() == []


async def test_reset_forgets_webhooks(
    sim: SimulatorControl, api: httpx.AsyncClient, receiver: Receiver
) -> None:
    await register(api, receiver.url)
    await sim.reset()
    assert (await api.get("/api/decentralWebhook")).json() == []
    assert await sim.webhooks() == []
