"""Completion by webhook: the lock's reports settle auth writes and confirm lock actions, polling
finishes what they do not, against a real Temporal dev server, the fake cloud over HTTP and
nukiflow's webhook receiver registered with it.

Every case is provoked by the fake cloud (its delivery faults, an offline lock that holds what
it is sent, its control surface) or by signals the test sends as the receiver would; the waits
for a report are long (30 s) where the report must win, so no test depends on how fast the
machine is, and short (0.3 s) where polling must take over.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from nukiflow.activities.nuki_client import NukiClient
from nukiflow.client import NukiFlow
from nukiflow.contracts.action import ActionName, ActionStatus, lock_workflow_id, spec_of
from nukiflow.contracts.action_io import LockSnapshot, Verdict
from nukiflow.contracts.auth import AuthOutcome, OutcomeStatus
from nukiflow.contracts.entity import EntityStatus, auth_workflow_id
from nukiflow.contracts.events import AUTH_EVENT_SIGNAL, AuthEvent, LockEvent
from nukiflow.contracts.names import (
    AWAIT_AUTH_ACTIVITY,
    CONFIRM_ACTION_ACTIVITY,
    READ_WRITE_SETTLE_AUTH_ACTIVITY,
    WRITE_SETTLE_AUTH_ACTIVITY,
)
from nukiflow.contracts.timing import WorkflowTiming
from nukiflow.contracts.wire import (
    SmartlockAuth,
    SmartlockAuthUpdate,
    SmartlockLog,
    SmartlockState,
)
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.server import SimulatorServer
from nukiflow.simulator.settings import Faults
from nukiflow.temporal.worker import build_worker
from nukiflow.webhooks import WebhookReceiver
from nukiflow.webhooks.registration import DEFAULT_FEATURES
from nukiflow.webhooks.server import WebhookServer
from nukiflow.workflows.auth_watch import first_pause
from nukiflow.workflows.completion import action_outcome, healthy, settles_write
from tests.conftest import FAST_TIMING, TOKEN
from tests.test_replay import _check_and_record
from tests.webhook_receiver import eventually


def timing(wait: float) -> WorkflowTiming:
    poll = FAST_TIMING.poll.model_copy(update={"webhook_wait_seconds": wait})
    return FAST_TIMING.model_copy(update={"poll": poll})


# The report must win: far longer than a report takes on a loaded machine.
REPORT_WINS = timing(30.0)
# Reports are lost: polling takes over soon.
POLL_SOON = timing(0.3)


@dataclass
class Wired:
    """A worker that expects webhooks, the receiver registered with the fake cloud."""

    client: Client
    task_queue: str
    receiver: WebhookReceiver

    def flow(self, timing: WorkflowTiming) -> NukiFlow:
        return NukiFlow(self.client, task_queue=self.task_queue, timing=timing)


@pytest_asyncio.fixture(loop_scope="session")
async def wired(
    temporal_client: Client, simulator: SimulatorServer, task_queue: str
) -> AsyncIterator[Wired]:
    async with AsyncExitStack() as stack:
        nuki = await stack.enter_async_context(NukiClient(TOKEN, simulator.base_url))
        worker = build_worker(
            temporal_client,
            nuki,
            task_queue,
            flow=NukiFlow(temporal_client, task_queue=task_queue, timing=FAST_TIMING),
            graceful_shutdown=timedelta(seconds=1),
            webhooks=True,
        )
        await stack.enter_async_context(worker)
        receiver = WebhookReceiver(temporal_client, secrets=[], task_queue=task_queue)
        server = await stack.enter_async_context(WebhookServer(receiver))
        webhook = await nuki.register_webhook(server.url, DEFAULT_FEATURES)
        receiver.set_secrets([webhook.secret or ""])
        yield Wired(temporal_client, task_queue, receiver)


async def activities_run(handle: WorkflowHandle) -> list[str]:  # type: ignore[type-arg]
    """The activity types the workflow scheduled, in order."""
    names = []
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            names.append(event.activity_task_scheduled_event_attributes.activity_type.name)
    return names


async def activities_done(handle: WorkflowHandle) -> list[str]:  # type: ignore[type-arg]
    """The activity types of the workflow's completed activities, in order."""
    scheduled: dict[int, str] = {}
    done = []
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[event.event_id] = name
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attributes = event.activity_task_completed_event_attributes
            done.append(scheduled[attributes.scheduled_event_id])
    return done


async def timers_started(handle: WorkflowHandle) -> int:  # type: ignore[type-arg]
    """The timers the entity started to wait for the lock's report: every timer but the watch's
    (its first pause is one fast polling window, longer than the report waits used here)."""
    watch = first_pause(FAST_TIMING)
    history = await handle.fetch_history()
    return sum(
        1
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
        and e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta() != watch
    )


