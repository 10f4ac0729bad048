"""How runs of the lock workflow recorded before the record patch (``RECORD_PATCH`` in
:mod:`workflows.lock_actions`) answered a failed send or confirmation: from the activity's
heartbeat details, at once, without a last look at the lock's log.

Kept unchanged so those histories replay to the answers they gave; new runs never take these
paths (see :mod:`workflows.action_outcomes`).
"""

from __future__ import annotations

from datetime import datetime

from temporalio.exceptions import ActivityError

from nukiflow.contracts.action import ActionStatus
from nukiflow.contracts.action_io import ConfirmProgress, SendProgress
from nukiflow.workflows.action_outcomes import REJECTING_ERRORS, Answer
from nukiflow.workflows.action_record import deadline_reached, innermost
from nukiflow.workflows.failure_reasons import describe_activity_failure


def send_failed_by_heartbeat(
    err: ActivityError, progress: SendProgress, last_state: int | None
) -> Answer:
    """A failed send, judged by the progress its heartbeat or failure details carried."""
    last, _ = innermost(err)
    message = last.message if last is not None else (err.message or type(err).__name__)
    if last is not None and last.type in REJECTING_ERRORS:
        return Answer(ActionStatus.REJECTED, reason=message, api_requests=progress.requests)
    if deadline_reached(err, last) and progress.maybe_sent:
        return Answer(
            ActionStatus.FAILED,
            reason="unconfirmed: Nuki gave no clear answer to a send attempt and the "
            f"deadline came before that could be settled (last: {message}); the action "
            "may have reached the lock",
            api_requests=progress.requests,
            state=last_state,
        )
    if deadline_reached(err, last):
        return Answer(
            ActionStatus.EXPIRED,
            reason=f"not sent before its deadline ({message}); it was never sent and will not be",
            api_requests=progress.requests,
            state=last_state,
        )
    return Answer(
        ActionStatus.FAILED,
        reason=describe_activity_failure(err, "sending the action"),
        api_requests=progress.requests,
        state=last_state,
    )


def confirm_failed_without_look(
    err: ActivityError, progress: ConfirmProgress, *, sent_requests: int, sent_at: datetime
) -> Answer:
    """A confirmation that ended without seeing the outcome: failed, with what was last seen."""
    last = progress.last
    known = ""
    if last is not None:
        known = f"; the lock last showed {last.name}"
        if not last.online:
            known += (
                f" and was offline (serverState {last.server_state}): the cloud may still "
                "deliver the action when the lock is back"
            )
        elif progress.seen_running:
            known += " after it had started"
    if deadline_reached(err, innermost(err)[0]):
        reason = (
            f"unconfirmed: sent at {sent_at:%H:%M:%S} UTC (Nuki accepted it) but not seen "
            f"completed by the deadline{known}"
        )
    else:
        reason = describe_activity_failure(err, "confirming the action") + known
    return Answer(
        ActionStatus.FAILED,
        reason=reason,
        sent_at=sent_at,
        api_requests=sent_requests + progress.requests,
        state=None if last is None else last.state,
    )
