"""What an action's answer claims, judged from what Temporal recorded and what the lock reports
(deterministic, no I/O): plain functions from activity results and failures to an
:class:`Answer`, which the lock workflow turns into the caller's ``ActionOutcome``.

Outcomes are decided from what Temporal recorded, never from heartbeat details (they travel
asynchronously; their absence proves nothing): ``expired`` only when the record proves no send
attempt reached its POST (none started, or the last one reported back, and its report, which
accounts for the attempts before it, says nothing went out). A send that may have gone out is
looked for in the lock's log until the deadline plus a grace period: confirmed or failed by the
log entry, else ``unknown`` with what was seen. A confirmation that runs out of time looks at
the log once more before it answers; not found there, the answer is ``unknown`` (Nuki accepted
the action; it may have run, or may still).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from temporalio.exceptions import ActivityError

from nukiflow.contracts.action import (
    ActionOutcome,
    ActionStatus,
    LockStatus,
    QueuedAction,
    state_name,
)
from nukiflow.contracts.action_io import (
    ConfirmActionResult,
    ConfirmProgress,
    LogMatch,
    LookActionResult,
    SendProgress,
    Verdict,
)
from nukiflow.contracts.deadline import clock
from nukiflow.contracts.names import ACTION_NOT_SUPPORTED_ERROR, NUKI_VALIDATION_ERROR
from nukiflow.contracts.wire import LogCompletion
from nukiflow.workflows.action_record import deadline_reached, innermost
from nukiflow.workflows.failure_reasons import describe_activity_failure

# Nuki refused the values of the action itself (400): bad input, like a rejected request.
REJECTING_ERRORS = frozenset({ACTION_NOT_SUPPORTED_ERROR, NUKI_VALIDATION_ERROR})


@dataclass(frozen=True)
class Answer:
    """An action's outcome, less what the workflow adds (ids, number, deadline, state name)."""

    status: ActionStatus
    reason: str | None = None
    # The lock's state as last seen.
    state: int | None = None
    seconds: float | None = None
    sent_at: datetime | None = None
    api_requests: int = 0
    # "state" or "log": what the outcome was read from.
    confirmed_by: str | None = None


def outcome(
    answer: Answer,
    queued: QueuedAction,
    smartlock_id: int,
    lock_type: int | None,
    workflow_id: str,
) -> ActionOutcome:
    """What the caller of ``queued`` gets: the answer, with the lock's state named for its
    type, and the request, its number in the lock's queue and its deadline."""
    request = queued.request
    return ActionOutcome(
        status=answer.status,
        request_id=request.request_id,
        smartlock_id=smartlock_id,
        action=request.action,
        number=queued.number,
        state=answer.state,
        state_name=state_name(answer.state, lock_type),
        seconds=answer.seconds,
        sent_at=answer.sent_at,
        api_requests=answer.api_requests,
        confirmed_by=answer.confirmed_by,
        reason=answer.reason,
        workflow_id=workflow_id,
        deadline=queued.deadline,
    )


def completion_text(completion: int | None) -> str:
    """How the lock's log says an action ended: ``canceled``, ``with completion state 9``..."""
    if completion is None:
        return "without a completion state"
    try:
        return LogCompletion(completion).name.lower().replace("_", " ")
    except ValueError:
        return f"with completion state {completion}"


def from_confirmation(
    name: str,
    smartlock_id: int,
    done: ConfirmActionResult,
    *,
    sent_requests: int,
    sent_at: datetime,
) -> Answer:
    """The confirmation saw the outcome (the lock's state, or its log)."""
    reason: str | None = None
    if done.verdict is Verdict.BLOCKED:
        reason = (
            f"motor blocked: smartlock {smartlock_id} could not complete {name} (state 254); "
            "check the door and the bolt"
        )
    elif done.verdict is not Verdict.DONE:
        reason = f"the lock's log reports {name} ended {completion_text(done.completion)}"
    return Answer(
        ActionStatus.CONFIRMED if done.verdict is Verdict.DONE else ActionStatus.FAILED,
        reason=reason,
        state=done.state,
        seconds=round(done.done_after, 3),
        sent_at=sent_at,
        api_requests=sent_requests + done.requests,
        confirmed_by=("log" if done.by_log else "state") + (" report" if done.by_report else ""),
    )


def from_log_entry(
    name: str,
    match: LogMatch,
    *,
    state: int | None,
    api_requests: int,
    sent_at: datetime | None = None,
) -> Answer:
    """The lock's log shows the action: its completion is the outcome."""
    if match.completion == LogCompletion.SUCCESS:
        return Answer(
            ActionStatus.CONFIRMED,
            state=state,
            sent_at=sent_at,
            api_requests=api_requests,
            confirmed_by="log",
        )
    return Answer(
        ActionStatus.FAILED,
        reason=f"the lock's log reports {name} ended {completion_text(match.completion)}",
        state=state,
        sent_at=sent_at,
        api_requests=api_requests,
        confirmed_by="log",
    )


