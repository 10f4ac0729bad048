"""The fake cloud's answers validate against Nuki's own OpenAPI description (3.9.0, vendored in
tests/data), response schemas taken from the paths themselves with their $refs resolved.

Two readings are checked: the description as Nuki wrote it (minus its known defects, below),
and a closed one in which an object may carry only the properties the description declares,
so the fake cloud sends no field Nuki does not have.

Known defects of the description, patched here and nowhere else (each patch first asserts
the defect is still there, so a corrected description makes the patch fail loudly):

- `ObjectId` (the type of `SmartlockAuth.operationId`) is described as a MongoDB ObjectId
  *object* (timestamp, counter, ...); the API sends it as a string of 24 hex characters.
- `SmartlockAuth.type` has `maximum: 2`, while its own description lists 0, 1, 2, 3, 13, 14
  and 15 (keypad codes are 13); the maximum becomes 15.
- `SmartlockLog.state` has `minimum: 1`, while its description says "0 .. Success"; the
  minimum becomes 0.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from jsonschema import Draft4Validator, FormatChecker
from pydantic import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from nukiflow.simulator import Faults, SimulatorControl, SimulatorServer, WebhookDelivery
from tests.conftest import sim_settings
from tests.webhook_receiver import Receiver, eventually

SPEC_PATH = Path(__file__).parent / "data" / "nuki-openapi-3.9.0.json"
SPEC_URI = "urn:nuki:openapi:3.9.0"
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
ALL_AUTH_TYPES = (0, 1, 2, 3, 13, 14, 15)


# ---- the description, its patches, validators ---------------------------------------------


def load_spec() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return spec


def patch_known_defects(spec: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    schemas = spec["components"]["schemas"]
    assert schemas["ObjectId"]["type"] == "object"
    schemas["ObjectId"] = {"type": "string", "pattern": "^[0-9a-f]{24}$"}
    auth_type = schemas["SmartlockAuth"]["properties"]["type"]
    assert auth_type["maximum"] == 2
    auth_type["maximum"] = 15
    log_state = schemas["SmartlockLog"]["properties"]["state"]
    assert log_state["minimum"] == 1
    log_state["minimum"] = 0
    return spec


def closed(spec: dict[str, Any]) -> dict[str, Any]:
    """Every object schema admits its declared properties only."""
    spec = copy.deepcopy(spec)

    def close(node: object) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(spec["components"])
    return spec


def format_checker() -> FormatChecker:
    """The formats the description uses: OpenAPI's integer widths and RFC 3339 date-times."""
    checker = FormatChecker()

    @checker.checks("int32")
    def int32(value: object) -> bool:
        return not isinstance(value, int) or INT32[0] <= value <= INT32[1]

    @checker.checks("int64")
    def int64(value: object) -> bool:
        return not isinstance(value, int) or INT64[0] <= value <= INT64[1]

    @checker.checks("date-time", raises=ValueError)
    def date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parsed = datetime.fromisoformat(value)
        return "T" in value and parsed.tzinfo is not None

    return checker


