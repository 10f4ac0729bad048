"""When the confirmation reads the lock's state (pure arithmetic, in seconds after the 204)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from nukiflow.contracts.timing import PollTiming

# Each pause of the fast schedule is this much longer than the one before (up to its cap).
FAST_GROWTH = 1.5


def poll_offsets(
    expected: float | None, probe_fraction: float | None, start: float, timing: PollTiming
) -> Iterator[float]:
    """When to read the lock's state, in seconds after the 204.

    With an expectation (when this lock typically shows the action done, learned by the
    workflow): a probe at ``probe_fraction`` of it when one is asked for, then one at it. At a
    steady action time that is one read (two with the probe), and probes that hit shorten the
    expectation, so it follows a lock that got faster (misses lengthen it through the reads
    that follow). Without one: the fast schedule of :mod:`activities.polling` from ``start``.
    After either, intervals grow by 1.5 up to ``fast_max_interval_seconds``.
    """
    interval = timing.fast_first_interval_seconds
    if expected is not None:
        if probe_fraction is not None:
            yield expected * probe_fraction
        yield expected
        at = expected
    else:
        at = start
    while True:
        at += interval
        yield at
        interval = min(interval * FAST_GROWTH, timing.fast_max_interval_seconds)


def fast_reads(
    expected: float | None, probe_fraction: float | None, start: float, timing: PollTiming
) -> Iterator[tuple[float, float]]:
    """The reads of a confirmation's first attempt, which starts ``start`` seconds after the
    204 and polls for the fast window: each read's offset with the one after it (a caller
    that is late for both makes one read, not two).

    An expectation whose first read falls beyond the window is dropped: the fast schedule
    from ``start`` sees the action sooner than a read that would never be made.
    """
    window_end = start + timing.fast_window_seconds
    if expected is not None and expected * (probe_fraction or 1.0) > window_end:
        expected = None
    offsets = poll_offsets(expected, probe_fraction, start, timing)
    upcoming = next(offsets)
    while upcoming <= window_end:
        offset, upcoming = upcoming, next(offsets)
        yield offset, upcoming


def seconds_since(instant: datetime, now: datetime) -> float:
    return (now - instant).total_seconds()