async def auth_requests(sim: SimulatorControl, smartlock_id: int, auth_id: str) -> list[str]:
    path = f"/smartlock/{smartlock_id}/auth/{auth_id}"
    return [f"{r.method} {r.status}" for r in await sim.requests() if r.path == path]


async def device_code(sim: SimulatorControl, smartlock_id: int, auth_id: str) -> int | None:
    (auth,) = [a for a in (await sim.device(smartlock_id)).auths if a.id == auth_id]
    return auth.code


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    await eventually(check, within=30)


def report(auth: SmartlockAuth, *, salt: str = "") -> AuthEvent:
    """A ``DEVICE_AUTHS`` report of ``auth`` as the receiver forwards it."""
    return AuthEvent(
        smartlock_id=auth.smartlock_id,
        auth_id=auth.id,
        deleted=False,
        auth=auth,
        received_at=datetime.now(UTC),
        digest=hashlib.sha256((auth.model_dump_json() + salt).encode()).hexdigest(),
    )


# -- authorization changes -------------------------------------------------------------------


async def test_a_change_the_lock_reports_costs_the_write_and_one_read(
    wired: Wired, sim: SimulatorControl
) -> None:
    flow = wired.flow(REPORT_WINS)
    lock = (await sim.add_lock()).smartlock_id
    auth = await sim.add_auth(lock, name="guest", code=535353)
    first = await flow.update_auth(lock, auth.id, {"code": 545454})
    assert first.status is OutcomeStatus.APPLIED, first.reason
    await sim.clear_requests()

    outcome = await flow.update_auth(lock, auth.id, {"code": 565656, "name": "cleaner"})

    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    assert (outcome.writes, outcome.reads) == (1, 1)
    assert await auth_requests(sim, lock, auth.id) == ["POST 204", "GET 200"]
    assert await device_code(sim, lock, auth.id) == 565656
    handle = wired.client.get_workflow_handle(auth_workflow_id(lock, auth.id))
    # Per change one attempt that writes and reads once (the first reads its base in it
    # too): no polling at all.
    assert await activities_run(handle) == [
        READ_WRITE_SETTLE_AUTH_ACTIVITY,
        WRITE_SETTLE_AUTH_ACTIVITY,
    ]
    view = await flow.auth_state(lock, auth.id)
    assert view.status is EntityStatus.IN_SYNC and view.verified is not None
    assert view.verified.name == "cleaner"
    await _check_and_record("auth_entity_settled_by_report", await handle.fetch_history())


async def test_a_lost_report_is_settled_by_polling(wired: Wired, sim: SimulatorControl) -> None:
    flow = wired.flow(POLL_SOON)
    lock = (await sim.add_lock()).smartlock_id
    await sim.set_faults(Faults(webhook_drop_rate=1.0), lock)
    auth = await sim.add_auth(lock, name="guest", code=535353)

    outcome = await flow.update_auth(lock, auth.id, {"code": 545454})

    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    assert await device_code(sim, lock, auth.id) == 545454
    handle = wired.client.get_workflow_handle(auth_workflow_id(lock, auth.id))
    assert AWAIT_AUTH_ACTIVITY in await activities_run(handle)
    deliveries = await sim.webhook_deliveries()
    assert deliveries and {d.outcome for d in deliveries} == {"dropped"}

    # A second write without a report (two in a row): the entity stops waiting for reports
    # and polls at once. Its wait for a report is the entity's one timer of a change.
    timers = await timers_started(handle)
    second = await flow.update_auth(lock, auth.id, {"code": 555555})
    assert second.status is OutcomeStatus.APPLIED, second.reason
    assert await timers_started(handle) - timers == 1
    timers = await timers_started(handle)
    third = await flow.update_auth(lock, auth.id, {"code": 565656})
    assert third.status is OutcomeStatus.APPLIED, third.reason
    assert await timers_started(handle) - timers == 0
    assert await device_code(sim, lock, auth.id) == 565656


async def test_a_delete_the_lock_reports_costs_the_delete_and_one_read(
    wired: Wired, sim: SimulatorControl
) -> None:
    flow = wired.flow(REPORT_WINS)
    lock = (await sim.add_lock()).smartlock_id
    auth = await sim.add_auth(lock, name="guest", code=535353)
    assert (await flow.update_auth(lock, auth.id, {"name": "x"})).status is OutcomeStatus.APPLIED
    await sim.clear_requests()

    outcome = await flow.delete_auth(lock, auth.id)

    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    assert await auth_requests(sim, lock, auth.id) == ["DELETE 204", "GET 200"]
    assert auth.id not in {a.id for a in (await sim.device(lock)).auths}


