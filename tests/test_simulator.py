"""The fake Nuki cloud, over real HTTP: API shape, asynchronous writes, validation, actions,
offline behaviour, faults and their reproducibility from a seed."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from nukiflow.contracts.wire import (
    NukiErrorBody,
    NukiStatusBody,
    Smartlock,
    SmartlockAuth,
    SmartlockLog,
)
from nukiflow.simulator import Faults, SimSettings, SimulatorControl, SimulatorServer

HEX24 = re.compile(r"^[0-9a-f]{24}$")
LOCKED_BODY: dict[str, list[object]] = {"stackTrace": [], "suppressedExceptions": []}
FAST = SimSettings(device_delay=0.05, action_time=0.1)


# ---- helpers ------------------------------------------------------------------------------


@pytest.fixture
async def api(
    simulator: SimulatorServer, sim: SimulatorControl
) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client of the Nuki API, with fast device timings."""
    await sim.set_settings(FAST)
    async with httpx.AsyncClient(
        base_url=simulator.base_url,
        headers={"Authorization": f"Bearer {simulator.token}"},
        trust_env=False,
        timeout=10.0,
    ) as client:
        yield client


@pytest.fixture
async def lock_id(sim: SimulatorControl) -> int:
    return (await sim.add_lock(name="Front door")).smartlock_id


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


async def drained(sim: SimulatorControl, smartlock_id: int) -> None:
    async def empty() -> bool:
        return (await sim.device(smartlock_id)).pending == 0

    await eventually(empty)


async def list_auths(api: httpx.AsyncClient, smartlock_id: int) -> list[SmartlockAuth]:
    response = await api.get(f"/smartlock/{smartlock_id}/auth")
    assert response.status_code == 200
    return [SmartlockAuth.model_validate(item) for item in response.json()]


async def get_auth(api: httpx.AsyncClient, smartlock_id: int, auth_id: str) -> SmartlockAuth:
    response = await api.get(f"/smartlock/{smartlock_id}/auth/{auth_id}")
    assert response.status_code == 200
    return SmartlockAuth.model_validate(response.json())


async def get_logs(
    api: httpx.AsyncClient, smartlock_id: int, **params: str | int
) -> list[SmartlockLog]:
    response = await api.get(f"/smartlock/{smartlock_id}/log", params=params)
    assert response.status_code == 200
    return [SmartlockLog.model_validate(item) for item in response.json()]


async def all_auths(api: httpx.AsyncClient) -> list[SmartlockAuth]:
    response = await api.get("/smartlock/auth")
    assert response.status_code == 200
    return [SmartlockAuth.model_validate(item) for item in response.json()]


async def act(api: httpx.AsyncClient, smartlock_id: int, action: int) -> int:
    response = await api.post(f"/smartlock/{smartlock_id}/action", json={"action": action})
    return response.status_code


async def get_lock(api: httpx.AsyncClient, smartlock_id: int) -> Smartlock:
    response = await api.get(f"/smartlock/{smartlock_id}")
    assert response.status_code == 200
    return Smartlock.model_validate(response.json())


