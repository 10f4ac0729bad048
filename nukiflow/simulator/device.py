"""Internal: the simulated device: one worker per lock applies its FIFO of operations, one at a
time.

Auth operations take `device_delay` each. An action moves the lock through its transitional
states and reaches its final state `action_time` after the device started it. While the lock
is offline, operations reaching the head of the queue are held (offline_mode "hold") or, after
`device_delay` spent trying to reach the lock, dropped ("drop"). While the fault `device_paused`
is set, the device takes up nothing (an operation under way finishes).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from nukiflow.contracts.wire import LockAction, LockState, OpenerAction, SmartlockType

from .records import LockRecord, Operation, OpKind
from .settings import OfflineMode

# Opener states (spec, type=2): 1 online, 3 ring to open active, 5 open, 7 opening.
OPENER_ONLINE, OPENER_RTO_ACTIVE, OPENER_OPEN, OPENER_OPENING = 1, 3, 5, 7
MODE_DOOR, MODE_CONTINUOUS = 2, 3

# action -> (transitional states, each held for an equal share of action_time; final state)
LOCK_MOTIONS: dict[int, tuple[tuple[int, ...], int]] = {
    LockAction.UNLOCK: ((LockState.UNLOCKING,), LockState.UNLOCKED),
    LockAction.LOCK: ((LockState.LOCKING,), LockState.LOCKED),
    LockAction.UNLATCH: ((LockState.UNLATCHING,), LockState.UNLATCHED),
    # Lock'n'go: unlock, stay open a moment, lock again.
    LockAction.LOCK_N_GO: (
        (LockState.UNLOCKING, LockState.UNLOCKED_LOCK_N_GO, LockState.LOCKING),
        LockState.LOCKED,
    ),
    LockAction.LOCK_N_GO_UNLATCH: (
        (LockState.UNLATCHING, LockState.UNLOCKED_LOCK_N_GO, LockState.LOCKING),
        LockState.LOCKED,
    ),
}
OPENER_MOTIONS: dict[int, tuple[tuple[int, ...], int]] = {
    OpenerAction.ACTIVATE_RTO: ((), OPENER_RTO_ACTIVE),
    OpenerAction.DEACTIVATE_RTO: ((), OPENER_ONLINE),
    OpenerAction.OPEN: ((OPENER_OPENING,), OPENER_OPEN),
    OpenerAction.ACTIVATE_CONTINUOUS: ((), OPENER_RTO_ACTIVE),
    OpenerAction.DEACTIVATE_CONTINUOUS: ((), OPENER_ONLINE),
}


class DeviceCloud(Protocol):
    """What a device worker asks of the cloud (the simulator's state): the lock's effective
    timing and offline mode, and where the device's work lands."""

    def device_delay(self, lock: LockRecord) -> float: ...

    def action_time(self, lock: LockRecord) -> float: ...

    def offline_mode(self, lock: LockRecord) -> OfflineMode: ...

    def device_paused(self, lock: LockRecord) -> bool: ...

    def apply(self, lock: LockRecord, op: Operation) -> None: ...

    def record_executed(self, lock: LockRecord, op: Operation) -> None: ...

    def log_action(self, lock: LockRecord, op: Operation) -> None: ...

    def finish(self, lock: LockRecord, op: Operation) -> None: ...

    def status_changed(self, lock: LockRecord) -> None: ...


def motion(lock_type: int, action: int) -> tuple[tuple[int, ...], int]:
    table = OPENER_MOTIONS if lock_type == SmartlockType.OPENER else LOCK_MOTIONS
    return table[action]


async def perform_action(state: DeviceCloud, lock: LockRecord, op: Operation) -> None:
    assert op.action is not None
    transitional, final = motion(lock.type, op.action.action)
    state.record_executed(lock, op)
    total = state.action_time(lock)
    for lock_state in transitional:
        lock.lock_state = lock_state
        state.status_changed(lock)
        await asyncio.sleep(total / len(transitional))
    if not transitional:
        await asyncio.sleep(total)
    lock.lock_state = LockState.MOTOR_BLOCKED if op.motor_blocked else final
    if lock.is_opener and op.action.action == OpenerAction.ACTIVATE_CONTINUOUS:
        lock.mode = MODE_CONTINUOUS
    elif lock.is_opener and op.action.action == OpenerAction.DEACTIVATE_CONTINUOUS:
        lock.mode = MODE_DOOR
    state.status_changed(lock)
    state.log_action(lock, op)


async def run_device(state: DeviceCloud, lock: LockRecord) -> None:
    """Work through the lock's queue forever (cancelled when the simulator stops or resets)."""
    while True:
        op = lock.queue[0] if lock.queue else None
        held = not lock.online and state.offline_mode(lock) == "hold"
        if op is None or held or state.device_paused(lock):
            lock.wakeup.clear()
            await lock.wakeup.wait()
            continue
        if not lock.online:
            # "drop": the cloud spends the usual time trying to reach the lock, then gives up;
            # the operation ends without effect and its operationId disappears.
            await asyncio.sleep(state.device_delay(lock))
        elif op.kind is OpKind.ACTION:
            await perform_action(state, lock, op)
        else:
            await asyncio.sleep(state.device_delay(lock))
            state.apply(lock, op)
        lock.queue.popleft()
        state.finish(lock, op)
