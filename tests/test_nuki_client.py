"""The async Nuki client against the fake cloud over HTTP, and its one exception tree."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from nukiflow.activities.nuki_client import NukiClient
from nukiflow.activities.nuki_errors import (
    NukiConflictError,
    NukiError,
    NukiForbiddenError,
    NukiHTTPError,
    NukiLockedError,
    NukiNotFoundError,
    NukiRateLimitedError,
    NukiRequestRefused,
    NukiServerError,
    NukiTransportError,
    NukiUnauthorizedError,
    NukiUnexpectedStatus,
    NukiValidationError,
    parse_retry_after,
)
from nukiflow.contracts.wire import (
    AuthType,
    LockAction,
    LockState,
    SmartlockAction,
    SmartlockAuthCreate,
    SmartlockAuthMultiUpdate,
    SmartlockAuthUpdate,
    SmartlocksAuthCreate,
)
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.server import SimulatorServer
from nukiflow.simulator.settings import Faults
from tests.conftest import ACTION_TIME, DEVICE_DELAY, TOKEN

SETTLE = DEVICE_DELAY * 4 + 0.3


async def _settle(seconds: float = SETTLE) -> None:
    await asyncio.sleep(seconds)


async def test_smartlocks_and_sync(nuki: NukiClient, sim: SimulatorControl) -> None:
    lock = await sim.add_lock(name="Front")
    locks = await nuki.list_smartlocks()
    assert [lo.smartlock_id for lo in locks] == [lock.smartlock_id]
    got = await nuki.get_smartlock(lock.smartlock_id)
    assert got.name == "Front" and got.online and got.keypad_paired
    assert got.state is not None
    await nuki.sync(lock.smartlock_id)


async def test_auth_lifecycle_on_one_lock(nuki: NukiClient, sim: SimulatorControl) -> None:
    lock = await sim.add_lock()
    sid = lock.smartlock_id
    await nuki.create_auth(
        sid, SmartlockAuthCreate(name="guest", remote_allowed=False, type=13, code=555552)
    )
    await _settle()
    (auth,) = await nuki.list_auths(sid)
    assert auth.type == AuthType.KEYPAD_CODE and auth.code == 555552
    assert (await nuki.list_auths(sid, types=[0])) == []
    await nuki.update_auth(sid, auth.id, SmartlockAuthUpdate(name="guest 2", code=555553))
    pending = await nuki.get_auth(sid, auth.id)
    assert pending.operation_id is not None and len(pending.operation_id) == 24
    await _settle()
    done = await nuki.get_auth(sid, auth.id)
    assert done.operation_id is None and done.name == "guest 2" and done.code == 555553
    await nuki.delete_auth(sid, auth.id)
    await _settle()
    with pytest.raises(NukiNotFoundError):
        await nuki.get_auth(sid, auth.id)


async def test_bulk_auth_endpoints(nuki: NukiClient, sim: SimulatorControl) -> None:
    a = await sim.add_lock()
    b = await sim.add_lock()
    await nuki.create_auths(
        SmartlocksAuthCreate(
            name="fleet",
            remote_allowed=False,
            type=13,
            code=555552,
            smartlock_ids=[a.smartlock_id, b.smartlock_id],
        )
    )
    await _settle()
    auths = await nuki.list_all_auths()
    assert sorted(x.smartlock_id for x in auths) == sorted([a.smartlock_id, b.smartlock_id])
    await nuki.update_auths(
        [SmartlockAuthMultiUpdate(id=x.id, name="fleet 2", code=555553) for x in auths]
    )
    await _settle()
    assert {x.name for x in await nuki.list_all_auths()} == {"fleet 2"}
    await nuki.delete_auths([x.id for x in auths])
    await _settle()
    assert await nuki.list_all_auths() == []


async def test_actions_and_logs(nuki: NukiClient, sim: SimulatorControl) -> None:
    lock = await sim.add_lock()
    sid = lock.smartlock_id
    await nuki.unlock(sid)
    with pytest.raises(NukiLockedError):
        await nuki.lock(sid)
    await _settle(ACTION_TIME + 0.3)
    state = (await nuki.get_smartlock(sid)).state
    assert state is not None and state.state == LockState.UNLOCKED
    await nuki.lock(sid)
    await _settle(ACTION_TIME + 0.3)
    await nuki.action(sid, SmartlockAction(action=LockAction.UNLATCH))
    await _settle(ACTION_TIME + 0.3)
    logs = await nuki.logs(sid, limit=10)
    assert [log.action for log in logs] == [LockAction.UNLATCH, LockAction.LOCK, LockAction.UNLOCK]
    assert all(log.state == 0 for log in logs)
    assert [log.action for log in await nuki.logs(sid, action=LockAction.LOCK)] == [2]


async def test_validation_errors_carry_nukis_message_without_the_code(
    nuki: NukiClient, sim: SimulatorControl
) -> None:
    lock = await sim.add_lock()
    with pytest.raises(NukiValidationError) as bad_code:
        await nuki.create_auth(
            lock.smartlock_id,
            SmartlockAuthCreate(name="x", remote_allowed=False, type=13, code=129999),
        )
    assert bad_code.value.status == 400 and not bad_code.value.retryable
    assert "129999" not in str(bad_code.value)
    assert bad_code.value.detail is not None and "parameter 'code'" in bad_code.value.detail
    with pytest.raises(NukiValidationError) as long_name:
        await nuki.create_auth(
            lock.smartlock_id,
            SmartlockAuthCreate(name="x" * 27, remote_allowed=False, type=13, code=555552),
        )
    assert long_name.value.status == 422


async def test_conflict_not_found_and_locked(nuki: NukiClient, sim: SimulatorControl) -> None:
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="owner", code=555552)
    with pytest.raises(NukiConflictError) as conflict:
        await nuki.create_auth(
            lock.smartlock_id,
            SmartlockAuthCreate(name="dup", remote_allowed=False, type=13, code=555552),
        )
    assert conflict.value.status == 409 and "555552" not in str(conflict.value)
    with pytest.raises(NukiNotFoundError):
        await nuki.get_smartlock(lock.smartlock_id + 1)
    await sim.set_settings((await sim.get_settings()).model_copy(update={"lock_race_writes": 1}))
    await nuki.update_auth(lock.smartlock_id, auth.id, SmartlockAuthUpdate(name="a"))
    with pytest.raises(NukiLockedError) as locked:
        await nuki.update_auth(lock.smartlock_id, auth.id, SmartlockAuthUpdate(name="b"))
    assert locked.value.retryable and locked.value.status == 423


async def test_unauthorized_and_token_never_in_errors(simulator: SimulatorServer) -> None:
    wrong = "wrong-token-" + "s3cr3t" * 4
    async with NukiClient(wrong, simulator.base_url) as client:
        with pytest.raises(NukiUnauthorizedError) as err:
            await client.list_smartlocks()
    assert not err.value.retryable
    assert wrong not in str(err.value) and wrong not in repr(err.value)
    assert TOKEN not in repr(NukiClient(TOKEN, simulator.base_url))


async def test_rate_limit_and_server_errors(nuki: NukiClient, sim: SimulatorControl) -> None:
    lock = await sim.add_lock()
    await sim.set_faults(Faults(rate_limit_rate=1.0, retry_after=7), lock.smartlock_id)
    with pytest.raises(NukiRateLimitedError) as limited:
        await nuki.get_smartlock(lock.smartlock_id)
    assert limited.value.retry_after == 7 and limited.value.retryable
    await sim.set_faults(Faults(server_error_rate=1.0), lock.smartlock_id)
    with pytest.raises(NukiServerError) as server:
        await nuki.get_smartlock(lock.smartlock_id)
    assert server.value.retryable and server.value.status >= 500


async def test_forbidden_lock(nuki: NukiClient, sim: SimulatorControl) -> None:
    lock = await sim.add_lock()
    other = await sim.add_lock()
    await sim.set_faults(Faults(forbidden=True), lock.smartlock_id)
    with pytest.raises(NukiForbiddenError) as forbidden:
        await nuki.list_auths(lock.smartlock_id)
    assert not forbidden.value.retryable and forbidden.value.status == 403
    assert TOKEN not in str(forbidden.value)
    assert (await nuki.get_smartlock(other.smartlock_id)).smartlock_id == other.smartlock_id


async def test_a_slow_answer_times_out_over_http(
    simulator: SimulatorServer, sim: SimulatorControl
) -> None:
    lock = await sim.add_lock()
    await sim.set_faults(Faults(slow_response=1.0), lock.smartlock_id)
    async with NukiClient(TOKEN, simulator.base_url, timeout=httpx.Timeout(0.3)) as client:
        with pytest.raises(NukiTransportError, match="in time") as slow:
            await client.get_smartlock(lock.smartlock_id)
    assert slow.value.retryable


async def test_transport_errors_and_timeouts() -> None:
    # A port nothing listens on: connection refused.
    async with NukiClient(TOKEN, "http://127.0.0.1:9") as client:
        with pytest.raises(NukiTransportError) as refused:
            await client.list_smartlocks()
    assert refused.value.retryable and TOKEN not in str(refused.value)

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    async with NukiClient(TOKEN, "http://nuki.test", transport=httpx.MockTransport(timeout)) as c:
        with pytest.raises(NukiTransportError, match="in time"):
            await c.list_smartlocks()


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, NukiValidationError, False),
        (401, NukiUnauthorizedError, False),
        (402, NukiUnexpectedStatus, False),
        (403, NukiForbiddenError, False),
        (404, NukiNotFoundError, False),
        (409, NukiConflictError, False),
        (422, NukiValidationError, False),
        (423, NukiLockedError, True),
        (429, NukiRateLimitedError, True),
        (500, NukiServerError, True),
        (503, NukiServerError, True),
    ],
)
async def test_every_status_maps_once(
    status: int, cls: type[NukiHTTPError], retryable: bool
) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json={}))
    async with NukiClient(TOKEN, "http://nuki.test", transport=transport) as client:
        with pytest.raises(NukiError) as err:
            await client.list_smartlocks()
    assert type(err.value) is cls
    assert err.value.retryable is retryable
    assert isinstance(err.value, NukiHTTPError) and err.value.status == status


def test_retry_after_parsing() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = (now + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(later, now=now) == 30.0


async def test_decentral_webhooks_register_list_and_delete(nuki: NukiClient) -> None:
    webhook = await nuki.register_webhook("http://127.0.0.1:9/nuki", ["DEVICE_AUTHS"])
    assert webhook.id is not None and webhook.secret
    assert webhook.secret not in repr(webhook)
    listed = await nuki.list_webhooks()
    assert [w.id for w in listed] == [webhook.id]
    assert listed[0].webhook_features == ["DEVICE_AUTHS"]
    await nuki.delete_webhook(webhook.id)
    assert await nuki.list_webhooks() == []


async def test_a_webhook_id_that_is_no_id_is_refused_before_sending(nuki: NukiClient) -> None:
    for bad in (0, -1, 2**63, True):
        with pytest.raises(NukiRequestRefused):
            await nuki.delete_webhook(bad)
