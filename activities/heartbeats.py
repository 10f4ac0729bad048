"""When an activity heartbeats: once it has run for half its heartbeat timeout, not before.

A heartbeat is a request the Temporal server persists (``RecordActivityTaskHeartbeat``). The
SDK sends an attempt's first heartbeat at once and throttles the later ones to one per 0.8x the
heartbeat timeout, so an activity that heartbeats early in every attempt costs the server one
write per attempt although it finishes long before anyone could take it for dead. Most of
nukiflow's activities finish within a second or two (one write, one read, a device delay), so
they ask :func:`heartbeat_when_due` instead of heartbeating outright: nothing is sent during the
first half of the heartbeat timeout, and from then on every call heartbeats (the SDK's throttle
spaces them). Time is counted from the attempt's start as the server recorded it
(``activity.info().started_time``), so an attempt whose work begins late (after a slow request)
is not given more time than it has; the worker's clock must agree with the server's within a
small part of the timeout (NTP does).

Two shapes ask it. An attempt with progress to carry (the create, every poll) runs under
:func:`keep_alive`: a task beside the attempt that heartbeats whenever one is due, with the
attempt's current details, whatever the attempt is waiting on (a request hanging up to the
HTTP client's timeout, a ``Retry-After`` sleep). A single call awaited on its own goes through
:func:`heartbeat_through`, which wakes at the due instant (:func:`heartbeat_wait`). Either way
the first heartbeat leaves half the timeout before the server would time the attempt out, and
the later ones keep the SDK's usual 0.2x.

The trade: cancellation reaches an activity only with the answer to a heartbeat, so an attempt
learns it was cancelled at its first heartbeat, after half its heartbeat timeout (before: a
third), and every 0.8x the timeout after that, as before. A heartbeat's details (progress
carried to the next attempt) reach the server no sooner either: an attempt that dies in its
first half-timeout leaves the previous heartbeat's details, which every reader here treats as
possibly stale already.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from temporalio import activity

T = TypeVar("T")

# The share of the heartbeat timeout an attempt runs before its first heartbeat.
FIRST_HEARTBEAT_SHARE = 0.5
# The share of an attempt's time left that a wait for a first read may take.
FIRST_READ_SHARE = 0.5
# The shortest pause a waiting loop takes before it asks again.
MIN_WAIT = 0.05


def attempt_seconds() -> float:
    """How long this attempt has run, from its start as the server recorded it."""
    started = activity.info().started_time
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return max(0.0, (datetime.now(UTC) - started).total_seconds())


def attempt_seconds_left() -> float | None:
    """How long this attempt may still run before Temporal times it out (start-to-close, or
    the activity's schedule-to-close counted from its first scheduling); None: unbounded."""
    info = activity.info()
    left: list[float] = []
    if info.start_to_close_timeout:
        left.append(info.start_to_close_timeout.total_seconds() - attempt_seconds())
    if info.schedule_to_close_timeout:
        scheduled = info.scheduled_time
        if scheduled.tzinfo is None:
            scheduled = scheduled.replace(tzinfo=UTC)
        ends = scheduled + info.schedule_to_close_timeout
        left.append((ends - datetime.now(UTC)).total_seconds())
    return max(0.0, min(left)) if left else None


def first_read_by() -> float | None:
    """The instant (``time.monotonic()``) a wait before a first read must end: half the time
    this attempt has left, so the read and what follows it still fit (None: no bound)."""
    left = attempt_seconds_left()
    return None if left is None else time.monotonic() + left * FIRST_READ_SHARE


def first_heartbeat_in(timeout_seconds: float) -> float:
    """Seconds until this attempt's first heartbeat is due (0: due now)."""
    return max(0.0, timeout_seconds * FIRST_HEARTBEAT_SHARE - attempt_seconds())


def heartbeat_when_due(timeout_seconds: float, *details: Any) -> bool:
    """Heartbeat (with ``details``) if the attempt has run for half its heartbeat timeout;
    whether it did."""
    if first_heartbeat_in(timeout_seconds) > 0:
        return False
    activity.heartbeat(*details)
    return True


def heartbeat_wait(timeout_seconds: float, every: float) -> float:
    """How long a waiting loop that heartbeats every ``every`` seconds may wait before it asks
    :func:`heartbeat_when_due` again: until the first heartbeat is due, then ``every``."""
    first = first_heartbeat_in(timeout_seconds)
    return every if first <= 0 else max(first, MIN_WAIT)


async def heartbeat_through(call: Awaitable[T], timeout_seconds: float, *details: Any) -> T:
    """Await ``call`` (a request that may hang up to its own timeout), heartbeating when due
    meanwhile: the first heartbeat must not wait for the answer when it falls due."""
    task = asyncio.ensure_future(call)
    every = max(timeout_seconds / 3, 0.1)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=heartbeat_wait(timeout_seconds, every))
            if done:
                return task.result()
            heartbeat_when_due(timeout_seconds, *details)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


def heartbeat_timeout_of(fallback: float) -> float:
    """This attempt's heartbeat timeout in seconds as it was scheduled (``fallback`` when it
    was scheduled without one)."""
    timeout = activity.info().heartbeat_timeout
    return timeout.total_seconds() if timeout else fallback


@contextlib.asynccontextmanager
async def keep_alive(
    timeout_seconds: float, details: Callable[[], tuple[Any, ...]] = tuple
) -> AsyncIterator[None]:
    """While the block runs, heartbeat whenever one is due (the first once half the timeout has
    passed, then every third of it; the SDK throttles), with ``details()`` as they are then:
    no wait inside the block can outlast the heartbeat timeout, and nothing is sent for an
    attempt that ends in its first half-timeout."""
    every = max(timeout_seconds / 3, 0.1)

    async def beat() -> None:
        while True:
            await asyncio.sleep(heartbeat_wait(timeout_seconds, every))
            heartbeat_when_due(timeout_seconds, *details())

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
