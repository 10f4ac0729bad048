"""Internal: the simulator's in-memory records: locks, their devices, queued operations."""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from nukiflow.contracts.wire import (
    ServerState,
    Smartlock,
    SmartlockAction,
    SmartlockAuth,
    SmartlockConfig,
    SmartlockLog,
    SmartlockState,
    SmartlockType,
)

from .control_models import ExecutedAction
from .nuki_timezones import standard_offset_minutes
from .settings import Faults


class OpKind(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    ACTION = "action"


@dataclass
class Operation:
    """One entry of a lock's FIFO: an auth write or an action, with its fault fate decided."""

    id: str
    kind: OpKind
    # Create/update: the full auth to write. Delete: the auth as listed when deleted.
    auth: SmartlockAuth | None = None
    action: SmartlockAction | None = None
    # Accepted with 204 but never applied (lost update, lost create, ghost delete).
    lost: bool = False
    motor_blocked: bool = False
    # What the device holds once the operation landed (a delete: what it removed).
    landed: SmartlockAuth | None = None


@dataclass
class AuthBooks:
    """What the cloud counts per auth to decide 423s and count-based faults."""

    pending: int = 0
    burst_started: float = 0.0
    burst_writes: int = 0
    updates: int = 0
    deletes: int = 0


@dataclass
class LockRecord:
    """A smartlock: the cloud's view of it and what its device really holds."""

    smartlock_id: int
    account_id: int
    type: int
    auth_id: int
    name: str
    keypad_paired: bool
    created: datetime
    timezone_id: int
    # The id of the Web API's own auth on the lock; actions sent through the API log it.
    web_auth_id: str
    firmware_version: int = 0x040207
    online: bool = True
    lock_state: int = 1
    mode: int = 2
    last_action: int = 0
    # operationId of the action queued or running (further actions answer 423 meanwhile).
    action_operation_id: str | None = None
    # The truth on the device, and the cloud's cache of it (what GET lists).
    device_auths: dict[str, SmartlockAuth] = field(default_factory=dict)
    cloud_auths: dict[str, SmartlockAuth] = field(default_factory=dict)
    books: dict[str, AuthBooks] = field(default_factory=dict)
    queue: deque[Operation] = field(default_factory=deque)
    logs: list[SmartlockLog] = field(default_factory=list)  # oldest first
    executed: list[ExecutedAction] = field(default_factory=list)
    faults: Faults | None = None
    creates: int = 0
    next_slot: int = 1
    # Set whenever the device worker may have something new to do (queue, online, faults).
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def is_opener(self) -> bool:
        return self.type == SmartlockType.OPENER

    def books_of(self, auth_id: str) -> AuthBooks:
        return self.books.setdefault(auth_id, AuthBooks())

    def enqueue(self, op: Operation) -> None:
        self.queue.append(op)
        self.wakeup.set()

    def pending_creates(self) -> list[SmartlockAuth]:
        return [op.auth for op in self.queue if op.kind is OpKind.CREATE and op.auth is not None]

    def to_wire(self, now: datetime) -> Smartlock:
        return Smartlock(
            smartlock_id=self.smartlock_id,
            account_id=self.account_id,
            type=self.type,
            auth_id=self.auth_id,
            name=self.name,
            config=SmartlockConfig(
                name=self.name,
                keypad_paired=self.keypad_paired,
                timezone_id=self.timezone_id,
                timezone_offset=standard_offset_minutes(self.timezone_id),
            ),
            state=SmartlockState(
                mode=self.mode,
                state=self.lock_state,
                last_action=self.last_action,
                battery_charge=87,
                door_state=2 if not self.is_opener else 0,
                operation_id=self.action_operation_id,
            ),
            firmware_version=self.firmware_version,
            server_state=ServerState.ONLINE if self.online else ServerState.OFFLINE,
            creation_date=self.created,
            update_date=now,
        )
