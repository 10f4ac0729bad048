"""The one place Nuki client errors become Temporal activity failures.

The error class decides (see :mod:`activities.nuki_errors`): retryable errors are retried by the
activity's retry policy, the rest end the activity at once. 423 is expected while an operation
is pending, so it is marked benign (no error logs or failure metrics for it).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from nukiflow.activities.nuki_errors import NukiError, NukiLockedError, NukiRateLimitedError

# The error types the workflows look at (ApplicationError.type) live in the contracts, so the
# workflows read them without importing this side; named here too for the activities.
from nukiflow.contracts.activity_errors import (
    CONFLICT,
    DEADLINE_PASSED,
    LOCK_OFFLINE,
    LOCKED,
    NOT_FOUND,
    OPERATION_PENDING,
)

__all__ = [
    "CONFLICT",
    "DEADLINE_PASSED",
    "LOCKED",
    "LOCK_OFFLINE",
    "NOT_FOUND",
    "OPERATION_PENDING",
    "final",
    "pending",
    "to_application_error",
]


def to_application_error(exc: NukiError) -> ApplicationError:
    next_delay: timedelta | None = None
    if isinstance(exc, NukiRateLimitedError) and exc.retry_after is not None:
        next_delay = timedelta(seconds=exc.retry_after)
    return ApplicationError(
        exc.message,
        type=type(exc).__name__,
        non_retryable=not exc.retryable,
        next_retry_delay=next_delay,
        category=(
            ApplicationErrorCategory.BENIGN
            if isinstance(exc, NukiLockedError)
            else ApplicationErrorCategory.UNSPECIFIED
        ),
    )


def pending(message: str, kind: str = OPERATION_PENDING) -> ApplicationError:
    """A retryable, expected failure used for slow polling through the retry policy."""
    return ApplicationError(message, type=kind, category=ApplicationErrorCategory.BENIGN)


def final(message: str, kind: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)
