"""How long each lock takes to apply an auth operation, learned by this worker, so the first
read after a write comes when the operation is likely done.

Polling at once and then every 0.25 s growing to 0.5 s costs a lock that takes one second
three or four reads per change. A lock takes about the same time for each operation, so after a
write the wait starts with one pause of the time the lock's last operations took (from the
write's ``204`` to the read that saw it settled), then polls fast as before. The estimate only
times reads: every operation is still read back until no operation is pending, so a wrong
estimate costs latency (too long) or a read (too short), never a verdict.

A lock this worker has not seen yet starts from the locks it has (a running average of
their times): locks of one fleet take similar times. A worker that has timed no lock yet lets
one wait time a lock for all of them (``before_first_read``): that wait reads first after one
fast polling interval (a read the moment the ``204`` is back only ever finds the operation
pending) and polls fast; the waits that begin meanwhile read first once it has seen its lock
settle, at the time that lock took, or after the timing's cold pace ("a few seconds", what Nuki
says an online operation takes) if it has not by then. A rollout's first writes to a hundred
locks all start cold: polled fast, each would cost three or four reads at a 1 s device time;
this way one costs that and the others one. A wait under way also takes up the first time any
lock is seen to take (``poll_until``'s ``pause``).

The estimate follows the lock both ways: when the first reads of ``SHRINK_AFTER`` operations in
a row find them settled, the next pause is a little shorter (the lock may have got faster);
when one finds it still pending, the pause becomes the time the operation really took. A
lock that takes the same time every time is read too early only every so often, each such
miss costing a read: shortening after every operation made that every two or three
operations of a lock timed closely, shortening after three in a row makes it a third as
often, and a lock that did get faster is followed a third as fast (latency, not reads: Nuki
rate-limits requests). It lives in the worker's memory only
(a restarted worker polls at once until it has seen the lock again), bounded to
``MAX_LOCKS`` locks, least recently used first out.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict

from nukiflow.contracts.timing import PollTiming

# Locks whose pace one worker keeps, and writes whose 204 time it keeps until their wait.
MAX_LOCKS = 10_000
MAX_WRITES = 10_000
# After first reads that found this many operations in a row settled, the next pause is
# SHRINK times shorter.
SHRINK = 0.98
SHRINK_AFTER = 3
# A pause never longer than this share of the fast window (the fast polls keep the rest).
MAX_SHARE_OF_WINDOW = 0.5
# Weight of the newest time in the average that starts a lock not seen yet.
FLEET_WEIGHT = 0.2


class DevicePace:
    def __init__(self) -> None:
        self._pace: OrderedDict[int, float] = OrderedDict()
        # Per lock, its operations in a row whose first read found them settled.
        self._streak: dict[int, int] = {}
        self._written: OrderedDict[tuple[int, str], float] = OrderedDict()
        self._fleet: float | None = None
        # Until when (time.monotonic()) one wait is timing a lock for a worker that has timed
        # none: the waits beginning meanwhile wait for it.
        self._probing_until = 0.0
        # Waits (lock, write time) whose first read went out only because the cold pace had
        # passed: a first read of theirs that finds the operation settled bounds the lock's time
        # from above, loosely, and teaches nothing.
        self._untimed: OrderedDict[tuple[int, float], bool] = OrderedDict()

    def wrote(self, smartlock_id: int, key: str, *, at: float | None = None) -> None:
        """A write to ``key`` (an auth id, or a create's marker) on the lock was accepted now
        (or at ``at``, ``time.monotonic()``)."""
        self._written[(smartlock_id, key)] = time.monotonic() if at is None else at
        self._written.move_to_end((smartlock_id, key))
        while len(self._written) > MAX_WRITES:
            self._written.popitem(last=False)

    def written_at(self, smartlock_id: int, key: str) -> float | None:
        """When the write this wait follows was accepted (None: not sent by this worker)."""
        return self._written.pop((smartlock_id, key), None)

    def first_pause(
        self, smartlock_id: int, since: float, window: float, *, cold: float = 0.0
    ) -> float:
        """Seconds to wait from now before the first read of an operation written at ``since``;
        ``cold``: the time to assume while this worker has timed no lock at all (the callers
        pass one fast polling interval: no lock applies an operation the moment its ``204``
        comes back, so a read at once only ever finds it pending)."""
        pace = self._pace.get(smartlock_id)
        if pace is None:
            pace = self._fleet
            if pace is None:
                pace = cold
        else:
            self._pace.move_to_end(smartlock_id)
        pause = min(pace, window * MAX_SHARE_OF_WINDOW) - (time.monotonic() - since)
        return max(pause, 0.0)

    async def before_first_read(
        self,
        smartlock_id: int,
        since: float,
        timing: PollTiming,
        *,
        latest: float | None = None,
    ) -> None:
        """Wait until the first read of an operation written at ``since`` is due.

        From ``timing``: the fast window (a pause never takes more than its share), the pause
        of the wait that times a lock while this worker has timed none (one fast polling
        interval) and the longest the others wait for it (the cold pace, never shorter than
        that interval). ``latest``: the instant (``time.monotonic()``) the first read must go
        out by whatever else is known (the caller's share of the time its attempt has left).
        Every wait still polls on until it sees its own operation settle: this only decides
        when the first read goes out.
        """
        window, probe = timing.fast_window_seconds, timing.fast_first_interval_seconds
        cold = max(timing.cold_pace_seconds, probe)

        def left() -> float:
            return math.inf if latest is None else latest - time.monotonic()

        if smartlock_id not in self._pace and self._fleet is None:
            now = time.monotonic()
            if now >= self._probing_until:
                self._probing_until = now + cold
            else:
                # Another wait is timing a lock right now: its result, or the cold pace.
                until = since + min(cold, window * MAX_SHARE_OF_WINDOW)
                while self._fleet is None and smartlock_id not in self._pace:
                    wait = min(until - time.monotonic(), left())
                    if wait <= 0:
                        self._untimed[(smartlock_id, since)] = True
                        while len(self._untimed) > MAX_WRITES:
                            self._untimed.popitem(last=False)
                        return
                    await asyncio.sleep(min(probe, wait) if probe > 0 else wait)
        pause = min(self.first_pause(smartlock_id, since, window, cold=probe), left())
        if pause > 0:
            await asyncio.sleep(pause)

    def settled(self, smartlock_id: int, since: float, *, first_read: bool, at: float) -> None:
        """The operation written at ``since`` was seen settled by a read sent at ``at`` (all
        ``time.monotonic()``); ``first_read``: the first read after the write saw it."""
        if self._untimed.pop((smartlock_id, since), False) and first_read:
            return  # read late only because nothing was known: no measure of the lock
        took = at - since
        pace = self._pace.get(smartlock_id)
        streak = 0
        if pace is not None and first_read:
            streak = self._streak.get(smartlock_id, 0) + 1
            took = min(took, pace)
            if streak >= SHRINK_AFTER:
                took, streak = took * SHRINK, 0
        self._streak[smartlock_id] = streak
        self._pace[smartlock_id] = took
        self._fleet = (
            took if self._fleet is None else (self._fleet + FLEET_WEIGHT * (took - self._fleet))
        )
        self._pace.move_to_end(smartlock_id)
        while len(self._pace) > MAX_LOCKS:
            evicted, _ = self._pace.popitem(last=False)
            self._streak.pop(evicted, None)
