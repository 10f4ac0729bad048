"""How long each lock-action activity may run and how it is retried, from the timing settings.

The lock workflow takes its activity options from here, so every timeout it sets is a named
setting or an instant the caller fixed, and the arithmetic lives where it can be tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio.common import RetryPolicy

from nukiflow.contracts.action import ActionTiming
from nukiflow.contracts.timing import PollTiming, RetryTiming

# Growth of the pause between the slow confirmation reads after the fast window: the fast
# schedule grows by the same factor, so the reads thin out steadily rather than in a jump.
SLOW_POLL_BACKOFF = 1.5
# A look may be retried once after an attempt that failed: its schedule-to-close leaves room
# for this many more calls beyond the first attempt.
LOOK_RETRY_CALLS = 1


@dataclass(frozen=True)
class ActivityOptions:
    """The timeouts and retry policy of one activity call."""

    start_to_close: timedelta
    schedule_to_close: timedelta
    retry_policy: RetryPolicy
    heartbeat: timedelta | None = None


def call_retry_policy(retry: RetryTiming) -> RetryPolicy:
    """Retries of API calls refused with 423, 429, 5xx or a transport error."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=retry.initial_interval_seconds),
        backoff_coefficient=retry.backoff,
        maximum_interval=timedelta(seconds=retry.max_interval_seconds),
    )


def slow_poll_policy(poll: PollTiming) -> RetryPolicy:
    """After the confirmation's fast window: one read per attempt, further and further apart."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=poll.slow_initial_interval_seconds),
        backoff_coefficient=SLOW_POLL_BACKOFF,
        maximum_interval=timedelta(seconds=poll.slow_max_interval_seconds),
    )


def send_options(
    timing: ActionTiming, retry: RetryTiming, deadline: datetime, now: datetime
) -> ActivityOptions:
    """``nuki.action.send``: one call per attempt, retried until the deadline.

    An attempt that starts after the deadline refuses to send and reports so; the report margin
    (at most one call) lets the record say so rather than end in a timeout.
    """
    call = timedelta(seconds=timing.call_timeout_seconds)
    margin = min(timedelta(seconds=timing.report_margin_seconds), call)
    return ActivityOptions(
        start_to_close=call,
        schedule_to_close=deadline - now + margin,
        retry_policy=call_retry_policy(retry),
    )


def confirm_options(
    timing: ActionTiming, poll: PollTiming, until: datetime, now: datetime
) -> ActivityOptions:
    """``nuki.action.confirm``: the first attempt polls for the fast window (plus one call to
    finish its last read), later ones read once on the slow schedule, all until ``until``."""
    return ActivityOptions(
        start_to_close=timedelta(seconds=poll.fast_window_seconds + timing.call_timeout_seconds),
        schedule_to_close=until - now,
        retry_policy=slow_poll_policy(poll),
        heartbeat=timedelta(seconds=poll.heartbeat_timeout_seconds),
    )


def look_options(
    timing: ActionTiming,
    poll: PollTiming,
    retry: RetryTiming,
    until: datetime | None,
    now: datetime,
) -> ActivityOptions:
    """``nuki.action.look``: looks until ``until`` (or once, when None), then one call more to
    finish the last look; a failed attempt may be retried within ``LOOK_RETRY_CALLS`` calls."""
    call = timedelta(seconds=timing.call_timeout_seconds)
    span = timedelta(0) if until is None else max(until - now, timedelta(0))
    return ActivityOptions(
        start_to_close=span + call,
        schedule_to_close=span + call + LOOK_RETRY_CALLS * call,
        retry_policy=call_retry_policy(retry),
        heartbeat=timedelta(seconds=poll.heartbeat_timeout_seconds),
    )
