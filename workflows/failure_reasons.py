"""Turning an activity failure into a sentence a person can act on (deterministic, no I/O)."""

from __future__ import annotations

from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    RetryState,
    TimeoutError,
    TimeoutType,
)


def describe_activity_failure(err: ActivityError, step: str) -> str:
    """``step`` failed: the innermost application error's message, or the timeout that hit.

    When retries run into the schedule-to-close timeout (the change's deadline), Temporal nests
    the last attempt's failure under the timeout, or, when the next retry would start after the
    deadline, ends with that failure and retry state TIMEOUT; both are reported as the deadline.
    """
    timeout: TimeoutError | None = None
    last: ApplicationError | None = None
    cause: BaseException | None = err.cause
    while cause is not None:
        if isinstance(cause, TimeoutError) and timeout is None:
            timeout = cause
        elif isinstance(cause, ApplicationError):
            last = cause
            break
        cause = cause.__cause__ if not hasattr(cause, "cause") else getattr(cause, "cause", None)
    if timeout is None and err.retry_state is RetryState.TIMEOUT:
        # The next retry would have started after the deadline: Temporal ends the activity
        # with the last attempt's failure instead of a timeout.
        text = f"deadline reached while {step}"
        if last is not None:
            text += f" (last error: {last.message})"
        return text
    if timeout is not None:
        if timeout.type is TimeoutType.SCHEDULE_TO_CLOSE:
            text = f"deadline reached while {step}"
        elif timeout.type is TimeoutType.HEARTBEAT:
            text = f"the worker stopped responding while {step}"
        else:
            text = f"timed out while {step}"
        if last is not None:
            text += f" (last error: {last.message})"
        return text
    if last is not None:
        return f"{step} failed: {last.message}"
    return f"{step} failed: {err.message or type(err).__name__}"
