"""Turning an activity failure into a sentence a person can act on (deterministic, no I/O)."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError, TimeoutType


def describe_activity_failure(err: ActivityError, step: str) -> str:
    """``step`` failed: the innermost application error's message, or the timeout that hit.

    When retries run into the schedule-to-close timeout (the change's deadline), Temporal nests
    the last attempt's failure under the timeout; both are reported.
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
