"""Timeouts and retry policies of the fleet activities (rollout items, a grant's create, change,
revocation and late look), made from the rollout options and grant timings.

The rollout and access-grant workflows take every duration they hand Temporal from here, each
named with the reason it has the value it has.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from temporalio.common import RetryPolicy

from nukiflow.contracts.access import GrantTiming
from nukiflow.contracts.auth import MAX_CHANGE_DEADLINE
from nukiflow.contracts.rollout_plan import RolloutOptions

# An item's (or a grant change's) activity may run this much longer than the change's own
# deadline: its auth's workflow answers "failed: deadline" by then, and the margin covers the
# calls around it (starting the workflow, reading the outcome).
ACTIVITY_MARGIN: Final = timedelta(minutes=10)
# Between the re-askings of a change still in progress: doubling up to the maximum.
POLL_BACKOFF: Final = 2.0
# A grant's create gets at least this long even when its window is about to end, so a code
# for the last seconds of a window is still tried once (Nuki applies it within a second or
# two); at most the longest deadline of any change.
MIN_CREATE_DEADLINE: Final = timedelta(seconds=1)
MAX_CREATE_DEADLINE: Final = MAX_CHANGE_DEADLINE
# One look for a code a failed create may still have made: two reads, each far below this.
FIND_AUTH_ATTEMPT: Final = timedelta(seconds=60)
# All retries of that look together: a day of Nuki refusing the listing ends the look (the
# grant then says so in its reason) instead of holding the grant open for good.
FIND_AUTH_WINDOW: Final = timedelta(hours=24)
# Revocation is an obligation: its activity is retried without limit (0 = unlimited attempts).
UNLIMITED_ATTEMPTS: Final = 0


def item_start_to_close(deadline: timedelta) -> timedelta:
    """One attempt of an item's activity: its change's deadline plus the margin."""
    return deadline + ACTIVITY_MARGIN


def item_schedule_to_close(deadline: timedelta) -> timedelta:
    """All attempts of an item's activity: an attempt may start just before the deadline and
    wait for the change's verdict, which comes by the deadline plus the margin."""
    return 2 * deadline + ACTIVITY_MARGIN


def rollout_item_policy(options: RolloutOptions) -> RetryPolicy:
    """Retries of an item's activity, also the re-asking of an item still in progress."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=options.item_poll_initial_seconds),
        backoff_coefficient=POLL_BACKOFF,
        maximum_interval=timedelta(seconds=options.item_poll_max_seconds),
    )


def grant_poll_policy(timing: GrantTiming) -> RetryPolicy:
    """Retries of API/Temporal errors, and the re-asking of a change still in progress."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=timing.poll_initial_seconds),
        backoff_coefficient=POLL_BACKOFF,
        maximum_interval=timedelta(seconds=timing.poll_max_seconds),
    )


def revoke_policy(timing: GrantTiming) -> RetryPolicy:
    """Forever, with a long back-off: the code must go."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=timing.revoke_retry_initial_seconds),
        backoff_coefficient=POLL_BACKOFF,
        maximum_interval=timedelta(seconds=timing.revoke_retry_max_seconds),
        maximum_attempts=UNLIMITED_ATTEMPTS,
    )


def revoke_start_to_close(timing: GrantTiming) -> timedelta:
    """One revocation attempt: its delete's deadline plus the margin."""
    return timedelta(seconds=timing.revoke_attempt_seconds) + ACTIVITY_MARGIN


def grant_heartbeat(timing: GrantTiming) -> timedelta:
    return timedelta(seconds=timing.heartbeat_seconds)


def create_deadline(window_left: timedelta) -> timedelta:
    """A grant's create: until its window ends, within the bounds above."""
    return min(max(window_left, MIN_CREATE_DEADLINE), MAX_CREATE_DEADLINE)
