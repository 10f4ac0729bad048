"""What one report of the lock says about an action (pure, no I/O): shared by the confirm
activity, which reads the lock, and the lock workflow, which takes the lock's webhooks.

The rules are the same whoever reads: a state read (or ``DEVICE_STATUS``) shows the action
running (an operation pending, one of its transitional states), done or blocked (its end state,
or motor blocked, with evidence that it started), or nothing yet; a log entry's completion says
how it ended.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from nukiflow.contracts.action import ActionSpec
from nukiflow.contracts.action_io import LockSnapshot, Verdict
from nukiflow.contracts.wire import LockState, LogCompletion


def verdict_of(completion: int) -> Verdict:
    """What a log entry's completion state says: success, motor blocked, or another end."""
    if completion == LogCompletion.SUCCESS:
        return Verdict.DONE
    if completion == LogCompletion.MOTOR_BLOCKED:
        return Verdict.BLOCKED
    return Verdict.FAILED


def running(spec: ActionSpec, lock: LockSnapshot) -> bool:
    """An operation is pending on the lock, or it is in one of the action's transitional
    states: the action (or another) is under way."""
    return lock.pending or (lock.state is not None and lock.state in spec.transitional)


class Assessment(StrEnum):
    WAITING = "waiting"  # not started (or someone else moved the lock)
    RUNNING = "running"  # pending operation or a transitional state of this action
    DONE = "done"
    BLOCKED = "blocked"
    UNCLEAR = "unclear"  # end state, but it equals the state before and no start was seen


def assess(
    spec: ActionSpec, before: LockSnapshot | None, now: LockSnapshot, seen_running: bool
) -> Assessment:
    """Judge one state read of the lock after the action was sent."""
    if running(spec, now):
        return Assessment.RUNNING
    started = seen_running or before is None or (now.state, now.mode) != (before.state, before.mode)
    if not spec.opener and now.state == LockState.MOTOR_BLOCKED:
        return Assessment.BLOCKED if started else Assessment.UNCLEAR
    if now.state == spec.end_state and (spec.end_mode is None or now.mode == spec.end_mode):
        return Assessment.DONE if started else Assessment.UNCLEAR
    return Assessment.WAITING


def log_entry_counts(action: int, date: datetime, code: int, since: datetime) -> bool:
    """Whether a log entry of ``action`` dated ``date`` is taken as action ``code`` sent at or
    after ``since`` (any trigger: mistaking another's identical action for ours is the safe
    error, no second door opening)."""
    when = date if date.tzinfo is not None else date.replace(tzinfo=UTC)
    return action == code and when >= since