class Conformance:
    """Validators for response schemas of paths, and for component schemas."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        resource = Resource.from_contents(spec, default_specification=DRAFT4)
        self.registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        self.formats = format_checker()

    def _validator(self, pointer: str) -> Draft4Validator:
        schema = {"$ref": f"{SPEC_URI}#{quote(pointer)}"}
        return Draft4Validator(schema, registry=self.registry, format_checker=self.formats)

    def response(self, path: str, method: str, status: str = "200") -> Draft4Validator:
        content = self.spec["paths"][path][method]["responses"][status]["content"]
        [media_type] = content  # "*/*" throughout the description
        parts = ["paths", path, method, "responses", status, "content", media_type, "schema"]
        return self._validator(
            "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)
        )

    def component(self, name: str, *properties: str) -> Draft4Validator:
        pointer = f"/components/schemas/{name}"
        for name_of_property in properties:
            pointer += f"/properties/{name_of_property}"
        return self._validator(pointer)


def problems(validator: Draft4Validator, instance: object) -> list[str]:
    return sorted(
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in validator.iter_errors(instance)
    )


class Readings:
    """Both readings of the description; `check` validates against each."""

    def __init__(self) -> None:
        patched = patch_known_defects(load_spec())
        self.readings = {
            "as described": Conformance(patched),
            "closed": Conformance(closed(patched)),
        }

    def check(self, select: Callable[[Conformance], Draft4Validator], instance: object) -> None:
        found = {name: problems(select(spec), instance) for name, spec in self.readings.items()}
        assert found == {name: [] for name in self.readings}


@pytest.fixture(scope="module")
def spec() -> Readings:
    return Readings()


# ---- the validators themselves can fail ----------------------------------------------------


def sample_auth() -> dict[str, Any]:
    return {
        "id": "5f0c1a2b3c4d5e6f7a8b9c0d",
        "smartlockId": 17179869184,
        "authId": 3,
        "code": 535353,
        "type": 13,
        "name": "Guest",
        "enabled": True,
        "remoteAllowed": False,
        "lockCount": 0,
        "allowedWeekDays": 96,
        "creationDate": "2025-01-15T12:00:00.000Z",
        "operationId": "65a4f0c2e4b0a1b2c3d4e5f6",
    }


def test_the_patches_are_needed_and_the_validators_reject_what_is_wrong() -> None:
    listing = "/smartlock/{smartlockId}/auth"
    raw = Conformance(load_spec()).response(listing, "get")
    as_described = Conformance(patch_known_defects(load_spec())).response(listing, "get")
    strict = Conformance(closed(patch_known_defects(load_spec()))).response(listing, "get")
    assert problems(as_described, [sample_auth()]) == []
    assert problems(strict, [sample_auth()]) == []
    # Without the patches a keypad code with a pending operation does not validate.
    assert problems(raw, [sample_auth()]) == [
        "0/operationId: '65a4f0c2e4b0a1b2c3d4e5f6' is not of type 'object'",
        "0/type: 13 is greater than the maximum of 2",
    ]
    wrong = sample_auth() | {
        "operationId": "not hex",
        "type": 16,
        "allowedWeekDays": 128,
        "code": 2**31,
        "creationDate": "yesterday",
    }
    del wrong["lockCount"]
    assert len(problems(as_described, [wrong])) == 6
    assert problems(strict, [sample_auth() | {"colour": "red"}]) == [
        "0: Additional properties are not allowed ('colour' was unexpected)"
    ]
    assert problems(as_described, [sample_auth() | {"colour": "red"}]) == []


# ---- a populated fake cloud ----------------------------------------------------------------


@pytest.fixture
async def api(simulator: SimulatorServer) -> AsyncIterator[httpx.AsyncClient]:
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


async def settle(sim: SimulatorControl, smartlock_id: int) -> None:
    async def idle() -> bool:
        return (await sim.device(smartlock_id)).pending == 0

    await eventually(idle)


async def act(
    sim: SimulatorControl, api: httpx.AsyncClient, smartlock_id: int, action: int
) -> None:
    response = await api.post(f"/smartlock/{smartlock_id}/action", json={"action": action})
    assert response.status_code == 204, response.text
    await settle(sim, smartlock_id)


class Populated:
    def __init__(self, locks: dict[str, int], webhook: dict[str, Any]) -> None:
        self.locks = locks
        self.webhook = webhook


@pytest.fixture
async def populated(sim: SimulatorControl, api: httpx.AsyncClient, receiver: Receiver) -> Populated:
    """Locks of every kind, auths of every type (some with restrictions, some with a pending
    operation), and the log of every lock action, an opener's and a motor block."""
    # Short device times: the fixture runs a dozen actions one after another.
    await sim.set_settings(
        sim_settings(create_visibility="immediately", device_delay=0.01, action_time=0.02)
    )
    registered = await api.put(
        "/api/decentralWebhook",
        json={
            "webhookUrl": receiver.url,
            "webhookFeatures": ["DEVICE_AUTHS", "DEVICE_STATUS", "DEVICE_LOGS"],
        },
    )
    assert registered.status_code == 200
    locks = {
        "smart lock 4": (await sim.add_lock(name="Front door")).smartlock_id,
        "smart lock 2": (await sim.add_lock(type=0, keypad_paired=False)).smartlock_id,
        "box": (await sim.add_lock(type=1, keypad_paired=False)).smartlock_id,
        "opener": (await sim.add_lock(opener=True, timezone_id=40)).smartlock_id,
        "smart door": (await sim.add_lock(type=3, timezone_id=12)).smartlock_id,
        "held": (await sim.add_lock(name="Held offline")).smartlock_id,
    }
    front = locks["smart lock 4"]
    for number, auth_type in enumerate(ALL_AUTH_TYPES):
        await sim.add_auth(
            front,
            name=f"Type {auth_type}",
            type=auth_type,
            code=535353 + number if auth_type == 13 else None,
            remote_allowed=auth_type == 0,
            account_user_id=4711 if auth_type == 0 else None,
        )
    await sim.add_auth(
        front,
        name="Weekdays",
        code=545454,
        allowed_from_date=datetime(2025, 1, 1, tzinfo=UTC),
        allowed_until_date=datetime(2030, 1, 1, tzinfo=UTC),
        allowed_week_days=124,
        allowed_from_time=480,
        allowed_until_time=1080,
    )
    await sim.add_auth(locks["smart lock 2"], name="Phone", type=0)
    await sim.add_auth(locks["opener"], name="Fob", type=2)

    # Pending operations, held by a lock that is offline: a create, an update, an action.
    held = locks["held"]
    await sim.set_faults(Faults(offline_mode="hold"), held)
    waiting = await sim.add_auth(held, name="Waiting", code=565656)
    await sim.set_online(held, False)
    create = {
        "name": "Pending",
        "remoteAllowed": True,
        "type": 13,
        "code": 575757,
        "allowedWeekDays": 3,
        "allowedFromTime": 600,
        "allowedUntilTime": 720,
    }
    assert (await api.put(f"/smartlock/{held}/auth", json=create)).status_code == 204
    update = {"name": "Waiting", "code": 585858, "enabled": False}
    response = await api.post(f"/smartlock/{held}/auth/{waiting.id}", json=update)
    assert response.status_code == 204
    assert (await api.post(f"/smartlock/{held}/action/unlock")).status_code == 204

    for action in (1, 2, 3, 4, 5):  # unlock, lock, unlatch, lock'n'go, lock'n'go with unlatch
        await act(sim, api, front, action)
    await sim.set_faults(Faults(motor_blocked_next=True), front)
    await act(sim, api, front, 2)
    await act(sim, api, locks["smart lock 2"], 1)
    await act(sim, api, locks["box"], 1)
    await act(sim, api, locks["opener"], 1)  # ring to open on
    await act(sim, api, locks["opener"], 3)  # open
    await act(sim, api, locks["smart door"], 1)
    return Populated(locks, registered.json())


