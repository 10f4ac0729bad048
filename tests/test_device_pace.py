"""The per-lock pace that times the first read after a write (activities/device_pace.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from temporalio.testing import ActivityEnvironment

from nukiflow.activities import device_pace, polling
from nukiflow.activities.device_pace import MAX_LOCKS, SHRINK, SHRINK_AFTER, DevicePace
from nukiflow.contracts.timing import PollTiming

NOW = 1000.0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pace's clock stands still at ``NOW``: pauses come out exact, however slowly the
    test runs."""
    monkeypatch.setattr(device_pace, "time", SimpleNamespace(monotonic=lambda: NOW))


def test_an_unknown_lock_of_an_unknown_fleet_is_read_after_the_cold_pause(clock: None) -> None:
    pace = DevicePace()
    assert pace.first_pause(1, NOW, 20.0) == 0.0
    assert pace.first_pause(1, NOW - 0.1, 20.0, cold=0.25) == pytest.approx(0.15)
    assert pace.first_pause(1, NOW - 1.1, 20.0, cold=0.25) == 0.0
    assert pace.written_at(1, "a") is None


def test_the_first_read_waits_for_the_time_the_lock_took_minus_what_passed(clock: None) -> None:
    pace = DevicePace()
    since = NOW - 0.5
    pace.settled(1, since, first_read=False, at=since + 2.0)
    assert pace.first_pause(1, since, 20.0) == pytest.approx(1.5)
    # Never more than half the fast window: the fast polls keep the rest.
    assert pace.first_pause(1, NOW, 2.0) == pytest.approx(1.0)


def test_a_first_read_that_finds_it_done_shortens_the_next_pause_a_miss_lengthens_it(
    clock: None,
) -> None:
    pace = DevicePace()
    base = NOW
    pace.settled(1, base, first_read=False, at=base + 2.0)
    # Shorter only once SHRINK_AFTER operations in a row were found settled at the first read.
    for _ in range(SHRINK_AFTER - 1):
        pace.settled(1, base, first_read=True, at=base + 2.0)
        assert pace.first_pause(1, NOW, 20.0) == pytest.approx(2.0)
    pace.settled(1, base, first_read=True, at=base + 2.0)
    assert pace.first_pause(1, NOW, 20.0) == pytest.approx(2.0 * SHRINK)
    # A miss breaks the run and sets the time the operation really took.
    pace.settled(1, base, first_read=True, at=base + 2.0)
    pace.settled(1, base, first_read=False, at=base + 3.0)
    assert pace.first_pause(1, NOW, 20.0) == pytest.approx(3.0)
    for _ in range(SHRINK_AFTER - 1):
        pace.settled(1, base, first_read=True, at=base + 3.0)
    assert pace.first_pause(1, NOW, 20.0) == pytest.approx(3.0)


def test_a_lock_not_seen_yet_starts_from_the_others(clock: None) -> None:
    pace = DevicePace()
    pace.settled(1, NOW, first_read=False, at=NOW + 1.0)
    assert pace.first_pause(2, NOW, 20.0) == pytest.approx(1.0)


def test_memory_is_bounded() -> None:
    pace = DevicePace()
    base = time.monotonic()
    for lock in range(MAX_LOCKS + 10):
        pace.settled(lock, base, first_read=False, at=base + 1.0)
        pace.wrote(lock, "a")
    assert len(pace._pace) == MAX_LOCKS
    assert len(pace._written) <= MAX_LOCKS
    assert pace.written_at(MAX_LOCKS + 9, "a") is not None
    assert pace.written_at(0, "a") is None