def keypad(code: int, name: str = "Guest", **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": 13, "code": code, "remoteAllowed": False, **extra}


def assert_error(response: httpx.Response, status: int, detail: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    NukiErrorBody.model_validate(body)
    assert body["stackTrace"] == [] and body["suppressedExceptions"] == []
    if detail is not None:
        assert body["detailMessage"] == detail


def assert_bad_value(response: httpx.Response, parameter: str, value: object) -> None:
    detail = f"The supplied value '{value}' for parameter '{parameter}' is not valid"
    assert response.json() == {
        "detailMessage": detail,
        "stackTrace": [],
        "suppressedExceptions": [],
    }
    assert response.status_code == 400


# ---- basics -------------------------------------------------------------------------------


async def test_every_request_needs_the_bearer_token(
    simulator: SimulatorServer, api: httpx.AsyncClient, lock_id: int
) -> None:
    async with httpx.AsyncClient(base_url=simulator.base_url, trust_env=False) as anonymous:
        assert_error(await anonymous.get("/smartlock"), 401)
        wrong = {"Authorization": "Bearer nope"}
        assert_error(await anonymous.get(f"/smartlock/{lock_id}/auth", headers=wrong), 401)
        assert (await anonymous.get("/_sim/faults")).status_code == 401
    assert (await api.get("/smartlock")).status_code == 200


async def test_unknown_locks_auths_and_paths_are_404(api: httpx.AsyncClient, lock_id: int) -> None:
    assert_error(await api.get("/smartlock/999"), 404)
    assert_error(await api.get("/smartlock/999/auth"), 404)
    missing = "0" * 24
    assert_error(await api.get(f"/smartlock/{lock_id}/auth/{missing}"), 404)
    assert_error(await api.post(f"/smartlock/{lock_id}/auth/{missing}", json={"name": "x"}), 404)
    assert_error(await api.delete(f"/smartlock/{lock_id}/auth/{missing}"), 404)
    assert (await api.post(f"/smartlock/{lock_id}/action/unlatch")).status_code in (404, 405)
    assert (await api.post(f"/smartlock/{lock_id}/sync")).status_code == 204


async def test_seeded_locks_have_a_paired_keypad() -> None:
    async with (
        SimulatorServer(token="t", seed=3, locks=2) as server,
        httpx.AsyncClient(
            base_url=server.base_url, headers={"Authorization": "Bearer t"}, trust_env=False
        ) as client,
    ):
        response = await client.get("/smartlock")
        locks = [Smartlock.model_validate(item) for item in response.json()]
        assert len(locks) == 2
        assert all(lock.keypad_paired and lock.online and lock.type == 4 for lock in locks)
        assert server.base_url.startswith("http://127.0.0.1:") and server.port > 0


async def test_reset_restores_the_start(
    simulator: SimulatorServer, sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    await sim.set_faults(Faults(server_error_rate=1.0))
    await sim.reset(seed=5)
    assert (await api.get("/smartlock")).json() == []
    assert await sim.get_faults() == Faults()
    assert [(r.method, r.path) for r in await sim.requests()] == [("GET", "/smartlock")]
    assert await sim.get_settings() == simulator.state.initial_settings != FAST


# ---- asynchronous auth writes -------------------------------------------------------------


async def test_create_is_queued_then_applied(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    response = await api.put(f"/smartlock/{lock_id}/auth", json=keypad(555551))
    assert response.status_code == 204 and response.content == b""
    assert await list_auths(api, lock_id) == []  # create_visibility "after_apply"
    assert (await sim.device(lock_id)).pending == 1
    await drained(sim, lock_id)
    [auth] = await list_auths(api, lock_id)
    assert HEX24.match(auth.id) and auth.operation_id is None
    assert (auth.code, auth.type, auth.name, auth.enabled) == (555551, 13, "Guest", True)
    assert await get_auth(api, lock_id, auth.id) == auth
    assert [a.id for a in (await sim.device(lock_id)).auths] == [auth.id]


async def test_create_visible_immediately_carries_an_operation_id(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    await sim.set_settings(FAST.model_copy(update={"create_visibility": "immediately"}))
    assert (await api.put(f"/smartlock/{lock_id}/auth", json=keypad(555551))).status_code == 204
    [pending] = await list_auths(api, lock_id)
    assert pending.operation_id is not None and HEX24.match(pending.operation_id)
    await drained(sim, lock_id)
    [applied] = await list_auths(api, lock_id)
    assert applied.id == pending.id and applied.operation_id is None


async def test_update_replaces_restrictions_and_keeps_unsent_flags(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    auth = await sim.add_auth(
        lock_id,
        name="Cleaner",
        code=555551,
        remote_allowed=True,
        enabled=False,
        allowed_week_days=64 | 16,
        allowed_from_time=8 * 60,
        allowed_until_time=12 * 60,
    )
    body = {"name": "Cleaner 2", "code": 555552}
    response = await api.post(f"/smartlock/{lock_id}/auth/{auth.id}", json=body)
    assert response.status_code == 204
    pending = await get_auth(api, lock_id, auth.id)
    assert pending.operation_id is not None and HEX24.match(pending.operation_id)
    await drained(sim, lock_id)
    after = await get_auth(api, lock_id, auth.id)
    assert after.operation_id is None
    assert (after.name, after.code, after.enabled, after.remote_allowed) == (
        "Cleaner 2",
        555552,
        False,
        True,
    )
    assert after.allowed_week_days is None
    assert after.allowed_from_time is None and after.allowed_until_time is None


async def test_delete_is_queued_then_applied(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    auth = await sim.add_auth(lock_id, name="Old", code=555551)
    assert (await api.delete(f"/smartlock/{lock_id}/auth/{auth.id}")).status_code == 204
    assert (await get_auth(api, lock_id, auth.id)).operation_id is not None
    await drained(sim, lock_id)
    assert await list_auths(api, lock_id) == []
    assert (await sim.device(lock_id)).auths == []


async def test_write_to_a_pending_auth_is_423_with_nukis_body(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    await sim.set_settings(FAST.model_copy(update={"lock_race_writes": 1, "device_delay": 0.3}))
    auth = await sim.add_auth(lock_id, name="Guest", code=555551)
    path = f"/smartlock/{lock_id}/auth/{auth.id}"
    assert (await api.post(path, json={"name": "A"})).status_code == 204
    for response in (await api.post(path, json={"name": "B"}), await api.delete(path)):
        assert response.status_code == 423
        assert response.json() == LOCKED_BODY
    await drained(sim, lock_id)
    assert (await api.post(path, json={"name": "C"})).status_code == 204


async def test_the_race_window_closes_after_its_time(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    await sim.set_settings(FAST.model_copy(update={"lock_race_window": 0.1, "device_delay": 1}))
    auth = await sim.add_auth(lock_id, name="Guest", code=555551)
    # Offline, holding: the write stays pending however long the pause below takes.
    await sim.set_faults(Faults(offline_mode="hold"), lock_id)
    await sim.set_online(lock_id, False)
    path = f"/smartlock/{lock_id}/auth/{auth.id}"
    assert (await api.post(path, json={"name": "A"})).status_code == 204
    await asyncio.sleep(0.15)
    response = await api.post(path, json={"name": "B"})
    assert response.status_code == 423 and response.json() == LOCKED_BODY


async def test_forum_case_four_accepted_fifth_locked_and_the_fourth_lost(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    """Forum: 555551..555554 got 204, 555555 got 423, the stored code was not the last 204."""
    # However long the five requests take on a loaded machine: the race window outlasts them
    # and the device (offline, holding) applies none before the fifth, so what refuses the
    # fifth is the burst's limit of four writes.
    await sim.set_settings(FAST.model_copy(update={"lock_race_window": 600.0}))
    await sim.set_faults(Faults(lost_update_nth=[4], offline_mode="hold"))
    auth = await sim.add_auth(lock_id, name="Guest", code=555550)
    await sim.set_online(lock_id, False)
    path = f"/smartlock/{lock_id}/auth/{auth.id}"
    statuses = []
    for code in range(555551, 555556):
        response = await api.post(path, json={"name": "Guest", "code": code})
        statuses.append(response.status_code)
        if response.status_code == 423:
            assert response.json() == LOCKED_BODY
    assert statuses == [204, 204, 204, 204, 423]
    await sim.set_online(lock_id, True)
    await drained(sim, lock_id)
    stored = await get_auth(api, lock_id, auth.id)
    assert stored.operation_id is None
    assert stored.code != 555554
    assert stored.code == 555553
    [on_device] = (await sim.device(lock_id)).auths
    assert on_device.code == 555553


# ---- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", [129999, 12345, 1234567, 555055, 102345])
async def test_invalid_keypad_codes_are_400(
    api: httpx.AsyncClient, lock_id: int, code: int
) -> None:
    response = await api.put(f"/smartlock/{lock_id}/auth", json=keypad(code))
    assert_bad_value(response, "code", code)


async def test_the_forums_400_body_verbatim(api: httpx.AsyncClient, lock_id: int) -> None:
    response = await api.put(f"/smartlock/{lock_id}/auth", json=keypad(129999))
    assert response.json() == {
        "detailMessage": "The supplied value '129999' for parameter 'code' is not valid",
        "stackTrace": [],
        "suppressedExceptions": [],
    }


async def test_keypad_code_needs_a_paired_keypad(
    sim: SimulatorControl, api: httpx.AsyncClient
) -> None:
    bare = await sim.add_lock(keypad_paired=False)
    response = await api.put(f"/smartlock/{bare.smartlock_id}/auth", json=keypad(555551))
    assert_bad_value(response, "type", 13)
    app_auth = {"name": "Phone", "type": 0, "remoteAllowed": True}
    assert (await api.put(f"/smartlock/{bare.smartlock_id}/auth", json=app_auth)).status_code == 204


@pytest.mark.parametrize(
    ("body", "parameter", "value"),
    [
        ({"type": 13, "code": 555551, "remoteAllowed": False}, "name", "null"),
        ({"name": "Guest", "type": 13, "code": 555551}, "remoteAllowed", "null"),
        (keypad(555551, allowedWeekDays=128), "allowedWeekDays", 128),
        (keypad(555551, allowedWeekDays=-1), "allowedWeekDays", -1),
        (keypad(555551, allowedFromTime=1440), "allowedFromTime", 1440),
        ({"name": "Bridge", "type": 1, "remoteAllowed": False}, "type", 1),
    ],
)
async def test_bad_create_bodies_are_400(
    api: httpx.AsyncClient, lock_id: int, body: dict[str, Any], parameter: str, value: object
) -> None:
    response = await api.put(f"/smartlock/{lock_id}/auth", json=body)
    assert_bad_value(response, parameter, value)


async def test_bad_update_bodies_are_400(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    auth = await sim.add_auth(lock_id, name="Guest", code=555551)
    path = f"/smartlock/{lock_id}/auth/{auth.id}"
    assert_bad_value(await api.post(path, json={"code": 555552}), "name", "null")
    assert_bad_value(await api.post(path, json={"name": "G", "code": 129999}), "code", 129999)
    bad_days = {"name": "G", "allowedWeekDays": 200}
    assert_bad_value(await api.post(path, json=bad_days), "allowedWeekDays", 200)
    json_header = {"content-type": "application/json"}
    response = await api.post(path, content=b"{not json", headers=json_header)
    assert_error(response, 400)
    assert (await sim.device(lock_id)).pending == 0


async def test_duplicate_code_on_a_lock_is_409(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    existing = await sim.add_auth(lock_id, name="Guest", code=555551)
    response = await api.put(f"/smartlock/{lock_id}/auth", json=keypad(555551, name="Other"))
    assert_error(response, 409)
    assert response.json()["detailMessage"]
    # A code still on its way to the device counts as well.
    assert (await api.put(f"/smartlock/{lock_id}/auth", json=keypad(555552))).status_code == 204
    assert_error(await api.put(f"/smartlock/{lock_id}/auth", json=keypad(555552)), 409)
    update = {"name": "Guest", "code": 555552}
    assert_error(await api.post(f"/smartlock/{lock_id}/auth/{existing.id}", json=update), 409)
    # The same code on another lock is fine.
    other = await sim.add_lock()
    response = await api.put(f"/smartlock/{other.smartlock_id}/auth", json=keypad(555551))
    assert response.status_code == 204


@pytest.mark.parametrize(
    "body",
    [keypad(555551, name="x" * 21), {"name": "y" * 33, "type": 0, "remoteAllowed": True}],
)
async def test_too_long_names_are_422(
    api: httpx.AsyncClient, lock_id: int, body: dict[str, Any]
) -> None:
    response = await api.put(f"/smartlock/{lock_id}/auth", json=body)
    assert response.status_code == 422
    status = NukiStatusBody.model_validate(response.json())
    assert (status.code, status.reason_phrase) == (422, "Unprocessable Entity")
    assert status.description
    assert set(response.json()) == {"code", "reasonPhrase", "description"}


async def test_a_lock_holds_at_most_max_auths(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    await sim.set_settings(FAST.model_copy(update={"max_auths": 2}))
    await sim.add_auth(lock_id, name="One", code=555551)
    assert (await api.put(f"/smartlock/{lock_id}/auth", json=keypad(555552))).status_code == 204
    assert_error(await api.put(f"/smartlock/{lock_id}/auth", json=keypad(555553)), 400)


# ---- bulk endpoints -----------------------------------------------------------------------


async def test_bulk_create_update_delete(sim: SimulatorControl, api: httpx.AsyncClient) -> None:
    first = (await sim.add_lock()).smartlock_id
    second = (await sim.add_lock()).smartlock_id
    body = {**keypad(555551, name="Everywhere"), "smartlockIds": [first, second]}
    assert (await api.put("/smartlock/auth", json=body)).status_code == 204
    await drained(sim, first)
    await drained(sim, second)
    listed = await all_auths(api)
    assert sorted(a.smartlock_id for a in listed) == sorted([first, second])
    only_keypad = (await api.get("/smartlock/auth", params={"types": "0,2"})).json()
    assert only_keypad == []

    updates = [{"id": a.id, "name": "Renamed", "code": 555552} for a in listed]
    assert (await api.post("/smartlock/auth", json=updates)).status_code == 204
    await drained(sim, first)
    await drained(sim, second)
    renamed = await all_auths(api)
    assert {(a.name, a.code) for a in renamed} == {("Renamed", 555552)}

    ids = [a.id for a in renamed]
    assert (await api.request("DELETE", "/smartlock/auth", json=ids)).status_code == 204
    await drained(sim, first)
    await drained(sim, second)
    assert (await api.get("/smartlock/auth")).json() == []


async def test_bulk_requests_are_validated_before_anything_is_queued(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    auth = await sim.add_auth(lock_id, name="Guest", code=555551)
    bad = [{"id": auth.id, "name": "Fine"}, {"id": "f" * 24, "name": "Unknown"}]
    assert_bad_value(await api.post("/smartlock/auth", json=bad), "id", "f" * 24)
    body = {**keypad(555552), "smartlockIds": [lock_id, 424242]}
    assert_bad_value(await api.put("/smartlock/auth", json=body), "smartlockIds", 424242)
    assert_error(await api.request("DELETE", "/smartlock/auth", json=[auth.id, "nope"]), 400)
    assert (await sim.device(lock_id)).pending == 0
    assert (await get_auth(api, lock_id, auth.id)).operation_id is None


# ---- actions ------------------------------------------------------------------------------


async def test_unlock_moves_through_unlocking_and_logs(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    await sim.set_settings(FAST.model_copy(update={"action_time": 0.3}))
    assert (await api.post(f"/smartlock/{lock_id}/action/unlock")).status_code == 204
    moving = await get_lock(api, lock_id)
    assert moving.state is not None
    assert (moving.state.state, moving.state.last_action) == (2, 1)
    assert moving.state.operation_id is not None
    second = await api.post(f"/smartlock/{lock_id}/action", json={"action": 2})
    assert second.status_code == 423 and second.json() == LOCKED_BODY
    await drained(sim, lock_id)
    done = await get_lock(api, lock_id)
    assert done.state is not None and done.state.state == 3 and done.state.operation_id is None
    [entry] = await get_logs(api, lock_id)
    assert (entry.action, entry.trigger, entry.state, entry.smartlock_id) == (1, 4, 0, lock_id)
    assert [(a.action, a.completion) for a in (await sim.device(lock_id)).actions] == [(1, 0)]


@pytest.mark.parametrize(
    ("action", "seen", "final"),
    [(2, [4], 1), (3, [7], 5), (4, [2, 6, 4], 1), (5, [7, 6, 4], 1)],
)
async def test_lock_actions_reach_their_final_state(
    sim: SimulatorControl,
    api: httpx.AsyncClient,
    lock_id: int,
    action: int,
    seen: list[int],
    final: int,
) -> None:
    await sim.set_settings(FAST.model_copy(update={"action_time": 0.3 * len(seen)}))
    assert await act(api, lock_id, action) == 204
    states: list[int] = []

    async def finished() -> bool:
        state = (await get_lock(api, lock_id)).state
        assert state is not None
        if not states or states[-1] != state.state:
            states.append(state.state)
        return state.operation_id is None

    await eventually(finished)
    assert states == [*seen, final]


async def test_invalid_actions_are_400(api: httpx.AsyncClient, lock_id: int) -> None:
    response = await api.post(f"/smartlock/{lock_id}/action", json={"action": 6})
    assert_bad_value(response, "action", 6)
    assert_bad_value(await api.post(f"/smartlock/{lock_id}/action", json={}), "action", "null")


async def test_opener_actions(sim: SimulatorControl, api: httpx.AsyncClient) -> None:
    opener = await sim.add_lock(opener=True)
    path = f"/smartlock/{opener.smartlock_id}"
    assert opener.type == 2 and opener.state is not None and opener.state.state == 1
    assert (await api.post(f"{path}/action", json={"action": 1})).status_code == 204
    await drained(sim, opener.smartlock_id)
    assert (await get_lock(api, opener.smartlock_id)).state.state == 3  # type: ignore[union-attr]
    assert (await api.post(f"{path}/action", json={"action": 3})).status_code == 204
    opening = await get_lock(api, opener.smartlock_id)
    assert opening.state is not None and opening.state.state == 7
    await drained(sim, opener.smartlock_id)
    assert (await get_lock(api, opener.smartlock_id)).state.state == 5  # type: ignore[union-attr]
    assert_error(await api.post(f"{path}/action/lock"), 405)
    assert_bad_value(await api.post(f"{path}/action", json={"action": 4}), "action", 4)
    logs = await get_logs(api, opener.smartlock_id)
    assert [(e.action, e.device_type) for e in logs] == [(3, 2), (1, 2)]


async def test_log_is_newest_first_with_limit_filters_and_paging(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    await sim.set_settings(FAST.model_copy(update={"action_time": 0.0}))
    for action in (1, 2, 1):
        assert await act(api, lock_id, action) == 204
        await drained(sim, lock_id)
    path = f"/smartlock/{lock_id}/log"
    entries = [SmartlockLog.model_validate(i) for i in (await api.get(path)).json()]
    assert [e.action for e in entries] == [1, 2, 1]
    assert entries[0].date >= entries[1].date >= entries[2].date
    assert len((await api.get(path, params={"limit": 1})).json()) == 1
    assert [e["action"] for e in (await api.get(path, params={"action": 2})).json()] == [2]
    older = (await api.get(path, params={"id": entries[0].id})).json()
    assert [e["id"] for e in older] == [entries[1].id, entries[2].id]
    assert (await api.get(path, params={"authId": "0" * 24})).json() == []
    assert (await api.get(path, params={"authId": entries[0].auth_id})).status_code == 200


# ---- offline ------------------------------------------------------------------------------


async def test_offline_drop_accepts_then_discards(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    auth = await sim.add_auth(lock_id, name="Guest", code=555551)
    await sim.set_online(lock_id, False)
    assert (await get_lock(api, lock_id)).server_state == 4
    update = {"name": "Guest", "code": 555552}
    assert (await api.post(f"/smartlock/{lock_id}/auth/{auth.id}", json=update)).status_code == 204
    assert (await api.post(f"/smartlock/{lock_id}/action/unlock")).status_code == 204
    assert (await api.put(f"/smartlock/{lock_id}/auth", json=keypad(555553))).status_code == 204
    await drained(sim, lock_id)
    [listed] = await list_auths(api, lock_id)
    assert listed.code == 555551 and listed.operation_id is None
    device = await sim.device(lock_id)
    assert device.lock_state == 1 and device.actions == []
    assert (await get_lock(api, lock_id)).state.operation_id is None  # type: ignore[union-attr]


async def test_offline_hold_applies_once_online(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    await sim.set_faults(Faults(offline_mode="hold"), lock_id)
    auth = await sim.add_auth(lock_id, name="Guest", code=555551)
    await sim.set_online(lock_id, False)
    update = {"name": "Guest", "code": 555552}
    assert (await api.post(f"/smartlock/{lock_id}/auth/{auth.id}", json=update)).status_code == 204
    assert (await api.post(f"/smartlock/{lock_id}/action/unlock")).status_code == 204
    await asyncio.sleep(0.2)  # several device delays
    assert (await get_auth(api, lock_id, auth.id)).operation_id is not None
    assert (await sim.device(lock_id)).pending == 2
    await sim.set_online(lock_id, True)
    await drained(sim, lock_id)
    assert (await get_auth(api, lock_id, auth.id)).code == 555552
    assert (await sim.device(lock_id)).lock_state == 3


# ---- faults -------------------------------------------------------------------------------


async def test_a_paused_device_keeps_operations_pending_until_the_fault_is_lifted(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    await sim.set_settings(FAST.model_copy(update={"lock_race_writes": 1}))
    auth = await sim.add_auth(lock_id, name="Guest", code=555551)
    await sim.set_faults(Faults(device_paused=True), lock_id)
    path = f"/smartlock/{lock_id}/auth/{auth.id}"
    assert (await api.post(path, json={"name": "Guest", "code": 555552})).status_code == 204
    assert (await api.post(f"/smartlock/{lock_id}/action/unlock")).status_code == 204
    await asyncio.sleep(0.2)  # several device delays: nothing may be taken up
    assert (await get_auth(api, lock_id, auth.id)).operation_id is not None
    refused = await api.post(path, json={"name": "Other"})
    assert refused.status_code == 423 and refused.json() == LOCKED_BODY
    device = await sim.device(lock_id)
    assert device.online and device.pending == 2 and device.actions == []
    await sim.set_faults(Faults(), lock_id)
    await drained(sim, lock_id)
    assert (await get_auth(api, lock_id, auth.id)).code == 555552
    assert (await sim.device(lock_id)).lock_state == 3


async def test_lost_create(sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int) -> None:
    await sim.set_faults(Faults(lost_create_nth=[1]))
    assert (await api.put(f"/smartlock/{lock_id}/auth", json=keypad(555551))).status_code == 204
    await drained(sim, lock_id)
    assert await list_auths(api, lock_id) == []
    assert (await api.put(f"/smartlock/{lock_id}/auth", json=keypad(555551))).status_code == 204
    await drained(sim, lock_id)
    assert [a.code for a in await list_auths(api, lock_id)] == [555551]


async def test_lost_update_rate_one_loses_every_update(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    await sim.set_faults(Faults(lost_update_rate=1.0))
    auth = await sim.add_auth(lock_id, name="Guest", code=555551)
    update = {"name": "Guest", "code": 555552}
    assert (await api.post(f"/smartlock/{lock_id}/auth/{auth.id}", json=update)).status_code == 204
    assert (await get_auth(api, lock_id, auth.id)).code == 555552  # the cloud's optimistic cache
    await drained(sim, lock_id)
    assert (await get_auth(api, lock_id, auth.id)).code == 555551


async def test_ghost_delete_leaves_the_auth_and_its_code(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    await sim.set_faults(Faults(ghost_delete_nth=[1]))
    auth = await sim.add_auth(lock_id, name="Guest", code=555551)
    assert (await api.delete(f"/smartlock/{lock_id}/auth/{auth.id}")).status_code == 204
    await drained(sim, lock_id)
    assert (await get_auth(api, lock_id, auth.id)).operation_id is None
    assert_error(await api.put(f"/smartlock/{lock_id}/auth", json=keypad(555551)), 409)
    assert (await api.delete(f"/smartlock/{lock_id}/auth/{auth.id}")).status_code == 204
    await drained(sim, lock_id)
    assert await list_auths(api, lock_id) == []


async def test_server_error_strikes_before_any_effect(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    await sim.set_faults(Faults(server_error_rate=1.0))
    response = await api.put(f"/smartlock/{lock_id}/auth", json=keypad(555551))
    assert response.status_code in (500, 502, 503)
    NukiStatusBody.model_validate(response.json())
    assert (await sim.device(lock_id)).pending == 0


async def test_server_error_after_commit_still_writes(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    await sim.set_faults(Faults(server_error_after_commit_rate=1.0))
    response = await api.put(f"/smartlock/{lock_id}/auth", json=keypad(555551))
    assert response.status_code == 502
    assert (await api.get(f"/smartlock/{lock_id}/auth")).status_code == 200  # reads unaffected
    await drained(sim, lock_id)
    assert [a.code for a in await list_auths(api, lock_id)] == [555551]
    # The naive retry of the create now collides with its own first attempt.
    await sim.set_faults(Faults())
    assert_error(await api.put(f"/smartlock/{lock_id}/auth", json=keypad(555551)), 409)


async def test_rate_limit_with_and_without_retry_after(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    await sim.set_faults(Faults(rate_limit_rate=1.0, retry_after=3))
    response = await api.get(f"/smartlock/{lock_id}")
    assert response.status_code == 429 and response.headers["retry-after"] == "3"
    await sim.set_faults(Faults(rate_limit_rate=1.0, retry_after=None))
    response = await api.post(f"/smartlock/{lock_id}/action/unlock")
    assert response.status_code == 429 and "retry-after" not in response.headers
    assert (await sim.device(lock_id)).pending == 0


async def test_slow_responses(sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int) -> None:
    await sim.set_faults(Faults(slow_response=0.2))
    started = time.monotonic()
    assert (await api.get(f"/smartlock/{lock_id}")).status_code == 200
    assert time.monotonic() - started >= 0.2


async def test_motor_blocked(sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int) -> None:
    await sim.set_faults(Faults(motor_blocked_next=True))
    assert (await api.post(f"/smartlock/{lock_id}/action/unlock")).status_code == 204
    assert (await sim.get_faults()).motor_blocked_next is False  # used up
    await drained(sim, lock_id)
    assert (await get_lock(api, lock_id)).state.state == 254  # type: ignore[union-attr]
    await sim.set_faults(Faults(motor_blocked_rate=1.0))
    assert (await api.post(f"/smartlock/{lock_id}/action/lock")).status_code == 204
    await drained(sim, lock_id)
    logs = await get_logs(api, lock_id)
    assert [(e.action, e.state) for e in logs] == [(2, 1), (1, 1)]
    assert [a.completion for a in (await sim.device(lock_id)).actions] == [1, 1]


async def test_lock_faults_replace_global_faults(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    calm = (await sim.add_lock()).smartlock_id
    await sim.set_faults(Faults(server_error_rate=1.0))
    await sim.set_faults(Faults(action_time=0.0), calm)
    assert (await api.get(f"/smartlock/{lock_id}")).status_code >= 500
    assert (await api.get(f"/smartlock/{calm}")).status_code == 200
    assert (await sim.get_faults(calm)).action_time == 0.0
    assert (await sim.get_faults(lock_id)).server_error_rate == 1.0
    await sim.clear_faults(calm)
    assert (await api.get(f"/smartlock/{calm}")).status_code >= 500


async def test_device_delay_override(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    await sim.set_faults(Faults(device_delay=0.3), lock_id)
    started = time.monotonic()
    assert (await api.put(f"/smartlock/{lock_id}/auth", json=keypad(555551))).status_code == 204
    await drained(sim, lock_id)
    assert time.monotonic() - started >= 0.3


async def test_random_faults_are_reproducible_from_the_seed(
    sim: SimulatorControl, api: httpx.AsyncClient
) -> None:
    async def run(seed: int) -> tuple[list[int], list[int]]:
        await sim.reset(seed=seed)
        await sim.set_settings(FAST.model_copy(update={"device_delay": 0.01}))
        smartlock_id = (await sim.add_lock()).smartlock_id
        auths = [await sim.add_auth(smartlock_id, name=f"G{n}", code=555551 + n) for n in range(8)]
        await sim.set_faults(Faults(server_error_rate=0.5, ghost_delete_rate=0.5))
        statuses = [(await api.get(f"/smartlock/{smartlock_id}")).status_code for _ in range(16)]
        await sim.set_faults(Faults(ghost_delete_rate=0.5))
        ids = [auth.id for auth in auths]
        assert (await api.request("DELETE", "/smartlock/auth", json=ids)).status_code == 204
        await drained(sim, smartlock_id)
        left = {a.id for a in await list_auths(api, smartlock_id)}
        return statuses, [n for n, auth_id in enumerate(ids) if auth_id in left]

    first = await run(seed=42)
    assert first == await run(seed=42)
    assert first != await run(seed=43)
    statuses, ghosts = first
    assert {200} < set(statuses) and 0 < len(ghosts) < 8


async def test_requests_are_recorded_without_control_calls(
    sim: SimulatorControl, api: httpx.AsyncClient, lock_id: int
) -> None:
    await sim.clear_requests()
    before = time.monotonic()
    await api.get("/smartlock")
    await api.get("/smartlock/1")
    await sim.device(lock_id)
    records = await sim.requests()
    assert [(r.method, r.path, r.status) for r in records] == [
        ("GET", "/smartlock", 200),
        ("GET", "/smartlock/1", 404),
    ]
    assert before <= records[0].time <= records[1].time
    assert await sim.requests(since=1) == records[1:]
    assert await sim.requests(since=2) == []
    await sim.clear_requests()
    assert await sim.requests() == []


async def test_control_surface_404_for_unknown_lock(sim: SimulatorControl) -> None:
    with pytest.raises(httpx.HTTPStatusError) as raised:
        await sim.device(12345)
    assert raised.value.response.status_code == 404
