"""Drift end to end through the real receiver: the fake cloud's signed ``DEVICE_AUTHS`` delivery
over HTTP on loopback, :class:`~nukiflow.webhooks.WebhookReceiver` verifying it and signalling
the entity, the entity acting by its policy; then a delivery the fake cloud drops and the sweep
catching the drift it carried; then ``reconcile plan`` listing exactly the differences seeded
on the device, and ``reconcile apply`` fixing the drift.

Every wait is on what Temporal or the fake cloud records (a query, the device, the delivery
log), bounded; nothing sleeps for a precondition.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.worker import Worker

from nukiflow.activities.nuki_client import NukiClient
from nukiflow.client import NukiFlow
from nukiflow.contracts.auth import OutcomeStatus
from nukiflow.contracts.entity import DriftPolicy, EntityStatus
from nukiflow.fleet import Fleet
from nukiflow.fleet.reconcile import apply_reconcile, plan_reconcile
from nukiflow.fleet.sweep import run_sweep
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.settings import Faults
from nukiflow.webhooks import WebhookReceiver, WebhookServer
from nukiflow.webhooks.registration import DEFAULT_FEATURES

T = TypeVar("T")
RENAMED = "renamed-in-app"


async def until(check: Callable[[], Awaitable[T]], done: Callable[[T], bool], what: str) -> T:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        value = await check()
        if done(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last {value}")
        await asyncio.sleep(0.05)


@pytest_asyncio.fixture(loop_scope="session")
async def receiver(
    temporal_client: Client, task_queue: str, nuki: NukiClient
) -> AsyncIterator[WebhookReceiver]:
    """The receiver on a free loopback port, registered with the fake cloud (its secret)."""
    hooks = WebhookReceiver(temporal_client, secrets=[], task_queue=task_queue)
    server = WebhookServer(hooks, "127.0.0.1", 0)
    await server.start()
    try:
        webhook = await nuki.register_webhook(server.url, DEFAULT_FEATURES)
        hooks.set_secrets([webhook.secret or ""])
        yield hooks
    finally:
        await server.stop()


async def _created(flow: NukiFlow, smartlock_id: int, code: int, policy: DriftPolicy) -> str:
    outcome = await flow.create_auth(
        smartlock_id, name=f"guest{code}", code=code, drift_policy=policy
    )
    assert outcome.status is OutcomeStatus.APPLIED and outcome.auth_id, outcome.reason
    return outcome.auth_id


async def _device_name(sim: SimulatorControl, smartlock_id: int, auth_id: str) -> str:
    (auth,) = [a for a in (await sim.device(smartlock_id)).auths if a.id == auth_id]
    return auth.name


@pytest.mark.parametrize("policy", list(DriftPolicy))
async def test_a_change_in_the_app_reaches_the_entity_through_the_receiver(
    flow: NukiFlow,
    sim: SimulatorControl,
    worker: Worker,
    receiver: WebhookReceiver,
    policy: DriftPolicy,
) -> None:
    lock = await sim.add_lock()
    smartlock_id = lock.smartlock_id
    auth_id = await _created(flow, smartlock_id, 535351, policy)
    assert (await flow.auth_state(smartlock_id, auth_id)).drift_policy is policy
    forwarded = receiver.counters.forwarded
    await sim.update_device_auth(smartlock_id, auth_id, name=RENAMED)

    if policy is DriftPolicy.ALERT:
        view = await until(
            lambda: flow.auth_state(smartlock_id, auth_id),
            lambda v: v.status is EntityStatus.DRIFTED,
            "the drift shown",
        )
        assert view.desired is not None and view.desired.name == "guest535351"
        assert await _device_name(sim, smartlock_id, auth_id) == RENAMED
    elif policy is DriftPolicy.ADOPT:
        view = await until(
            lambda: flow.auth_state(smartlock_id, auth_id),
            lambda v: v.desired is not None and v.desired.name == RENAMED,
            "the lock's state adopted",
        )
        assert view.status is EntityStatus.IN_SYNC
        assert view.verified is not None and view.verified.name == RENAMED
    else:
        await until(
            lambda: _device_name(sim, smartlock_id, auth_id),
            lambda name: name == "guest535351",
            "the desired state written back",
        )
        view = await until(
            lambda: flow.auth_state(smartlock_id, auth_id),
            lambda v: v.status is EntityStatus.IN_SYNC and v.change_counter == 1,
            "the enforcing write verified",
        )
        assert view.last_outcomes[-1].request_id.startswith("drift-enforce-")
        assert view.last_outcomes[-1].status is OutcomeStatus.APPLIED
    assert view.drift == ["name"]
    # It came through the receiver (signed, verified, forwarded), not from the test.
    assert receiver.counters.forwarded > forwarded
    assert receiver.counters.refused == 0


async def test_the_sweep_catches_a_drift_whose_delivery_was_dropped(
    flow: NukiFlow,
    sim: SimulatorControl,
    worker: Worker,
    receiver: WebhookReceiver,
    temporal_client: Client,
    task_queue: str,
) -> None:
    lock = await sim.add_lock()
    smartlock_id = lock.smartlock_id
    auth_id = await _created(flow, smartlock_id, 545451, DriftPolicy.ALERT)
    await sim.set_faults(Faults(webhook_drop_rate=1.0), smartlock_id)
    dropped_before = sum(1 for d in await sim.webhook_deliveries() if d.outcome == "dropped")
    await sim.update_device_auth(smartlock_id, auth_id, enabled=False)
    # The fake cloud decided: that delivery is never sent.
    await until(
        sim.webhook_deliveries,
        lambda log: sum(1 for d in log if d.outcome == "dropped") > dropped_before,
        "the delivery dropped",
    )
    assert (await flow.auth_state(smartlock_id, auth_id)).status is EntityStatus.IN_SYNC

    result = await run_sweep(temporal_client, task_queue, workflow_id=f"sweep-{task_queue}")
    assert result.to_entities >= 1
    view = await until(
        lambda: flow.auth_state(smartlock_id, auth_id),
        lambda v: v.status is EntityStatus.DRIFTED,
        "the sweep's report judged",
    )
    assert view.drift == ["enabled"]


async def test_reconcile_plans_the_seeded_differences_and_applies_the_drift_fix(
    flow: NukiFlow,
    sim: SimulatorControl,
    worker: Worker,
    receiver: WebhookReceiver,
    task_queue: str,
) -> None:
    lock = await sim.add_lock()
    smartlock_id = lock.smartlock_id
    drifting = await _created(flow, smartlock_id, 565651, DriftPolicy.ALERT)
    await _created(flow, smartlock_id, 565661, DriftPolicy.ALERT)
    vanishing = await _created(flow, smartlock_id, 565671, DriftPolicy.ALERT)
    stranger = await sim.add_auth(smartlock_id, name="app-made", code=676761)
    await sim.update_device_auth(smartlock_id, drifting, allowed_week_days=0b0011111)
    await sim.delete_device_auth(smartlock_id, vanishing)
    # Both reach their entities through the receiver before the plan reads them.
    await until(
        lambda: flow.auth_state(smartlock_id, drifting),
        lambda v: v.drift == ["allowed_week_days"],
        "the drift",
    )
    await until(
        lambda: flow.auth_state(smartlock_id, vanishing),
        lambda v: v.drift == ["deleted"],
        "the deletion",
    )

    plan = await plan_reconcile(flow.client, task_queue, [smartlock_id])
    assert [(d.auth_id, d.fields) for d in plan.drifted] == [(drifting, ["allowed_week_days"])]
    assert [u.auth_id for u in plan.unmanaged] == [stranger.id]
    assert [g.auth_id for g in plan.disappeared] == [vanishing]
    assert plan.skipped == [] and plan.differences == 3

    rollout = await apply_reconcile(Fleet(flow), plan)
    assert rollout is not None
    report = await rollout.result()
    assert report.totals.applied == 1 and not report.not_applied
    (auth,) = [a for a in (await sim.device(smartlock_id)).auths if a.id == drifting]
    assert auth.allowed_week_days is None and auth.code == 565651
    after = await plan_reconcile(flow.client, task_queue, [smartlock_id])
    assert after.drifted == [] and after.differences == 2