# ---- the answers ---------------------------------------------------------------------------


async def get(api: httpx.AsyncClient, path: str, **params: object) -> Any:
    response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_smartlocks(spec: Readings, api: httpx.AsyncClient, populated: Populated) -> None:
    listing = await get(api, "/smartlock")
    assert len(listing) == len(populated.locks)
    spec.check(lambda s: s.response("/smartlock", "get"), listing)
    for smartlock_id in populated.locks.values():
        one = await get(api, f"/smartlock/{smartlock_id}")
        spec.check(lambda s: s.response("/smartlock/{smartlockId}", "get"), one)
    held = await get(api, f"/smartlock/{populated.locks['held']}")
    assert held["serverState"] == 4 and "operationId" in held["state"]  # covered, not skipped


async def test_auths(spec: Readings, api: httpx.AsyncClient, populated: Populated) -> None:
    for smartlock_id in populated.locks.values():
        auths = await get(api, f"/smartlock/{smartlock_id}/auth")
        spec.check(lambda s: s.response("/smartlock/{smartlockId}/auth", "get"), auths)
    everything = await get(api, "/smartlock/auth")
    spec.check(lambda s: s.response("/smartlock/auth", "get"), everything)
    # What the answers held, so the validation above was not of empty lists.
    assert {auth["type"] for auth in everything} == set(ALL_AUTH_TYPES)
    assert sum("operationId" in auth for auth in everything) == 2
    assert any("allowedFromDate" in auth and "allowedUntilTime" in auth for auth in everything)


