"""Auth changes through API faults: 423 storms, 5xx bursts, 429, offline locks, crashes."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from nukiflow.activities.nuki_client import NukiClient
from nukiflow.client import NukiFlow
from nukiflow.contracts.auth import OutcomeStatus
from nukiflow.contracts.wire import SmartlockAuthUpdate
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.settings import Faults
from tests.conftest import StartWorker, sim_settings


async def _keypad(sim: SimulatorControl) -> tuple[int, str]:
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="door", code=555551)
    return lock.smartlock_id, auth.id


async def _wait_for_request(sim: SimulatorControl, method: str, fragment: str) -> None:
    for _ in range(1500):
        if any(r.method == method and fragment in r.path for r in await sim.requests()):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {method} {fragment} reached the fake cloud")


async def test_423_storm_is_waited_out(
    flow: NukiFlow, sim: SimulatorControl, nuki: NukiClient, start_worker: StartWorker
) -> None:
    smartlock_id, auth_id = await _keypad(sim)
    # Someone else's operation keeps the auth locked, with no race window, until the test lets
    # it through: the device takes it up only once the pause is lifted.
    await sim.set_settings(sim_settings(lock_race_writes=1))
    await sim.set_faults(Faults(device_paused=True), smartlock_id)
    await nuki.update_auth(smartlock_id, auth_id, SmartlockAuthUpdate(name="other", code=555553))
    await start_worker()
    pending = asyncio.create_task(flow.update_auth(smartlock_id, auth_id, {"code": 555552}))
    for _ in range(1500):
        if sum(r.method == "POST" and r.status == 423 for r in await sim.requests()) >= 2:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the change never met a storm of 423s")
    await sim.set_faults(Faults(), smartlock_id)
    outcome = await pending
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    statuses = [r.status for r in await sim.requests() if r.method == "POST"]
    assert statuses.count(423) >= 1
    assert statuses[-1] == 204


async def test_5xx_burst_is_retried(
    flow: NukiFlow, sim: SimulatorControl, start_worker: StartWorker
) -> None:
    smartlock_id, auth_id = await _keypad(sim)
    await sim.set_faults(Faults(server_error_rate=0.5), smartlock_id)
    await start_worker()
    outcome = await flow.update_auth(smartlock_id, auth_id, {"code": 555552})
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    assert any(r.status >= 500 for r in await sim.requests())


async def test_429_retry_after_is_honoured(
    flow: NukiFlow, sim: SimulatorControl, start_worker: StartWorker
) -> None:
    smartlock_id, auth_id = await _keypad(sim)
    await sim.set_faults(Faults(rate_limit_rate=0.6, retry_after=1), smartlock_id)
    await start_worker()
    outcome = await flow.update_auth(smartlock_id, auth_id, {"code": 555552})
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    records = await sim.requests()
    limited = [i for i, r in enumerate(records) if r.status == 429]
    assert limited, "the fault should have hit at least one request"
    # Every request refused with 429 was asked again only after the advised second.
    for i in limited:
        later = [
            r
            for r in records[i + 1 :]
            if (r.method, r.path) == (records[i].method, records[i].path)
        ]
        if later:
            assert later[0].time - records[i].time >= 0.9


async def test_offline_lock_that_comes_back_gets_the_change(
    flow: NukiFlow, sim: SimulatorControl, start_worker: StartWorker
) -> None:
    smartlock_id, auth_id = await _keypad(sim)
    await sim.set_faults(Faults(offline_mode="hold"), smartlock_id)
    await sim.set_online(smartlock_id, False)
    await start_worker()
    pending = asyncio.create_task(flow.update_auth(smartlock_id, auth_id, {"code": 555552}))
    await asyncio.sleep(1.0)
    assert not pending.done()
    await sim.set_online(smartlock_id, True)
    outcome = await pending
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    device = await sim.device(smartlock_id)
    assert device.auths[0].code == 555552


@pytest.mark.parametrize("offline_mode", ["drop", "hold"])
async def test_offline_past_the_deadline_fails_and_sends_nothing_late(
    flow: NukiFlow, sim: SimulatorControl, start_worker: StartWorker, offline_mode: str
) -> None:
    smartlock_id, auth_id = await _keypad(sim)
    await sim.set_faults(Faults(offline_mode=offline_mode), smartlock_id)
    await sim.set_online(smartlock_id, False)
    await start_worker()
    # Room for a loaded machine to send the first write (and, dropped, find it missing) before
    # the deadline; the lock stays offline past it whatever the machine does.
    deadline = timedelta(seconds=6)
    called = time.monotonic()
    outcome = await flow.update_auth(smartlock_id, auth_id, {"code": 555552}, deadline=deadline)
    assert outcome.status is OutcomeStatus.FAILED
    assert outcome.reason is not None and "deadline" in outcome.reason
    if offline_mode == "drop":
        # The dropped write is found missing and the rewrite waits for the lock: offline.
        assert "offline" in outcome.reason
    else:
        # The held write stays pending; the reason says Nuki may still deliver it.
        assert "may still take it when it is online again" in outcome.reason
    # Bring the lock back: nothing nukiflow sends may go out after the deadline.
    await sim.set_online(smartlock_id, True)
    # Until the device worked through its queue (held: applied; dropped: gone).
    for _ in range(1500):
        if not (await sim.device(smartlock_id)).pending:
            break
        await asyncio.sleep(0.02)
    writes = [r for r in await sim.requests() if r.method == "POST" and auth_id in r.path]
    assert writes, "the first write should have been sent"
    # The deadline is the instant the call fixed: no write after it.
    assert all(r.time <= called + deadline.total_seconds() for r in writes)
    device = await sim.device(smartlock_id)
    # Dropped, the write never lands; held, the cloud delivers it once the lock is back.
    expected = 555551 if offline_mode == "drop" else 555552
    assert device.auths[0].code == expected


async def test_worker_stopped_mid_change_is_finished_by_a_new_worker(
    flow: NukiFlow, sim: SimulatorControl, start_worker: StartWorker
) -> None:
    smartlock_id, auth_id = await _keypad(sim)
    await sim.set_faults(Faults(device_delay=1.5), smartlock_id)
    first = await start_worker()
    pending = asyncio.create_task(flow.update_auth(smartlock_id, auth_id, {"code": 555552}))
    await _wait_for_request(sim, "POST", auth_id)
    await first.shutdown()
    await start_worker()
    outcome = await asyncio.wait_for(pending, timeout=60)
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    writes = [r for r in await sim.requests() if r.method == "POST" and r.status == 204]
    assert len(writes) == 1, "the new worker must not write the change again"


async def test_a_forbidden_lock_fails_at_once_with_what_to_do(
    flow: NukiFlow, sim: SimulatorControl, start_worker: StartWorker
) -> None:
    smartlock_id, auth_id = await _keypad(sim)
    await sim.set_faults(Faults(forbidden=True), smartlock_id)
    await start_worker()
    outcome = await flow.update_auth(smartlock_id, auth_id, {"name": "x"})
    assert outcome.status is OutcomeStatus.FAILED
    assert outcome.reason is not None and "scope" in outcome.reason
    refused = [r for r in await sim.requests() if r.status == 403]
    assert len(refused) == 1, "a 403 is not retried"
