"""One vocabulary of ``NukiStatus`` over every kind of nukiflow workflow.

Each kind keeps its own enum (the values it can take), but a word means the same wherever it
appears, and every word belongs to exactly one of three groups: the workflow is **working**
(doing something now), **needs attention** (the last thing it did failed, may have run, or the
lock differs: a person should look), or **settled** (nothing to do). Temporal's own
``ExecutionStatus`` is ``Failed`` only where the workflow's purpose failed (a create that could
not create, an entity whose auth is not there, a rollout given no plan it can run); a running
entity whose last change failed stays ``Running`` with ``NukiStatus = 'failed'``, because it
still manages its auth. The README's status table lists the same.
"""

from __future__ import annotations

from typing import Final

from nukiflow.contracts.access import GrantStatus
from nukiflow.contracts.action import LockStatus
from nukiflow.contracts.drift import LedgerStatus
from nukiflow.contracts.entity import EntityStatus
from nukiflow.contracts.rollout_progress import RolloutState

WORKING: Final = frozenset(
    {
        EntityStatus.APPLYING,
        LockStatus.ACTING,
        GrantStatus.CREATING,
        GrantStatus.REVOKING,
        RolloutState.RUNNING,
        RolloutState.CANCELLING,
        RolloutState.STOPPING,
    }
)
NEEDS_ATTENTION: Final = frozenset(
    {
        EntityStatus.FAILED,
        EntityStatus.DRIFTED,
        LockStatus.EXPIRED,
        LockStatus.UNKNOWN,
        GrantStatus.REVOCATION_OVERDUE,
        RolloutState.COMPLETED_WITH_FAILURES,
        RolloutState.STOPPED,
        LedgerStatus.UNMANAGED,
    }
)
# Every value of every kind's enum (the status words of all nukiflow workflows).
ALL: Final = frozenset(
    value
    for enum in (EntityStatus, LockStatus, GrantStatus, RolloutState, LedgerStatus)
    for value in (member.value for member in enum)
)
SETTLED: Final = ALL - {s.value for s in WORKING} - {s.value for s in NEEDS_ATTENTION}


def group(status: str) -> str:
    """``working``, ``attention`` or ``settled``."""
    if status in {s.value for s in WORKING}:
        return "working"
    if status in {s.value for s in NEEDS_ATTENTION}:
        return "attention"
    return "settled"
