"""Timeouts and retry policies of the authorization activities, made from the timing settings.

The entity and create workflows take every timeout and retry policy from here: what a setting
means for Temporal is decided in one place, and no workflow carries a literal duration.
Changing one of these changes only what the next scheduled activity gets (Temporal does not
compare timeouts on replay).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from temporalio.common import RetryPolicy

from nukiflow.contracts.timing import PollTiming, RetryTiming, WorkflowTiming

# The entity's first read of its auth gives up after this long when no change's deadline is
# nearer: a lock account that keeps answering 5xx must not hold the auth's queue for a day.
READ_TIMEOUT: Final = timedelta(minutes=10)
# Waiting for an operation is scheduled with at least this much time, even when the change's
# deadline is (almost) here: Nuki accepted the write, and the answer must say whether it landed.
MIN_AWAIT_WINDOW: Final = timedelta(seconds=1)
# Slow polling (the retry policy's attempts after the first, fast one) grows by half each time:
# gentler than the write back-off, since nothing is wrong while an operation is pending.
SLOW_POLL_BACKOFF: Final = 1.5
# One create attempt may look for an earlier create, check the lock, wait out the rest of an
# earlier create's window, send and wait its own window: up to this many fast windows, plus
# one call.
CREATE_ATTEMPT_WINDOWS: Final = 4


def call_timeout(timing: WorkflowTiming) -> timedelta:
    """How long one attempt of a single API call (a read, a write, a listing) may take."""
    return timedelta(seconds=timing.retry.call_timeout_seconds)


def call_retry_policy(retry: RetryTiming) -> RetryPolicy:
    """Back-off for calls refused with 423, 429, 5xx or a transport error (final errors end the
    activity at once: the activities mark them non-retryable)."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=retry.initial_interval_seconds),
        backoff_coefficient=retry.backoff,
        maximum_interval=timedelta(seconds=retry.max_interval_seconds),
    )


def slow_poll_policy(poll: PollTiming) -> RetryPolicy:
    """The polling after the fast window: every attempt is one more look at the operation."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=poll.slow_initial_interval_seconds),
        backoff_coefficient=SLOW_POLL_BACKOFF,
        maximum_interval=timedelta(seconds=poll.slow_max_interval_seconds),
    )


def heartbeat_timeout(poll: PollTiming) -> timedelta:
    """How fast a polling activity whose worker died is noticed."""
    return timedelta(seconds=poll.heartbeat_timeout_seconds)


def await_attempt_timeout(timing: WorkflowTiming) -> timedelta:
    """One attempt of the wait for an operation: its fast window plus one last read."""
    return timedelta(seconds=timing.poll.fast_window_seconds + timing.retry.call_timeout_seconds)


def await_window(remaining: timedelta) -> timedelta:
    """Schedule-to-close of the wait for an operation: until the deadline, at least
    :data:`MIN_AWAIT_WINDOW`."""
    return max(remaining, MIN_AWAIT_WINDOW)


def read_window(remaining: timedelta) -> timedelta:
    """Schedule-to-close of the entity's first read: until the nearest deadline of its
    changes, at most :data:`READ_TIMEOUT`."""
    return min(remaining, READ_TIMEOUT) if remaining > timedelta(0) else READ_TIMEOUT


# The fast path's one attempt may check the lock, send the write and read the auth once more
# after its window: this many calls beside the window.
WRITE_SETTLE_CALLS: Final = 2


def write_settle_attempt_timeout(timing: WorkflowTiming) -> timedelta:
    """The fast path's single attempt: its window plus :data:`WRITE_SETTLE_CALLS` calls. A
    worker killed meanwhile is noticed by the heartbeat timeout long before."""
    return timedelta(
        seconds=timing.poll.fast_window_seconds
        + WRITE_SETTLE_CALLS * timing.retry.call_timeout_seconds
    )


def read_write_settle_attempt_timeout(timing: WorkflowTiming) -> timedelta:
    """The first change's single attempt: the fast path's, and one call more for the base read
    (a listing of the lock, or the auth's own read)."""
    return write_settle_attempt_timeout(timing) + call_timeout(timing)


def single_attempt() -> RetryPolicy:
    """No retries: what the attempt did not do, the entity's path through ``nuki.auth.write``
    and ``nuki.auth.await`` does, with their retry policies."""
    return RetryPolicy(maximum_attempts=1)


def create_attempt_timeout(timing: WorkflowTiming) -> timedelta:
    """One attempt of the create activity (see :data:`CREATE_ATTEMPT_WINDOWS`)."""
    return timedelta(
        seconds=CREATE_ATTEMPT_WINDOWS * timing.poll.fast_window_seconds
        + timing.retry.call_timeout_seconds
    )
