"""Accepting writes: an auth create, update or delete is validated first (bulk requests
validate every item before accepting any), then accepted with its fault fate decided (the 204);
an action is checked and queued. Here live the 423 race of a fresh burst and the rules Nuki
applies to codes, names and restrictions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from nukiflow.contracts.wire import (
    AuthType,
    LockAction,
    OpenerAction,
    SmartlockAction,
    SmartlockAuth,
    SmartlockAuthCreate,
    SmartlockAuthUpdate,
    SmartlockType,
)

from . import errors, validation
from .records import LockRecord, Operation, OpKind
from .state_base import StateBase, utcnow

LOCK_ACTIONS = {int(a) for a in LockAction}
BOX_ACTIONS = {int(LockAction.UNLOCK)}
OPENER_ACTIONS = {int(a) for a in OpenerAction}


@dataclass
class PlannedWrite:
    """A validated write, not yet accepted: bulk requests validate every item first."""

    lock: LockRecord
    kind: OpKind
    auth: SmartlockAuth


class Writes(StateBase):
    """Auth writes (plan, then accept) and actions, as the API accepts them."""

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
