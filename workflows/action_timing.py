"""When the lock workflow looks and until when (deterministic, no I/O): the action times it
learns from a lock, the confirmation's early probe, which log entries count as an action's, and
the instants that bound its confirmation and the settling of an unclear send.

The confirmation learns from this lock: it reads the state at the time the action typically
takes here to show as done (median of recent samples), and on every fourth action first at 90%
of it, so a steady lock costs three requests per action (GET + POST + one GET; four with the
probe) and a lock that got faster is followed within a few actions.
"""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta

from nukiflow.contracts.action import ActionTiming
from nukiflow.contracts.timing import PollTiming

# Per action: seconds from the 204 to the first state read that showed it done, newest last.
Samples = dict[str, list[float]]


def learned(samples: Samples) -> dict[str, float]:
    """Per action: the median of its recent samples (an outlier does not move it)."""
    return {k: statistics.median(v) for k, v in sorted(samples.items()) if v}


def expected_seconds(samples: Samples, action: str) -> float | None:
    """When this lock typically shows ``action`` done; for an action not done here yet,
    the quickest learned one (too early costs a read, too late costs the caller time)."""
    times = learned(samples)
    if action in times:
        return times[action]
    return min(times.values()) if times else None


def add_sample(samples: Samples, action: str, seconds: float, kept: int) -> None:
    """Keep ``seconds`` (to the millisecond) among the last ``kept`` samples of ``action``."""
    kept_samples = samples.setdefault(action, [])
    kept_samples.append(round(seconds, 3))
    del kept_samples[:-kept]


def probe_fraction(timing: ActionTiming, number: int) -> float | None:
    """Probe early on every ``probe_every``-th action only: the probe is what lets the
    expectation shrink, and the other actions save its read."""
    return timing.probe_fraction if number % timing.probe_every == 0 else None


def log_window_start(
    first_try_at: datetime, timing: ActionTiming, last_settled_at: datetime | None
) -> datetime:
    """From when on log entries of the action are taken as this action's, should a retry have to
    decide whether it already ran: its first send attempt less Nuki's clock skew, and never
    before the previous action that reached the lock was seen completed."""
    since = first_try_at - timedelta(seconds=timing.log_clock_skew_seconds)
    if last_settled_at is not None and last_settled_at > since:
        return last_settled_at
    return since


def confirm_until(deadline: datetime, now: datetime, poll: PollTiming) -> datetime:
    """The deadline bounds confirmation too, but an action sent just before it still gets the
    fast polling window: otherwise it would be reported unconfirmed while it runs."""
    return max(deadline, now + timedelta(seconds=poll.fast_window_seconds))


def settle_until(deadline: datetime, now: datetime, timing: ActionTiming) -> datetime:
    """How long a send that may have reached Nuki is looked for in the lock's log: the
    deadline (or now, when that has passed) plus the grace period."""
    return max(deadline, now) + timedelta(seconds=timing.settle_grace_seconds)