async def test_logs(spec: Readings, api: httpx.AsyncClient, populated: Populated) -> None:
    entries = []
    for smartlock_id in populated.locks.values():
        log = await get(api, f"/smartlock/{smartlock_id}/log", limit=50)
        spec.check(lambda s: s.response("/smartlock/{smartlockId}/log", "get"), log)
        entries += log
    assert {entry["state"] for entry in entries} == {0, 1}
    assert {entry["deviceType"] for entry in entries} == {0, 2, 3}
    assert {entry["action"] for entry in entries} == {1, 2, 3, 4, 5}


async def test_webhook_endpoints(
    spec: Readings, api: httpx.AsyncClient, populated: Populated
) -> None:
    spec.check(lambda s: s.response("/api/decentralWebhook", "put"), populated.webhook)
    listing = await get(api, "/api/decentralWebhook")
    assert listing == [populated.webhook]
    spec.check(lambda s: s.response("/api/decentralWebhook", "get"), listing)


Schema = tuple[str, ...]  # a component schema, optionally one of its properties


def delivered_parts(receiver: Receiver) -> Iterator[tuple[Schema, object]]:
    for delivery in receiver.received:
        body = delivery.body
        if body["feature"] == "DEVICE_AUTHS":
            yield ("SmartlockAuth",), body["smartlockAuth"]
        elif body["feature"] == "DEVICE_STATUS":
            yield ("Smartlock.State",), body["state"]
            for field in ("smartlockId", "serverState", "adminPinState"):
                yield ("Smartlock", field), body[field]
        else:
            yield ("SmartlockLog",), body["smartlockLog"]
            yield ("SmartlockLog", "smartlockId"), body["smartlockId"]


async def test_webhook_deliveries(
    spec: Readings, sim: SimulatorControl, receiver: Receiver, populated: Populated
) -> None:
    """No schema describes a delivery as a whole; its parts are the API's models."""
    last_lock = populated.locks["smart door"]
    records: list[WebhookDelivery] = []

    async def all_sent() -> bool:
        # One sender posts in order: once the last event (the smart door's log entry) is
        # recorded, every earlier delivery has been sent and recorded too.
        nonlocal records
        records = await sim.webhook_deliveries()
        return any(r.smartlock_id == last_lock and r.feature == "DEVICE_LOGS" for r in records)

    await eventually(all_sent)
    assert all(record.outcome == "delivered" for record in records)
    assert len(receiver.received) == len(records)
    found: set[Schema] = set()
    for schema, part in delivered_parts(receiver):
        spec.check(lambda s, schema=schema: s.component(*schema), part)
        found.add(schema)
    assert {("SmartlockAuth",), ("Smartlock.State",), ("SmartlockLog",)} <= found


async def test_lock_time_zone(api: httpx.AsyncClient, sim: SimulatorControl) -> None:
    """`config.timezoneId` (required, 0..45) is the lock's zone in Nuki's table."""
    berlin = await sim.add_lock()
    london = await sim.add_lock(timezone_id=40)
    kathmandu = await sim.add_lock(timezone_id=23)
    configs = [
        (await get(api, f"/smartlock/{lock.smartlock_id}"))["config"]
        for lock in (berlin, london, kathmandu)
    ]
    assert [(c["timezoneId"], c["timezoneOffset"]) for c in configs] == [
        (37, 60),
        (40, 0),
        (23, 345),
    ]
    for wrong in (-1, 46):
        with pytest.raises(ValidationError):
            await sim.add_lock(timezone_id=wrong)
        with pytest.raises(httpx.HTTPStatusError) as refused:
            await sim._call("POST", "/locks", {"timezone_id": wrong})
        assert refused.value.response.status_code == 400
