"""The per-lock pace that times the first read after a write (activities/device_pace.py)."""

from __future__ import annotations

import time

import pytest

from nukiflow.activities.device_pace import MAX_LOCKS, SHRINK, DevicePace


def test_an_unknown_lock_of_an_unknown_fleet_is_polled_at_once() -> None:
    pace = DevicePace()
    assert pace.first_pause(1, time.monotonic(), 20.0) == 0.0
    assert pace.written_at(1, "a") is None


def test_the_first_read_waits_for_the_time_the_lock_took_minus_what_passed() -> None:
    pace = DevicePace()
    since = time.monotonic() - 0.5
    pace.settled(1, since, first_read=False, at=since + 2.0)
    assert pace.first_pause(1, since, 20.0) == pytest.approx(1.5, abs=0.05)
    # Never more than half the fast window: the fast polls keep the rest.
    assert pace.first_pause(1, time.monotonic(), 2.0) == pytest.approx(1.0, abs=0.05)


def test_a_first_read_that_finds_it_done_shortens_the_next_pause_a_miss_lengthens_it() -> None:
    pace = DevicePace()
    base = time.monotonic()
    pace.settled(1, base, first_read=False, at=base + 2.0)
    pace.settled(1, base, first_read=True, at=base + 2.0)
    assert pace.first_pause(1, time.monotonic(), 20.0) == pytest.approx(2.0 * SHRINK, abs=0.05)
    pace.settled(1, base, first_read=False, at=base + 3.0)
    assert pace.first_pause(1, time.monotonic(), 20.0) == pytest.approx(3.0, abs=0.05)


def test_a_lock_not_seen_yet_starts_from_the_others() -> None:
    pace = DevicePace()
    base = time.monotonic()
    pace.settled(1, base, first_read=False, at=base + 1.0)
    assert pace.first_pause(2, time.monotonic(), 20.0) == pytest.approx(1.0, abs=0.05)


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