async def test_older_and_repeated_reports_never_settle_a_later_write(
    wired: Wired, sim: SimulatorControl
) -> None:
    """Change #3 writes back #1's code while the lock is offline (holding it): #1's report
    (late or reordered, and once more with the same digest), a report of #3's state still
    pending, and a report older than the write all match what #3 writes; none may settle it."""
    flow = wired.flow(REPORT_WINS)
    lock = (await sim.add_lock()).smartlock_id
    auth = await sim.add_auth(lock, name="guest", code=535353)
    await sim.set_faults(Faults(offline_mode="hold"), lock)
    assert (await flow.update_auth(lock, auth.id, {"code": 545454})).status is OutcomeStatus.APPLIED
    (after_first,) = [a for a in (await sim.device(lock)).auths if a.id == auth.id]
    first_report = report(after_first)
    handle = wired.client.get_workflow_handle(auth_workflow_id(lock, auth.id))
    # #1's report once more while idle: the entity takes its digest (not news).
    await handle.signal(AUTH_EVENT_SIGNAL, first_report)
    assert (await flow.update_auth(lock, auth.id, {"code": 555555})).status is OutcomeStatus.APPLIED

    await sim.set_online(lock, False)
    started = await flow.start_update_auth(lock, auth.id, {"code": 545454})
    assert not isinstance(started, AuthOutcome), started

    async def marked() -> bool:
        done = await activities_done(handle)
        # The first change's attempt reads its base as well.
        attempts = (WRITE_SETTLE_AUTH_ACTIVITY, READ_WRITE_SETTLE_AUTH_ACTIVITY)
        return sum(1 for name in done if name in attempts) >= 3

    # Each of the three writes read once right after it, in its fast attempt: #3's is done.
    await until(marked)
    pending_mark = after_first.model_copy(
        update={"update_date": datetime.now(UTC), "operation_id": "ab" * 12}
    )
    for stale in (
        first_report,  # the same delivery again
        report(after_first, salt="reordered"),  # #1's state, older than #3's write
        report(pending_mark),  # #3's state, an operation still pending
    ):
        await handle.signal(AUTH_EVENT_SIGNAL, stale)
    # Answered after the signals sent before it: they have been taken.
    view = await flow.set_drift_policy(lock, auth.id, "alert")
    assert view.status is EntityStatus.APPLYING
    assert not [o for o in view.last_outcomes if o.change_number == 3]

    await sim.set_online(lock, True)
    outcome = await started.result()
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    assert outcome.writes == 1
    assert await device_code(sim, lock, auth.id) == 545454


async def test_a_report_showing_a_lost_update_leads_to_a_rewrite(
    wired: Wired, sim: SimulatorControl, nuki: NukiClient
) -> None:
    """Another client's write lands after the entity's (Nuki took both in one burst): the
    lock's report shows the other code, the entity writes its own again, and the report of
    that settles it, all without polling."""
    flow = wired.flow(REPORT_WINS)
    lock = (await sim.add_lock()).smartlock_id
    auth = await sim.add_auth(lock, name="guest", code=535353)
    assert (await flow.update_auth(lock, auth.id, {"code": 545454})).status is OutcomeStatus.APPLIED
    settings = await sim.get_settings()
    await sim.set_settings(settings.model_copy(update={"lock_race_window": 600.0}))
    await sim.set_faults(Faults(offline_mode="hold"), lock)
    await sim.set_online(lock, False)
    await sim.clear_requests()
    started = await flow.start_update_auth(lock, auth.id, {"code": 565656})
    assert not isinstance(started, AuthOutcome), started

    async def written_and_marked() -> bool:
        return await auth_requests(sim, lock, auth.id) == ["POST 204", "GET 200"]

    await until(written_and_marked)
    current = await nuki.get_auth(lock, auth.id)
    await nuki.update_auth(lock, auth.id, SmartlockAuthUpdate(name=current.name, code=575757))
    await sim.set_online(lock, True)

    outcome = await started.result()
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    assert outcome.writes == 2
    assert await device_code(sim, lock, auth.id) == 565656
    handle = wired.client.get_workflow_handle(auth_workflow_id(lock, auth.id))
    assert AWAIT_AUTH_ACTIVITY not in await activities_run(handle)


# -- lock actions ----------------------------------------------------------------------------