def from_look(
    name: str,
    look: LookActionResult | None,
    failure: str | None,
    log_since: datetime,
    *,
    unclear: str,
    requests: int,
    sent_at: datetime | None = None,
) -> Answer:
    """An action that may have reached the lock, answered from a look at its log and state
    (``look`` None: the look failed, ``failure`` says why): the log entry decides; without
    one the action is ``unknown``. ``requests`` are those made before the look."""
    if look is not None:
        requests += look.requests
    if look is not None and look.match is not None:
        state = None if look.last is None or look.running else look.last.state
        return from_log_entry(name, look.match, state=state, api_requests=requests, sent_at=sent_at)
    return Answer(
        ActionStatus.UNKNOWN,
        reason=f"may have run: {unclear}; {seen(name, look, failure, log_since)}. "
        "Look at the lock before sending it again",
        state=None if look is None or look.last is None else look.last.state,
        sent_at=sent_at,
        api_requests=requests,
    )


def seen(name: str, look: LookActionResult | None, failure: str | None, log_since: datetime) -> str:
    """What the last look saw, for an ``unknown`` answer."""
    if look is None:
        return failure or "the lock's log could not be read"
    when = f"at {clock(look.looked_at)}"
    if look.log_error is not None:
        parts = [f"{when} the lock's log could not be read ({look.log_error})"]
    else:
        parts = [f"{when} the lock's log showed no {name} since {clock(log_since)}"]
    last = look.last
    if last is None:
        parts.append(f"its state could not be read ({look.state_error or 'no answer'})")
    elif not last.online:
        parts.append(
            f"the lock was offline (serverState {last.server_state}): the cloud may still "
            "deliver the action when it is back"
        )
    elif look.running:
        parts.append(f"the lock showed an operation running ({last.name})")
    else:
        parts.append(f"the lock showed {last.name} with nothing pending")
    return "; ".join(parts)


def never_sent_reason(queued: QueuedAction, ahead: int | None = None) -> str:
    """Why an action the workflow never sent expired: taken up late, or waiting in line."""
    if queued.deadline <= queued.accepted_at:
        return (
            f"its deadline ({clock(queued.deadline)}) had passed when the lock's workflow "
            f"took it up at {clock(queued.accepted_at)} (no worker could take it sooner); "
            "it was never sent and will not be"
        )
    behind = "" if not ahead else f" behind {ahead} earlier action(s)"
    return (
        f"its deadline ({clock(queued.deadline)}) passed while it waited in "
        f"line{behind}; it was never sent and will not be"
    )


def unsent(err: ActivityError, proof: SendProgress, last_state: int | None) -> Answer:
    """A send that ended without a result, when the record proves nothing went out
    (``proof``: the last attempt's closing report, see ``action_record.unsent_proof``)."""
    last, _ = innermost(err)
    message = last.message if last is not None else (err.message or type(err).__name__)
    if last is not None and last.type in REJECTING_ERRORS:
        return Answer(ActionStatus.REJECTED, reason=message, api_requests=proof.requests)
    if deadline_reached(err, last):
        return Answer(
            ActionStatus.EXPIRED,
            reason=f"not sent before its deadline ({message}); it was never sent and will not be",
            api_requests=proof.requests,
            state=last_state,
        )
    return Answer(
        ActionStatus.FAILED,
        reason=describe_activity_failure(err, "sending the action") + "; it was never sent",
        api_requests=proof.requests,
        state=last_state,
    )


def unclear_confirmation(err: ActivityError, progress: ConfirmProgress, sent_at: datetime) -> str:
    """Why an action Nuki accepted was not seen done (before the last look at the log)."""
    if deadline_reached(err, innermost(err)[0]):
        why = "not seen completed by the deadline"
    else:
        why = describe_activity_failure(err, "confirming it")
    known = ""
    last = progress.last
    if last is not None:
        known = f"; the lock last showed {last.name}"
        if progress.seen_running:
            known += " after it had started"
    return f"Nuki accepted it at {clock(sent_at)} and it was {why}{known}"


def settled_status(outcomes: Iterable[ActionOutcome]) -> LockStatus:
    """The lock's status once its queue is empty: that of its last action that was not
    rejected (bad input says nothing about the lock)."""
    last = next(
        (o for o in reversed(list(outcomes)) if o.status is not ActionStatus.REJECTED), None
    )
    if last is None:
        return LockStatus.IDLE
    return {
        ActionStatus.CONFIRMED: LockStatus.CONFIRMED,
        ActionStatus.EXPIRED: LockStatus.EXPIRED,
        ActionStatus.FAILED: LockStatus.FAILED,
        ActionStatus.UNKNOWN: LockStatus.UNKNOWN,
    }.get(last.status, LockStatus.IDLE)
