"""Drift: the auth entity judges what the lock reports (``nuki_auth_event``) against its verified
state, against a real Temporal dev server and the fake cloud over HTTP.

The events are built from the auth as the fake cloud's device holds it after a change made
directly on the device (as the Nuki app does) and signalled to the entity as the webhook
receiver would. The ``drift_policy`` update, answered after the signals sent before it, is the
barrier that makes "changed nothing" observable without waiting.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowHandle
from temporalio.worker import Worker

from nukiflow.client import NukiFlow
from nukiflow.contracts.auth import AuthFields, OutcomeStatus
from nukiflow.contracts.entity import AuthEntityView, DriftPolicy, EntityStatus, auth_workflow_id
from nukiflow.contracts.events import AUTH_EVENT_SIGNAL, AuthEvent
from nukiflow.contracts.wire import SmartlockAuth
from nukiflow.simulator.control import SimulatorControl
from nukiflow.workflows.auth_drift import judge_event

SECRET_NAME = "intruder-name"
SECRET_CODE = 864213


def _event(auth: SmartlockAuth, *, deleted: bool = False, digest: str | None = None) -> AuthEvent:
    body = auth.model_dump_json() + str(deleted)
    return AuthEvent(
        smartlock_id=auth.smartlock_id,
        auth_id=auth.id,
        deleted=deleted,
        auth=auth,
        received_at=datetime.now(UTC),
        digest=digest or hashlib.sha256(body.encode()).hexdigest(),
    )


async def _managed(flow: NukiFlow, sim: SimulatorControl) -> tuple[int, str, WorkflowHandle]:  # type: ignore[type-arg]
    """A keypad auth whose entity is running and in sync after one verified change."""
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="guest", code=555551)
    outcome = await flow.update_auth(lock.smartlock_id, auth.id, {"code": 555552})
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    handle = flow.client.get_workflow_handle(auth_workflow_id(lock.smartlock_id, auth.id))
    return lock.smartlock_id, auth.id, handle


async def _until(
    check: Callable[[], Awaitable[AuthEntityView]],
    done: Callable[[AuthEntityView], bool],
    what: str,
) -> AuthEntityView:
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        view = await check()
        if done(view):
            return view
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last state {view}")
        await asyncio.sleep(0.05)


async def _device_auth(sim: SimulatorControl, smartlock_id: int, auth_id: str) -> SmartlockAuth:
    (auth,) = [a for a in (await sim.device(smartlock_id)).auths if a.id == auth_id]
    return auth


async def _status_attribute(handle: WorkflowHandle) -> object:  # type: ignore[type-arg]
    description = await handle.describe()
    values = {pair.key.name: pair.value for pair in description.typed_search_attributes}
    return values.get("NukiStatus")


async def test_alert_shows_drift_by_field_name_only(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    smartlock_id, auth_id, handle = await _managed(flow, sim)
    assert (await flow.auth_state(smartlock_id, auth_id)).drift_policy is DriftPolicy.ALERT
    changed = await sim.update_device_auth(
        smartlock_id, auth_id, name=SECRET_NAME, code=SECRET_CODE
    )
    await handle.signal(AUTH_EVENT_SIGNAL, _event(changed))

    view = await _until(
        lambda: flow.auth_state(smartlock_id, auth_id),
        lambda v: v.status is EntityStatus.DRIFTED,
        "the drift",
    )
    assert view.drift == ["name", "code"]
    # The desired and verified state stay what nukiflow wrote: alert only shows.
    assert view.desired is not None and view.desired.name == "guest"
    assert SECRET_NAME not in view.model_dump_json()
    assert str(SECRET_CODE) not in view.model_dump_json()
    assert await _status_attribute(handle) == "drifted"
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    details = metadata.current_details
    assert "drifted" in details and "name, code" in details
    assert SECRET_NAME not in details and str(SECRET_CODE) not in details
    description = await handle.describe()
    for pair in description.typed_search_attributes:
        assert SECRET_NAME not in str(pair.value) and str(SECRET_CODE) not in str(pair.value)
    # Nothing was written back.
    assert (await _device_auth(sim, smartlock_id, auth_id)).name == SECRET_NAME

    # The lock back at the verified state (a newer report) ends the drift.
    restored = await sim.update_device_auth(smartlock_id, auth_id, name="guest", code=555552)
    await handle.signal(AUTH_EVENT_SIGNAL, _event(restored))
    await _until(
        lambda: flow.auth_state(smartlock_id, auth_id),
        lambda v: v.status is EntityStatus.IN_SYNC,
        "the lock back in sync",
    )


async def test_a_deleted_auth_is_drift_whatever_the_policy(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    smartlock_id, auth_id, handle = await _managed(flow, sim)
    await flow.set_drift_policy(smartlock_id, auth_id, "enforce")
    auth = await _device_auth(sim, smartlock_id, auth_id)
    await sim.delete_device_auth(smartlock_id, auth_id)
    gone = auth.model_copy(update={"update_date": datetime.now(UTC)})
    await handle.signal(AUTH_EVENT_SIGNAL, _event(gone, deleted=True))
    view = await flow.set_drift_policy(smartlock_id, auth_id, "enforce")
    assert view.status is EntityStatus.DRIFTED
    assert view.drift == ["deleted"]
    assert view.pending_changes == 0


async def test_enforce_writes_the_desired_state_back(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    smartlock_id, auth_id, handle = await _managed(flow, sim)
    before = await flow.set_drift_policy(smartlock_id, auth_id, DriftPolicy.ENFORCE)
    assert before.drift_policy is DriftPolicy.ENFORCE
    changed = await sim.update_device_auth(smartlock_id, auth_id, enabled=False)
    await handle.signal(AUTH_EVENT_SIGNAL, _event(changed))

    view = await _until(
        lambda: flow.auth_state(smartlock_id, auth_id),
        lambda v: (
            v.change_counter == before.change_counter + 1 and v.status is EntityStatus.IN_SYNC
        ),
        "the enforcing write",
    )
    assert view.drift == ["enabled"]
    enforced = view.last_outcomes[-1]
    assert enforced.status is OutcomeStatus.APPLIED, enforced.reason
    assert enforced.request_id.startswith("drift-enforce-")
    device = await _device_auth(sim, smartlock_id, auth_id)
    assert device.enabled is True and device.name == "guest" and device.code == 555552
    assert await _status_attribute(handle) == "in_sync"


async def test_adopt_takes_the_locks_state(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    smartlock_id, auth_id, handle = await _managed(flow, sim)
    before = await flow.set_drift_policy(smartlock_id, auth_id, "adopt")
    changed = await sim.update_device_auth(smartlock_id, auth_id, name="renamed", enabled=False)
    await handle.signal(AUTH_EVENT_SIGNAL, _event(changed))
    view = await flow.set_drift_policy(smartlock_id, auth_id, "adopt")
    assert view.status is EntityStatus.IN_SYNC
    assert view.drift == ["name", "enabled"]
    assert view.change_counter == before.change_counter
    for state in (view.desired, view.verified):
        assert state is not None and state.name == "renamed" and state.enabled is False
    # The next change starts from the adopted state.
    outcome = await flow.update_auth(smartlock_id, auth_id, {"code": 555553})
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    device = await _device_auth(sim, smartlock_id, auth_id)
    assert (device.name, device.enabled, device.code) == ("renamed", False, 555553)


async def test_stale_duplicate_and_equal_events_change_nothing(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker
) -> None:
    smartlock_id, auth_id, handle = await _managed(flow, sim)
    before = await flow.set_drift_policy(smartlock_id, auth_id, "alert")

    # The verified state reported again (newer date): nothing to do.
    same = await _device_auth(sim, smartlock_id, auth_id)
    await handle.signal(
        AUTH_EVENT_SIGNAL, _event(same.model_copy(update={"update_date": datetime.now(UTC)}))
    )
    view = await flow.set_drift_policy(smartlock_id, auth_id, "alert")
    assert view.status is EntityStatus.IN_SYNC and view.drift == []

    # Two changes on the device, delivered newest first: the older one is stale.
    first = await sim.update_device_auth(smartlock_id, auth_id, name="first")
    second = await sim.update_device_auth(smartlock_id, auth_id, enabled=False)
    assert first.update_date is not None and second.update_date is not None
    assert first.update_date < second.update_date
    await handle.signal(AUTH_EVENT_SIGNAL, _event(second))
    await handle.signal(AUTH_EVENT_SIGNAL, _event(first))
    view = await flow.set_drift_policy(smartlock_id, auth_id, "alert")
    assert view.status is EntityStatus.DRIFTED
    assert view.drift == ["name", "enabled"]

    # A delivery taken twice (no date to order it by): the second one is not judged again.
    undated = await sim.update_device_auth(smartlock_id, auth_id, name="guest", enabled=True)
    undated_event = _event(undated.model_copy(update={"update_date": None}))
    await handle.signal(AUTH_EVENT_SIGNAL, undated_event)
    view = await flow.set_drift_policy(smartlock_id, auth_id, "enforce")
    assert view.status is EntityStatus.IN_SYNC
    counter = view.change_counter
    await handle.signal(AUTH_EVENT_SIGNAL, undated_event.model_copy())
    await handle.signal(
        AUTH_EVENT_SIGNAL, _event(second.model_copy(update={"update_date": None}), digest="x")
    )
    # The last one is undated with a new digest: judged, drift, enforced.
    view = await _until(
        lambda: flow.auth_state(smartlock_id, auth_id),
        lambda v: v.change_counter > counter and v.status is EntityStatus.IN_SYNC,
        "the enforcing write",
    )
    assert view.change_counter == counter + 1, "the duplicate was judged again"
    assert before.change_counter + 1 == view.change_counter


def test_judging_is_plain_logic() -> None:
    auth = SmartlockAuth(
        id="5f2a0c8e4b1d9a7c3e6f0b12",
        smartlock_id=1,
        type=13,
        name="n",
        enabled=True,
        remote_allowed=False,
        code=123456,
        update_date=datetime(2030, 1, 1, tzinfo=UTC),
    )
    verified = AuthFields.from_wire(auth)
    event = _event(auth.model_copy(update={"name": "m"}))
    judged = judge_event(event, verified, None, [])
    assert judged.taken and judged.differences == ["name"]
    assert not judge_event(event, verified, None, [event.digest]).taken
    assert not judge_event(event, verified, auth.update_date, []).taken
    pending = _event(auth.model_copy(update={"operation_id": "op"}))
    assert not judge_event(pending, verified, None, []).taken