async def test_an_action_the_lock_reports_is_confirmed_without_a_read(
    wired: Wired, sim: SimulatorControl
) -> None:
    flow = wired.flow(REPORT_WINS)
    lock = (await sim.add_lock()).smartlock_id
    # Deliveries of this lock: unlocking (1), unlocked (2), the log entry (3); then locking
    # (4), locked (5), its log entry (6). Before the workflow has seen a state report, only
    # the (dated) log entry can confirm the unlock.
    await sim.set_faults(Faults(webhook_drop_nth=[6]), lock)

    outcome = await flow.action(lock, ActionName.UNLOCK)

    assert outcome.status is ActionStatus.CONFIRMED, outcome.reason
    assert outcome.confirmed_by == "log report"
    assert outcome.api_requests == 2  # the state check before the POST, and the POST
    # No state report is trusted yet: the state is not guessed.
    assert outcome.state is None

    # The state reports keep up with the lock now: without the log entry they confirm.
    locked = await flow.action(lock, ActionName.LOCK)
    assert locked.status is ActionStatus.CONFIRMED, locked.reason
    assert (locked.confirmed_by, locked.api_requests, locked.state) == ("state report", 2, 1)
    handle = wired.client.get_workflow_handle(lock_workflow_id(lock))
    assert CONFIRM_ACTION_ACTIVITY not in await activities_run(handle)
    await _check_and_record("lock_actions_confirmed_by_report", await handle.fetch_history())


async def test_an_action_whose_reports_are_lost_is_confirmed_by_polling(
    wired: Wired, sim: SimulatorControl
) -> None:
    flow = wired.flow(POLL_SOON)
    lock = (await sim.add_lock()).smartlock_id
    await sim.set_faults(Faults(webhook_drop_rate=1.0), lock)

    outcome = await flow.action(lock, ActionName.UNLOCK)

    assert outcome.status is ActionStatus.CONFIRMED, outcome.reason
    assert outcome.confirmed_by in ("state", "log")
    assert outcome.api_requests is not None and outcome.api_requests >= 3
    handle = wired.client.get_workflow_handle(lock_workflow_id(lock))
    assert CONFIRM_ACTION_ACTIVITY in await activities_run(handle)
    assert [e.action for e in (await sim.device(lock)).actions] == [1]


# -- what a report proves (plain functions) ----------------------------------------------------


def _lock_report(kind: str, **fields: object) -> LockEvent:
    body = {"smartlock_id": 7, "kind": kind, "received_at": datetime.now(UTC)}
    body["digest"] = hashlib.sha256(repr(sorted(fields.items())).encode()).hexdigest()
    return LockEvent.model_validate(body | fields)


def test_what_a_lock_report_proves_about_an_unlock() -> None:
    spec = spec_of(ActionName.UNLOCK)
    before = LockSnapshot(lock_type=0, server_state=0, state=1, mode=2, pending=False)
    since = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)

    def status(state: int) -> LockEvent:
        return _lock_report("status", state=SmartlockState(state=state), server_state=0)

    def log(state: int, date: datetime) -> LockEvent:
        entry = SmartlockLog(
            id="a" * 24, smartlock_id=7, action=1, trigger=4, state=state, date=date
        )
        return _lock_report("log", log=entry)

    # An end state alone may be an old report delivered late: not proof.
    assert action_outcome([status(3)], spec, before, since, True) is None
    running_then_done = action_outcome([status(2), status(3)], spec, before, since, True)
    assert running_then_done is not None and running_then_done.verdict is Verdict.DONE
    assert not running_then_done.by_log
    blocked = action_outcome([status(2), status(254)], spec, before, since, True)
    assert blocked is not None and blocked.verdict is Verdict.BLOCKED
    # State reports running behind the lock prove nothing, whatever they show.
    assert action_outcome([status(2), status(3)], spec, before, since, False) is None
    # A log entry is dated: one from before the send is another action's.
    stale_log = log(0, since - timedelta(seconds=1))
    assert action_outcome([stale_log], spec, before, since, True) is None
    logged = action_outcome([status(2), log(1, since)], spec, before, since, False)
    assert logged is not None and (logged.verdict, logged.by_log) == (Verdict.BLOCKED, True)


def test_which_auth_report_settles_a_write() -> None:
    since = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    auth = SmartlockAuth(
        id="5f2a0c8e4b1d9a7c3e6f0b12",
        smartlock_id=7,
        type=13,
        name="guest",
        code=545454,
        enabled=True,
        remote_allowed=False,
        update_date=since,
    )
    before = since - timedelta(seconds=5)
    settled = report(auth)
    assert settles_write(settled, since, before, [])
    assert not settles_write(settled, since, before, [settled.digest])  # a duplicate
    older = report(auth.model_copy(update={"update_date": since - timedelta(milliseconds=1)}))
    assert not settles_write(older, since, before, [])
    # Not newer than the state known before the write: an earlier write's report.
    assert not settles_write(settled, since, since, [])
    pending = report(auth.model_copy(update={"operation_id": "ab" * 12}))
    assert not settles_write(pending, since, before, [])
    undated = report(auth.model_copy(update={"update_date": None}))
    assert not settles_write(undated, since, before, [])


def test_webhooks_stay_healthy_until_two_writes_in_a_row_needed_polling() -> None:
    assert healthy(True, 0) and healthy(True, 1)
    assert not healthy(True, 2)
    assert not healthy(False, 0)  # the worker does not expect webhooks: poll as before
