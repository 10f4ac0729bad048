"""What the lock workflow and its activities hand each other (``nuki.action.send``,
``nuki.action.confirm``, ``nuki.action.look``): inputs, results, and the progress an activity
carries across its attempts and hands to the workflow in the details of its last failure.

The workflow calls the activities by name with these models, so it never imports the activity
modules (and httpx with them). All of them are stored in histories: they ignore fields they do
not know (pydantic's default), so an older worker decodes what a newer one wrote.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from nukiflow.contracts.action import ActionName, state_name
from nukiflow.contracts.timing import PollTiming
from nukiflow.contracts.wire import ServerState, Smartlock

P = TypeVar("P", bound=BaseModel)


class LockSnapshot(BaseModel):
    """The parts of ``GET /smartlock/{id}`` an action is judged by."""

    lock_type: int
    server_state: int
    state: int | None
    mode: int | None
    # An operationId is set on the lock or its state: an operation is queued or running.
    pending: bool
    # The lock's name in the Nuki app (None: recorded before snapshots carried it).
    lock_name: str | None = None

    @classmethod
    def of(cls, lock: Smartlock) -> LockSnapshot:
        state = lock.state
        return cls(
            lock_type=lock.type,
            server_state=lock.server_state,
            state=None if state is None else state.state,
            mode=None if state is None else state.mode,
            pending=lock.operation_id is not None
            or (state is not None and state.operation_id is not None),
            lock_name=lock.name,
        )

    @property
    def online(self) -> bool:
        return self.server_state == ServerState.ONLINE

    @property
    def name(self) -> str:
        return state_name(self.state, self.lock_type) or "unknown"


class LogMatch(BaseModel):
    """A log entry taken to be the action in question."""

    log_id: str
    completion: int
    trigger: int
    date: datetime


# -- send -----------------------------------------------------------------------------------


class SendProgress(BaseModel):
    """Carried across send attempts (heartbeat details) and to the workflow (failure details)."""

    requests: int = 0
    posts: int = 0
    # An earlier POST may have reached Nuki without a clear answer.
    maybe_sent: bool = False
    lock_type: int | None = None
    # The lock's name, once an attempt read the lock.
    lock_name: str | None = None
    # Why the last attempt could not send (423, offline, ...): the reason of an expiry.
    last_refusal: str | None = None
    # The attempt whose end wrote these details. Heartbeats travel asynchronously: a worker
    # killed right after its POST may leave older details (or none), so a retry that does not
    # find its predecessor's closing details must assume that POST went out.
    closed_attempt: int = 0


class SendActionInput(BaseModel):
    smartlock_id: int
    action: ActionName
    option: int = 0
    # Nothing is sent after this instant.
    not_after: datetime
    # Log entries of this action since then count as an earlier attempt's
    # (see activities/action_matching.find_in_log).
    log_since: datetime


class SendActionResult(BaseModel):
    # The lock right before the POST (or the check that found the action already done).
    before: LockSnapshot
    # When Nuki accepted this activity's POST (204); None when ``executed`` is set.
    sent_at: datetime | None
    # The action of an earlier attempt, found in the lock's log: it is not sent again.
    executed: LogMatch | None = None
    requests: int
    posts: int
    # The worker expects the lock's webhooks (see WriteAuthResult.webhooks).
    webhooks: bool = False


# -- confirm --------------------------------------------------------------------------------


class Verdict(StrEnum):
    DONE = "done"  # the lock reached the end state (or the log says success)
    BLOCKED = "blocked"  # motor blocked (state 254 or log completion 1)
    FAILED = "failed"  # the log reports another completion (canceled, busy, ...)


class ConfirmProgress(BaseModel):
    """Carried across confirm attempts (heartbeat details) and to the workflow on a timeout."""

    requests: int = 0
    seen_running: bool = False
    last: LockSnapshot | None = None


class ConfirmActionInput(BaseModel):
    smartlock_id: int
    action: ActionName
    # The lock right before the POST.
    before: LockSnapshot
    sent_at: datetime
    log_since: datetime
    # Seconds from the 204 to "done" last time (None: nothing learned yet).
    expected_seconds: float | None = None
    # Read once early at this share of ``expected_seconds`` (None: read at it only).
    probe_fraction: float | None = 0.9
    timing: PollTiming


class ConfirmActionResult(BaseModel):
    verdict: Verdict
    state: int | None
    lock_type: int
    by_log: bool
    completion: int | None = None
    observed_at: datetime
    # Seconds from the 204 to the read that showed the outcome.
    done_after: float
    # Decided by a state read of the first attempt: a sample of how long the action takes.
    learnable: bool
    requests: int
    # Decided by the lock's webhook reports (the lock workflow builds it; no read was made).
    by_report: bool = False


# -- look -----------------------------------------------------------------------------------


class LookActionInput(BaseModel):
    smartlock_id: int
    action: ActionName
    # Log entries of this action since then count as ours (see SendActionInput.log_since).
    log_since: datetime
    # Keep looking until this instant while the log does not show the action (the last look
    # is made at it); None: look once.
    until: datetime | None = None
    timing: PollTiming


class LookActionResult(BaseModel):
    # The action in the lock's log (None: not there, or the log could not be read).
    match: LogMatch | None
    # The last state read (None: no read answered).
    last: LockSnapshot | None
    # The last read showed an operation pending or one of the action's transitional states.
    running: bool
    looked_at: datetime
    requests: int
    # Why the last look could not read the log, or the state (a retryable error).
    log_error: str | None = None
    state_error: str | None = None


def progress_from(values: Any, model: type[P]) -> P | None:
    """A progress model from failure or heartbeat details (as the converter hands them over)."""
    for value in values or ():
        try:
            return model.model_validate(value)
        except (TypeError, ValueError, ValidationError):
            continue
    return None
