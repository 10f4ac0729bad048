"""What Temporal's record of a failed lock-action activity proves (deterministic, no I/O).

An activity that ends without a result reaches the workflow as an :class:`ActivityError` whose
cause chain is what Temporal recorded: the last attempt's reported failure, or the timeout that
ended it (with the failure of the attempt before it, if that one reported). Heartbeat details
travel asynchronously and prove nothing either way; the report an attempt made when it failed
travels with the failure itself.
"""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

from nukiflow.contracts.action_io import SendProgress, progress_from
from nukiflow.contracts.names import DEADLINE_PASSED_ERROR


def innermost(err: ActivityError) -> tuple[ApplicationError | None, ActivityTimeoutError | None]:
    """The last attempt's application error and the timeout that ended the activity, if any."""
    timeout: ActivityTimeoutError | None = None
    cause: BaseException | None = err.cause
    while cause is not None:
        if isinstance(cause, ActivityTimeoutError) and timeout is None:
            timeout = cause
        elif isinstance(cause, ApplicationError):
            return cause, timeout
        cause = getattr(cause, "cause", None)
    return None, timeout


def deadline_reached(err: ActivityError, last: ApplicationError | None) -> bool:
    """The activity ended at its deadline: a timeout, no time left for the next retry, or an
    attempt that refused because the deadline had passed."""
    if err.retry_state is RetryState.TIMEOUT:
        return True
    _, timeout = innermost(err)
    return timeout is not None or (last is not None and last.type == DEADLINE_PASSED_ERROR)


def unsent_proof(err: ActivityError) -> SendProgress | None:
    """The closing report of the last send attempt, when Temporal's record proves that no
    attempt reached its POST; None when one may have.

    An attempt that reports its failure hands over its progress in the failure's details,
    which travel with the report itself; it set ``maybe_sent`` for its own unclear POST and
    for any predecessor whose closing report it did not see. An attempt that started and
    never reported (worker killed, timed out) may have sent: the record shows it as a started
    attempt ended by a timeout. Heartbeat details are not evidence either way.
    """
    cause = err.cause
    if isinstance(cause, ApplicationError):
        reported = cause
    elif isinstance(cause, ActivityTimeoutError):
        if err.started_event_id != 0:
            return None  # the last attempt started and never reported back
        if cause.cause is None:
            return SendProgress()  # no attempt ever started
        if not isinstance(cause.cause, ApplicationError):
            return None  # an earlier attempt ended without a report
        reported = cause.cause
    else:
        return None  # cancelled or terminated mid-attempt
    progress = progress_from(reported.details, SendProgress)
    if progress is None or progress.maybe_sent:
        return None
    return progress


def unclear_send(err: ActivityError) -> str:
    """Why a send may have reached Nuki, as Temporal recorded it."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type == DEADLINE_PASSED_ERROR:
        why = (
            "an earlier attempt got no clear answer (a 5xx, a lost connection, or no report at "
            "all: its worker may have stopped during the call), and the next came after the "
            "deadline"
        )
    elif isinstance(cause, ApplicationError):
        why = f"no clear answer (the last attempt reported: {cause.message})"
    elif isinstance(cause, ActivityTimeoutError) and err.started_event_id != 0:
        why = (
            "it started and never reported back (its worker may have stopped during the "
            "call, or Nuki held the answer back)"
        )
    else:
        why = (
            "an earlier attempt ended without a report (its worker may have stopped during the "
            "call, or Nuki held the answer back)"
        )
    return f"a send attempt may have reached Nuki: {why}"


def failure_details(err: ActivityError) -> list[Any]:
    """The last reported failure's details, then the last heartbeat's: what the activity said
    of its progress (requests made, the state last seen), never proof of what it did not do."""
    last, timeout = innermost(err)
    values: list[Any] = []
    if last is not None:
        values.extend(last.details)
    if timeout is not None:
        values.extend(timeout.last_heartbeat_details)
    return values
