"""Internal: the fake cloud's state and rules: accepting writes, the 423 race, faults, the device's
results.

Everything here runs on the event loop without awaiting, so each request's checks and effects
are atomic with respect to the device workers (see `device.py`) and to other requests. Every
random decision draws from `self.rng`, one `random.Random(seed)`, in request order, so a
sequential run is reproducible from its seed.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nukiflow.contracts.wire import (
    AuthType,
    LockAction,
    LockState,
    OpenerAction,
    Smartlock,
    SmartlockAction,
    SmartlockAuth,
    SmartlockAuthCreate,
    SmartlockAuthUpdate,
    SmartlockLog,
    SmartlockType,
)

from . import errors, validation, webhooks
from .control_models import AuthSpec, DeviceView, ExecutedAction, LockSpec, RequestRecord
from .device import run_device
from .records import LockRecord, Operation, OpKind
from .settings import Faults, OfflineMode, SimSettings
from .webhook_models import AuthChange
from .webhooks import WebhookHub

LOCK_ACTIONS = {int(a) for a in LockAction}
BOX_ACTIONS = {int(LockAction.UNLOCK)}
OPENER_ACTIONS = {int(a) for a in OpenerAction}
OPENER_ONLINE = 1  # Opener state "online" (idle, ring to open inactive)
LOG_TRIGGER_WEB = 4
SERVER_ERROR_STATUSES = (500, 502, 503)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RequestFaults:
    """The request-level faults drawn for one API request when it arrives."""

    error_status: int | None = None
    rate_limited: bool = False
    retry_after: int | None = None
    slow: float = 0.0
    fail_after_commit: bool = False
    forbidden: bool = False


@dataclass
class PlannedWrite:
    """A validated write, not yet accepted: bulk requests validate every item first."""

    lock: LockRecord
    kind: OpKind
    auth: SmartlockAuth


class SimState:
    """The whole fake cloud: locks, devices, faults, settings, the request log."""

    def __init__(self, seed: int = 0, settings: SimSettings | None = None, locks: int = 0) -> None:
        self._initial_seed = seed
        self.initial_settings = settings or SimSettings()
        self._initial_locks = locks
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._running = False
        self.webhooks = WebhookHub(lambda: self.settings)
        self.reset(seed)

    # ---- lifecycle -------------------------------------------------------------------------

    def reset(self, seed: int | None = None) -> None:
        """Back to the state right after start: seeded locks only, no faults, empty logs."""
        for task in self._workers.values():
            task.cancel()
        self._workers = {}
        self.seed = self._initial_seed if seed is None else seed
        self.rng = random.Random(self.seed)
        self.settings = self.initial_settings.model_copy(deep=True)
        self.faults = Faults()
        self.locks: dict[int, LockRecord] = {}
        self.requests: list[RequestRecord] = []
        self.account_id = self.rng.randrange(100_000, 1_000_000)
        self.webhooks.reset(self.seed)
        for _ in range(self._initial_locks):
            self.add_lock(LockSpec())

    def start(self) -> None:
        """Start one device worker per lock; needs a running event loop."""
        self._running = True
        for lock in self.locks.values():
            self._spawn(lock)
        self.webhooks.start()

    async def stop(self) -> None:
        self._running = False
        tasks = list(self._workers.values())
        self._workers = {}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.webhooks.stop()

    def _spawn(self, lock: LockRecord) -> None:
        if self._running and lock.smartlock_id not in self._workers:
            self._workers[lock.smartlock_id] = asyncio.get_running_loop().create_task(
                run_device(self, lock), name=f"nuki-sim-device-{lock.smartlock_id}"
            )

    # ---- ids, randomness, effective settings -----------------------------------------------

    def new_id(self) -> str:
        """24 hex characters, like Nuki's auth, operation and log ids."""
        return f"{self.rng.getrandbits(96):024x}"

    def _hit(self, count: int, nth: list[int], rate: float) -> bool:
        # Draw only when a rate is set, so switching a fault off leaves the id sequence alone.
        return count in nth or (rate > 0 and self.rng.random() < rate)

    def faults_for(self, lock: LockRecord | None) -> Faults:
        """A lock's own faults replace the global ones as a whole."""
        if lock is not None and lock.faults is not None:
            return lock.faults
        return self.faults

    def device_delay(self, lock: LockRecord) -> float:
        override = self.faults_for(lock).device_delay
        return self.settings.device_delay if override is None else override

    def action_time(self, lock: LockRecord) -> float:
        override = self.faults_for(lock).action_time
        return self.settings.action_time if override is None else override

    def offline_mode(self, lock: LockRecord) -> OfflineMode:
        return self.faults_for(lock).offline_mode or self.settings.offline_mode

    def draw_request_faults(self, smartlock_id: int | None, write: bool) -> RequestFaults:
        faults = self.faults_for(self.locks.get(smartlock_id) if smartlock_id else None)
        error_status = None
        if self._hit(0, [], faults.server_error_rate):
            error_status = self.rng.choice(SERVER_ERROR_STATUSES)
        rate_limited = self._hit(0, [], faults.rate_limit_rate)
        slow_hits = write or not faults.slow_writes_only
        slow = faults.slow_response if slow_hits and self._hit(0, [], faults.slow_rate) else 0.0
        after_commit = write and self._hit(0, [], faults.server_error_after_commit_rate)
        return RequestFaults(
            error_status, rate_limited, faults.retry_after, slow, after_commit, faults.forbidden
        )

    def record(self, method: str, path: str, status: int, arrived: float) -> None:
        self.requests.append(RequestRecord(method=method, path=path, status=status, time=arrived))

    # ---- control surface -------------------------------------------------------------------

    def add_lock(self, spec: LockSpec) -> LockRecord:
        lock_type = SmartlockType.OPENER if spec.opener else spec.type
        smartlock_id = spec.smartlock_id
        while smartlock_id is None or smartlock_id in self.locks:
            # Nuki's smartlockId is the device type in front of the 32-bit Nuki id.
            smartlock_id = (lock_type << 32) | self.rng.getrandbits(32)
        number = len(self.locks) + 1
        default_name = f"Opener {number}" if lock_type == SmartlockType.OPENER else f"Lock {number}"
        lock = LockRecord(
            smartlock_id=smartlock_id,
            account_id=self.account_id,
            type=lock_type,
            auth_id=self.rng.randrange(1, 1_000_000),
            name=spec.name or default_name,
            keypad_paired=spec.keypad_paired,
            created=utcnow(),
            timezone_id=spec.timezone_id,
            web_auth_id=self.new_id(),
            lock_state=OPENER_ONLINE if lock_type == SmartlockType.OPENER else LockState.LOCKED,
        )
        self.locks[smartlock_id] = lock
        self._spawn(lock)
        return lock

    def add_device_auth(self, lock: LockRecord, spec: AuthSpec) -> SmartlockAuth:
        now = utcnow()
        auth = SmartlockAuth(
            id=self.new_id(),
            smartlock_id=lock.smartlock_id,
            auth_id=self._next_slot(lock),
            creation_date=now,
            update_date=now,
            **spec.model_dump(),
        )
        lock.device_auths[auth.id] = auth
        lock.cloud_auths[auth.id] = auth
        self.auth_changed(lock, auth, deleted=False)
        return auth

    def update_device_auth(
        self, lock: LockRecord, auth_id: str, change: AuthChange
    ) -> SmartlockAuth:
        """Change an auth directly on the device ("in the Nuki app"): no operation, and the
        listing follows at once unless a write to the auth is still pending (then it is re-read
        from the device when that ends, as after any operation)."""
        current = self._device_auth(lock, auth_id)
        values = current.model_dump() | change.model_dump(exclude_unset=True)
        values["update_date"] = utcnow()
        auth = validation.parse_model(SmartlockAuth, values)
        lock.device_auths[auth_id] = auth
        if lock.books_of(auth_id).pending == 0:
            lock.cloud_auths[auth_id] = auth
        self.auth_changed(lock, auth, deleted=False)
        return auth

    def delete_device_auth(self, lock: LockRecord, auth_id: str) -> None:
        """Remove an auth directly on the device; a write still queued for it finds it gone."""
        auth = self._device_auth(lock, auth_id)
        del lock.device_auths[auth_id]
        if lock.books_of(auth_id).pending == 0:
            lock.cloud_auths.pop(auth_id, None)
        self.auth_changed(lock, auth, deleted=True)

    def _device_auth(self, lock: LockRecord, auth_id: str) -> SmartlockAuth:
        try:
            return lock.device_auths[auth_id]
        except KeyError:
            raise errors.not_found("Smartlock authorization") from None

    def set_faults(self, faults: Faults, smartlock_id: int | None) -> None:
        if smartlock_id is None:
            self.faults = faults
        else:
            self.lock(smartlock_id).faults = faults
        self._wake_all()  # an offline_mode change may release held operations

    def clear_lock_faults(self, smartlock_id: int) -> None:
        self.lock(smartlock_id).faults = None
        self._wake_all()

    def set_settings(self, settings: SimSettings) -> None:
        self.settings = settings
        self._wake_all()

    def set_online(self, smartlock_id: int, online: bool) -> None:
        lock = self.lock(smartlock_id)
        changed = lock.online != online
        lock.online = online
        lock.wakeup.set()
        if changed:
            self.status_changed(lock)

    def device_view(self, smartlock_id: int) -> DeviceView:
        lock = self.lock(smartlock_id)
        return DeviceView(
            smartlock_id=lock.smartlock_id,
            online=lock.online,
            auths=list(lock.device_auths.values()),
            lock_state=lock.lock_state,
            last_action=lock.last_action,
            actions=list(lock.executed),
            pending=len(lock.queue),
        )

    def _wake_all(self) -> None:
        for lock in self.locks.values():
            lock.wakeup.set()

    # ---- reads -----------------------------------------------------------------------------

    def lock(self, smartlock_id: int) -> LockRecord:
        try:
            return self.locks[smartlock_id]
        except KeyError:
            raise errors.not_found("Smartlock") from None

    def smartlock(self, lock: LockRecord) -> Smartlock:
        return lock.to_wire(utcnow())

    def cloud_auth(self, lock: LockRecord, auth_id: str) -> SmartlockAuth:
        try:
            return lock.cloud_auths[auth_id]
        except KeyError:
            raise errors.not_found("Smartlock authorization") from None

    def find_cloud_auth(self, auth_id: str) -> tuple[LockRecord, SmartlockAuth]:
        """Bulk endpoints name auths without their lock; an unknown id is a bad parameter."""
        for lock in self.locks.values():
            if auth_id in lock.cloud_auths:
                return lock, lock.cloud_auths[auth_id]
        raise errors.bad_parameter("id", auth_id)

    def logs(
        self,
        lock: LockRecord,
        *,
        limit: int,
        auth_id: str | None = None,
        action: int | None = None,
        older_than: str | None = None,
    ) -> list[SmartlockLog]:
        entries = list(reversed(lock.logs))  # newest first
        if older_than is not None:
            ids = [entry.id for entry in entries]
            entries = entries[ids.index(older_than) + 1 :] if older_than in ids else []
        entries = [
            entry
            for entry in entries
            if (auth_id is None or entry.auth_id == auth_id)
            and (action is None or entry.action == action)
        ]
        return entries[:limit]

    # ---- auth writes: plan (validate) then accept ------------------------------------------

    def _next_slot(self, lock: LockRecord) -> int:
        slot = lock.next_slot
        lock.next_slot += 1
        return slot

    def _codes_in_use(self, lock: LockRecord, excluding: str | None) -> set[int]:
        """Codes on the device, in the cloud's list, or on their way to the device."""
        auths = [
            *lock.device_auths.values(),
            *lock.cloud_auths.values(),
            *(op.auth for op in lock.queue if op.auth is not None and op.kind is not OpKind.DELETE),
        ]
        return {a.code for a in auths if a.code is not None and a.id != excluding}

    def _check_code_free(
        self, lock: LockRecord, auth: SmartlockAuth, claimed: set[tuple[int, int]]
    ) -> None:
        if auth.code is None:
            return
        key = (lock.smartlock_id, auth.code)
        if auth.code in self._codes_in_use(lock, excluding=auth.id) or key in claimed:
            raise errors.conflict(
                f"A keypad code with this value already exists on smartlock {lock.smartlock_id}"
            )
        claimed.add(key)

    def _check_writable(self, lock: LockRecord, auth_id: str) -> None:
        """423 while an operation is pending, except within the race of a fresh burst.

        The forum saw four quick updates of one auth accepted and the fifth locked out: the
        lock-out takes effect only `lock_race_window` seconds after the first accepted write of
        a burst, and at most `lock_race_writes` writes are accepted per burst.
        """
        books = lock.books_of(auth_id)
        if books.pending == 0:
            return
        in_window = time.monotonic() - books.burst_started < self.settings.lock_race_window
        if not (in_window and books.burst_writes < self.settings.lock_race_writes):
            raise errors.locked()

    def plan_create(
        self, lock: LockRecord, body: SmartlockAuthCreate, claimed: set[tuple[int, int]]
    ) -> PlannedWrite:
        auth_type = AuthType.APP if body.type is None else body.type
        validation.check_create_type(auth_type, lock.keypad_paired)
        keypad = auth_type == AuthType.KEYPAD_CODE
        if keypad:
            validation.check_code(body.code)
        validation.check_restrictions(body)
        validation.check_name(body.name, auth_type)
        if len(lock.device_auths) + len(lock.pending_creates()) >= self.settings.max_auths:
            raise errors.bad_request(
                f"Smartlock {lock.smartlock_id} holds the maximum of "
                f"{self.settings.max_auths} authorizations"
            )
        now = utcnow()
        auth = SmartlockAuth(
            id=self.new_id(),
            smartlock_id=lock.smartlock_id,
            account_user_id=body.account_user_id,
            auth_id=self._next_slot(lock),
            code=body.code if keypad else None,
            type=auth_type,
            name=body.name,
            enabled=True,
            remote_allowed=body.remote_allowed,
            allowed_from_date=body.allowed_from_date,
            allowed_until_date=body.allowed_until_date,
            allowed_week_days=body.allowed_week_days,
            allowed_from_time=body.allowed_from_time,
            allowed_until_time=body.allowed_until_time,
            creation_date=now,
            update_date=now,
        )
        self._check_code_free(lock, auth, claimed)
        return PlannedWrite(lock, OpKind.CREATE, auth)

    def plan_update(
        self,
        lock: LockRecord,
        current: SmartlockAuth,
        body: SmartlockAuthUpdate,
        claimed: set[tuple[int, int]],
    ) -> PlannedWrite:
        """An update replaces: absent `allowed*` fields are cleared (forum: updating name and
        code wiped the time restrictions); absent code, enabled, remoteAllowed and
        accountUserId keep their value."""
        keypad = current.type == AuthType.KEYPAD_CODE
        if keypad and body.code is not None:
            validation.check_code(body.code)
        validation.check_restrictions(body)
        validation.check_name(body.name, current.type)
        self._check_writable(lock, current.id)
        auth = current.model_copy(
            update={
                "name": body.name,
                "code": body.code if keypad and body.code is not None else current.code,
                "enabled": current.enabled if body.enabled is None else body.enabled,
                "remote_allowed": (
                    current.remote_allowed if body.remote_allowed is None else body.remote_allowed
                ),
                "account_user_id": (
                    current.account_user_id
                    if body.account_user_id is None
                    else body.account_user_id
                ),
                "allowed_from_date": body.allowed_from_date,
                "allowed_until_date": body.allowed_until_date,
                "allowed_week_days": body.allowed_week_days,
                "allowed_from_time": body.allowed_from_time,
                "allowed_until_time": body.allowed_until_time,
                "update_date": utcnow(),
                "operation_id": None,
            }
        )
        self._check_code_free(lock, auth, claimed)
        return PlannedWrite(lock, OpKind.UPDATE, auth)

    def plan_delete(self, lock: LockRecord, current: SmartlockAuth) -> PlannedWrite:
        self._check_writable(lock, current.id)
        return PlannedWrite(lock, OpKind.DELETE, current.model_copy(update={"operation_id": None}))

    def accept(self, plan: PlannedWrite) -> Operation:
        """Queue a validated write for the device (the 204), deciding its fault fate now."""
        lock, auth = plan.lock, plan.auth
        faults = self.faults_for(lock)
        op = Operation(id=self.new_id(), kind=plan.kind, auth=auth)
        books = lock.books_of(auth.id)
        if books.pending == 0:
            books.burst_started = time.monotonic()
            books.burst_writes = 0
        books.burst_writes += 1
        books.pending += 1
        if plan.kind is OpKind.CREATE:
            lock.creates += 1
            op.lost = self._hit(lock.creates, faults.lost_create_nth, faults.lost_create_rate)
            visible = self.settings.create_visibility == "immediately"
        elif plan.kind is OpKind.UPDATE:
            books.updates += 1
            op.lost = self._hit(books.updates, faults.lost_update_nth, faults.lost_update_rate)
            visible = True
        else:
            books.deletes += 1
            op.lost = self._hit(books.deletes, faults.ghost_delete_nth, faults.ghost_delete_rate)
            visible = True
        if visible:
            # The cloud caches the accepted values at once; it re-reads the device when the
            # auth's last pending operation ends, so a lost write reverts in the listing then.
            lock.cloud_auths[auth.id] = auth.model_copy(update={"operation_id": op.id})
        lock.enqueue(op)
        return op

    # ---- actions ---------------------------------------------------------------------------

    def accept_action(self, lock: LockRecord, action: SmartlockAction) -> Operation:
        if lock.is_opener:
            allowed = OPENER_ACTIONS
        elif lock.type == SmartlockType.BOX:
            allowed = BOX_ACTIONS
        else:
            allowed = LOCK_ACTIONS
        if action.action not in allowed:
            raise errors.bad_parameter("action", action.action)
        if not 0 <= action.option <= 7:
            raise errors.bad_parameter("option", action.option)
        if lock.action_operation_id is not None:
            raise errors.locked()
        faults = self.faults_for(lock)
        blocked = faults.motor_blocked_next or self._hit(0, [], faults.motor_blocked_rate)
        faults.motor_blocked_next = False
        op = Operation(id=self.new_id(), kind=OpKind.ACTION, action=action, motor_blocked=blocked)
        lock.action_operation_id = op.id
        lock.enqueue(op)
        return op

    # ---- called by the device worker -------------------------------------------------------

    def apply(self, lock: LockRecord, op: Operation) -> None:
        """The device carries out an auth operation (unless its fate was to be lost)."""
        if op.lost or op.auth is None:
            return
        auth = op.auth
        if op.kind is OpKind.CREATE:
            lock.device_auths[auth.id] = op.landed = auth
        elif op.kind is OpKind.UPDATE:
            if auth.id in lock.device_auths:  # deleted meanwhile: nothing to update
                lock.device_auths[auth.id] = op.landed = auth
        elif op.kind is OpKind.DELETE:
            op.landed = lock.device_auths.pop(auth.id, None)

    def record_executed(self, lock: LockRecord, op: Operation) -> None:
        assert op.action is not None
        lock.last_action = op.action.action
        lock.executed.append(
            ExecutedAction(
                action=op.action.action,
                option=op.action.option,
                time=time.monotonic(),
                completion=1 if op.motor_blocked else 0,
            )
        )

    def log_action(self, lock: LockRecord, op: Operation) -> None:
        assert op.action is not None
        lock.logs.append(
            SmartlockLog(
                id=self.new_id(),
                smartlock_id=lock.smartlock_id,
                device_type=2 if lock.is_opener else (3 if lock.type == 3 else 0),
                auth_id=lock.web_auth_id,
                name="Nuki Web",
                action=op.action.action,
                trigger=LOG_TRIGGER_WEB,
                state=1 if op.motor_blocked else 0,
                date=utcnow(),
                source=0,
            )
        )
        self._publish(lock, webhooks.log_body(lock.logs[-1]))

    def finish(self, lock: LockRecord, op: Operation) -> None:
        """An operation left the queue (applied, lost or dropped)."""
        if op.kind is OpKind.ACTION:
            lock.action_operation_id = None
            return
        assert op.auth is not None
        auth_id = op.auth.id
        books = lock.books_of(auth_id)
        books.pending -= 1
        if books.pending == 0:
            # No write in flight any more: the cloud's listing is the device's truth again.
            on_device = lock.device_auths.get(auth_id)
            if on_device is None:
                lock.cloud_auths.pop(auth_id, None)
            else:
                lock.cloud_auths[auth_id] = on_device
        if op.landed is not None:
            self.auth_changed(lock, op.landed, deleted=op.kind is OpKind.DELETE)

    # ---- webhooks: what the device did, as deliveries ---------------------------------------

    def _publish(self, lock: LockRecord, body: dict[str, Any]) -> None:
        self.webhooks.publish(lock.account_id, lock.smartlock_id, body, self.faults_for(lock))

    def auth_changed(self, lock: LockRecord, auth: SmartlockAuth, deleted: bool) -> None:
        """DEVICE_AUTHS with the auth as the device now holds it (or held it, when deleted), in
        the listing's shape; while a further write to it is pending, with that write's
        operationId, as the listing shows it."""
        listed = lock.cloud_auths.get(auth.id)
        pending = None if deleted or listed is None else listed.operation_id
        self._publish(
            lock, webhooks.auth_body(auth.model_copy(update={"operation_id": pending}), deleted)
        )

    def status_changed(self, lock: LockRecord) -> None:
        """DEVICE_STATUS: the lock's state moved (also each transitional state) or it went
        offline or online."""
        self._publish(lock, webhooks.status_body(self.smartlock(lock)))
