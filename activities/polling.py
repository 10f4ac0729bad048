"""Hybrid polling for operations that take seconds normally and hours when a lock is offline.

Inside one activity attempt we poll fast (sub-second, growing to a second) for a bounded window,
heartbeating from a keeper beside the poll once half the heartbeat timeout has passed
(:mod:`activities.heartbeats`: a change the lock applies in a second or two costs the server no
heartbeat), so a dead worker is noticed within the heartbeat timeout, cancellation gets through,
and neither a hanging read nor a ``Retry-After`` sleep can outlast the timeout. If the operation
is still pending after the window, the attempt fails on purpose with a benign
``OperationPending`` error and the activity's retry policy polls slowly from then on: a lock
offline for hours costs one poll per retry interval and adds no history events, because Temporal
records only the final attempt of an activity.

Transient API failures (5xx, 429, timeouts, 423) inside the fast loop are swallowed: one stray
503 must not turn a 2 s change into a multi-minute one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel
from temporalio import activity

from nukiflow.activities.failures import pending
from nukiflow.activities.heartbeats import heartbeat_timeout_of, keep_alive
from nukiflow.activities.nuki_errors import NukiError, NukiRateLimitedError
from nukiflow.contracts.timing import PollTiming

T = TypeVar("T")


class PollProgress(BaseModel):
    """Carried across attempts in heartbeat details."""

    reads: int = 0


def _progress() -> PollProgress:
    details = activity.info().heartbeat_details
    if details:
        try:
            return PollProgress.model_validate(details[0])
        except (TypeError, ValueError):
            return PollProgress()
    return PollProgress()


async def poll_until(
    read: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    timing: PollTiming,
    what: str,
    *,
    first_wait: Callable[[], Awaitable[None]] | None = None,
    on_settled: Callable[[float, bool], None] | None = None,
    pause: Callable[[], float] | None = None,
) -> tuple[T, int]:
    """Poll ``read`` until ``done`` holds; returns the last value and the reads of all attempts.

    The first attempt polls fast for ``timing.fast_window_seconds``, its first read once
    ``first_wait()`` returns (when the lock is expected to be done); later attempts (the retry
    policy's slow polls) read once. Raises a retryable ``OperationPending`` error otherwise.
    ``on_settled(sent_at, first_read)`` is told when the read that saw it done was sent
    (``time.monotonic()``) and whether it was this attempt's first. ``pause()``: after a read
    that did not see it done, at least how long to wait before the next, asked anew each time:
    the time the lock is expected to take may become known while this polls (a worker that
    has timed no lock yet learns it from the first lock that settles).
    """
    progress = _progress()
    # The keeper heartbeats for the whole poll: through its pauses, its reads (which may hang
    # up to the client's timeout) and its Retry-After sleeps.
    timeout = heartbeat_timeout_of(timing.heartbeat_timeout_seconds)
    async with keep_alive(timeout, lambda: (progress.model_dump(),)):
        return await _poll(read, done, timing, what, progress, first_wait, on_settled, pause)


async def _poll(
    read: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    timing: PollTiming,
    what: str,
    progress: PollProgress,
    first_wait: Callable[[], Awaitable[None]] | None,
    on_settled: Callable[[float, bool], None] | None,
    pause: Callable[[], float] | None,
) -> tuple[T, int]:
    first = activity.info().attempt == 1
    window = timing.fast_window_seconds if first else 0.0
    interval = timing.fast_first_interval_seconds
    started = time.monotonic()
    if first and first_wait is not None:
        await first_wait()
    last_error: NukiError | None = None
    first_read = True
    while True:
        try:
            sent_at = time.monotonic()
            # A read may hang up to the client's timeout: poll_until's keeper heartbeats.
            value = await read()
            progress.reads += 1
            last_error = None
            if done(value):
                if on_settled is not None and first:
                    on_settled(sent_at, first_read)
                return value, progress.reads
        except NukiError as exc:
            progress.reads += 1
            if not exc.retryable:
                raise
            last_error = exc
        first_read = False
        # Honour Nuki's Retry-After: polling faster than advised only earns more 429s.
        wait = interval
        if isinstance(last_error, NukiRateLimitedError) and last_error.retry_after is not None:
            wait = max(wait, last_error.retry_after)
        if pause is not None and first:
            wait = max(wait, pause())
        if time.monotonic() - started + wait > window:
            break
        await asyncio.sleep(wait)
        interval = min(interval * 1.5, timing.fast_max_interval_seconds)
    reason = f"{what} is still pending"
    if last_error is not None:
        reason += f" (last poll: {last_error.message})"
    raise pending(reason)
