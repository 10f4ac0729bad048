"""Judging a lock action from what the lock reports (pure, no I/O): which log entry is the
action, what one state read says about it, and the result a confirmation hands back.
"""

from __future__ import annotations

from datetime import datetime

from nukiflow.contracts.action_io import (
    ConfirmActionInput,
    ConfirmActionResult,
    LockSnapshot,
    LogMatch,
    Verdict,
)

# The judging of one report is shared with the lock workflow, which takes the lock's webhooks.
from nukiflow.contracts.action_judging import (
    Assessment,
    assess,
    log_entry_counts,
    running,
    verdict_of,
)
from nukiflow.contracts.wire import SmartlockLog

__all__ = [
    "LOG_LIMIT",
    "Assessment",
    "assess",
    "confirmed",
    "find_in_log",
    "running",
    "verdict_of",
]

# Log entries read when looking for an action (newest first; one lock's recent actions).
LOG_LIMIT = 20


def find_in_log(logs: list[SmartlockLog], code: int, since: datetime) -> LogMatch | None:
    """The oldest entry of action ``code`` dated ``since`` or later (``logs`` newest first).

    Any trigger counts: the check runs only when our own POST may have reached the lock, and
    mistaking another's identical action for ours is the safe error (no second door opening).
    """
    found: SmartlockLog | None = None
    for entry in logs:
        if log_entry_counts(entry.action, entry.date, code, since):
            found = entry
    if found is None:
        return None
    return LogMatch(log_id=found.id, completion=found.state, trigger=found.trigger, date=found.date)


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
