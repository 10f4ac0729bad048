"""What the device's work does to the cloud: an auth operation lands (unless its fate was to
be lost), an action runs and is logged, and an operation leaves the queue, after which the
cloud's listing is the device's truth again. Called by the device workers (`device.py`).
"""

from __future__ import annotations

import time

from nukiflow.contracts.wire import SmartlockLog

from .control_models import ExecutedAction
from .records import LockRecord, Operation, OpKind
from .state_base import StateBase, utcnow
from .webhook_bodies import log_body

LOG_TRIGGER_WEB = 4


class DeviceEffects(StateBase):
    """The device's side of the state (see :class:`~.device.DeviceCloud`)."""

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
        self._publish(lock, log_body(lock.logs[-1]))

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