async def test_a_poll_begun_before_any_lock_was_timed_waits_once_one_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker that has timed no lock polls its first writes at once and fast; when another
    lock settles meanwhile, the next read waits for the time that lock took instead of
    polling on (the pauses asked of the sleep are recorded, no time passes)."""
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(polling, "asyncio", SimpleNamespace(sleep=sleep))
    timing = PollTiming()

    async def poll(learn: bool) -> int:
        pace, since, reads = DevicePace(), time.monotonic(), 0

        async def read() -> bool:
            nonlocal reads
            reads += 1
            if reads == 2 and learn:
                # Another lock's operation settled after 5 s: the fleet's time is known.
                pace.settled(2, since - 5.0, first_read=False, at=since)
            return reads == 3

        def pause() -> float:
            return pace.first_pause(1, since, timing.fast_window_seconds)

        async def run() -> int:
            _, n = await polling.poll_until(read, bool, timing, "the operation", pause=pause)
            return n

        return await ActivityEnvironment().run(run)

    assert await poll(learn=False) == 3
    assert waits == [0.25, 0.375], "nothing known: fast polls"
    waits.clear()
    assert await poll(learn=True) == 3
    assert waits[0] == 0.25
    assert waits[1] > 4.0, "the second read waits for the time the other lock took"


def timing(window: float, probe: float, cold: float) -> PollTiming:
    return PollTiming(
        fast_window_seconds=window, fast_first_interval_seconds=probe, cold_pace_seconds=cold
    )


class FakeTime:
    """A clock that moves only when the pace sleeps; ``at`` runs a step once it is reached."""

    def __init__(self) -> None:
        self.now = NOW
        self.sleeps: list[float] = []
        self.steps: list[tuple[float, Callable[[], None]]] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds
        for step in [s for s in self.steps if s[0] <= self.now]:
            self.steps.remove(step)
            step[1]()
        await asyncio.sleep(0)


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(device_pace, "time", fake)
    monkeypatch.setattr(device_pace, "asyncio", SimpleNamespace(sleep=fake.sleep))
    return fake


async def test_a_cold_worker_times_one_lock_and_the_other_waits_take_its_time(
    fake_time: FakeTime,
) -> None:
    pace = DevicePace()
    # The first wait of a worker that has timed nothing probes: one fast interval.
    await pace.before_first_read(1, NOW, timing(20.0, 0.25, 2.0))
    assert fake_time.sleeps == [0.25]
    # A second wait begins while the first polls; the first's lock is seen settled 1.2 s
    # after its write: the second then reads when that time has passed since its own write.
    fake_time.sleeps.clear()
    since = fake_time.now
    fake_time.steps.append(
        (NOW + 1.0, lambda: pace.settled(1, NOW, first_read=False, at=NOW + 1.2))
    )
    await pace.before_first_read(2, since, timing(20.0, 0.25, 2.0))
    assert fake_time.now == pytest.approx(since + 1.2)
    assert sum(fake_time.sleeps) < 2.0 - 0.25


async def test_waits_read_after_the_cold_pace_when_no_lock_gets_timed(
    fake_time: FakeTime,
) -> None:
    pace = DevicePace()
    await pace.before_first_read(1, NOW, timing(20.0, 0.25, 2.0))
    # The probing wait's lock never settles: the others read when the cold pace has passed
    # since their write.
    since = fake_time.now
    await pace.before_first_read(2, since, timing(20.0, 0.25, 2.0))
    assert fake_time.now == pytest.approx(since + 2.0)
    since = fake_time.now - 0.5
    await pace.before_first_read(3, since, timing(2.0, 0.25, 2.0))
    # The cold pace has passed since the probe began: this wait probes in turn.
    assert fake_time.now == pytest.approx(since + 0.5)


async def test_a_wait_on_a_timed_lock_waits_its_time_only(fake_time: FakeTime) -> None:
    pace = DevicePace()
    pace.settled(1, NOW - 3.0, first_read=False, at=NOW - 2.0)
    await pace.before_first_read(1, NOW, timing(20.0, 0.25, 2.0))
    assert fake_time.sleeps == [1.0]


async def test_no_wait_outlasts_the_instant_the_first_read_is_due_by(fake_time: FakeTime) -> None:
    pace = DevicePace()
    await pace.before_first_read(1, NOW, timing(20.0, 0.25, 2.0))  # the probe
    since = fake_time.now
    # A follower whose attempt has 0.6 s of its share left reads then, not at the cold pace.
    await pace.before_first_read(2, since, timing(20.0, 0.25, 2.0), latest=since + 0.6)
    assert fake_time.now == pytest.approx(since + 0.6)
    # A timed lock's wait too.
    pace.settled(3, NOW, first_read=False, at=NOW + 5.0)
    since = fake_time.now
    await pace.before_first_read(3, since, timing(20.0, 0.25, 2.0), latest=since + 1.0)
    assert fake_time.now == pytest.approx(since + 1.0)


async def test_a_read_sent_late_for_want_of_a_timed_lock_teaches_nothing(
    fake_time: FakeTime,
) -> None:
    pace = DevicePace()
    await pace.before_first_read(1, NOW, timing(20.0, 0.25, 2.0))  # the probe
    since = fake_time.now
    await pace.before_first_read(2, since, timing(20.0, 0.25, 2.0))
    # Its first read, at the cold pace, finds the operation done: the lock took at most 2 s.
    pace.settled(2, since, first_read=True, at=fake_time.now)
    assert pace._fleet is None and 2 not in pace._pace
    # Found pending first, the time is the lock's own.
    pace.settled(2, since, first_read=False, at=since + 2.5)
    assert pace._pace[2] == pytest.approx(2.5)


async def test_the_others_never_read_before_the_probe(fake_time: FakeTime) -> None:
    pace = DevicePace()
    await pace.before_first_read(1, NOW, timing(20.0, 0.25, 0.05))
    since = fake_time.now
    await pace.before_first_read(2, since, timing(20.0, 0.25, 0.05))
    assert fake_time.now - since >= 0.25 - 1e-9
