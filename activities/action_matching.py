"""Judging a lock action from what the lock reports (pure, no I/O): which log entry is the
action, what one state read says about it, and the result a confirmation hands back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from nukiflow.contracts.action import ActionSpec
from nukiflow.contracts.action_io import (
    ConfirmActionInput,
    ConfirmActionResult,
    LockSnapshot,
    LogMatch,
    Verdict,
)
from nukiflow.contracts.wire import LockState, LogCompletion, SmartlockLog

# Log entries read when looking for an action (newest first; one lock's recent actions).
LOG_LIMIT = 20


def find_in_log(logs: list[SmartlockLog], code: int, since: datetime) -> LogMatch | None:
    """The oldest entry of action ``code`` dated ``since`` or later (``logs`` newest first).

    Any trigger counts: the check runs only when our own POST may have reached the lock, and
    mistaking another's identical action for ours is the safe error (no second door opening).
    """
    found: SmartlockLog | None = None
    for entry in logs:
        date = entry.date if entry.date.tzinfo is not None else entry.date.replace(tzinfo=UTC)
        if entry.action == code and date >= since:
            found = entry
    if found is None:
        return None
    return LogMatch(log_id=found.id, completion=found.state, trigger=found.trigger, date=found.date)


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


def confirmed(
    input: ConfirmActionInput,
    snapshot: LockSnapshot,
    verdict: Verdict,
    *,
    asked: datetime,
    requests: int,
    learnable: bool,
) -> ConfirmActionResult:
    """A confirmation's result from the read asked at ``asked`` (a state read of the first
    attempt that showed the action done is a sample of how long it takes here)."""
    return ConfirmActionResult(
        verdict=verdict,
        state=snapshot.state,
        lock_type=snapshot.lock_type,
        by_log=False,
        observed_at=asked,
        done_after=max(0.0, (asked - input.sent_at).total_seconds()),
        learnable=learnable and verdict is Verdict.DONE,
        requests=requests,
    )
