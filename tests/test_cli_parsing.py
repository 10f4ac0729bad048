"""What people type: durations, dates, weekdays and time windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from nukiflow.times.parsing import (
    format_duration,
    format_weekdays,
    is_none_word,
    parse_datetime,
    parse_duration,
    parse_time_window,
    parse_weekdays,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("1.5", 1.5),
        ("30s", 30),
        ("5m", 300),
        ("2h", 7200),
        ("1d", 86400),
        ("1w", 7 * 86400),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("500ms", 0.5),
        ("2H", 7200),
        ("10min", 600),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "5x", "m5", "0", "0s", "-5m", "5m later"])
def test_bad_durations_say_what_works(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration"):
        parse_duration(text)


def test_durations_format_back() -> None:
    for text in ("45s", "1.5s", "5m", "1h30m", "1d2h"):
        assert format_duration(parse_duration(text)) == text


def test_dates() -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_datetime("2026-05-01T18:00+02:00") == datetime(
        2026, 5, 1, 18, 0, tzinfo=timezone(timedelta(hours=2))
    )
    assert parse_datetime("2026-05-01T16:00Z") == datetime(2026, 5, 1, 16, 0, tzinfo=UTC)
    assert parse_datetime("now", now=now) == now
    assert parse_datetime("+2h", now=now) == now + timedelta(hours=2)
    naive = parse_datetime("2026-05-01 18:00")
    assert naive.tzinfo is not None  # the machine's local time zone
    assert parse_datetime("2026-05-01").tzinfo is not None
    with pytest.raises(ValueError, match="not a date"):
        parse_datetime("tomorrow-ish")


def test_weekdays() -> None:
    assert parse_weekdays("mon") == 64
    assert parse_weekdays("sun") == 1
    assert parse_weekdays("mon,tue,wed,thu,fri") == 124
    assert parse_weekdays("mon-fri") == 124
    assert parse_weekdays("Monday, Friday") == 68
    assert parse_weekdays("weekend") == 3
    assert parse_weekdays("weekdays,sat") == 126
    assert parse_weekdays("all") == 127
    assert format_weekdays(124) == "mon,tue,wed,thu,fri"
    assert format_weekdays(None) == format_weekdays(127) == "every day"
    for bad in ("funday", "fri-mon", ""):
        with pytest.raises(ValueError):
            parse_weekdays(bad)


def test_time_windows() -> None:
    assert parse_time_window("08:00-18:30") == (480, 1110)
    assert parse_time_window("8-17") == (480, 1020)
    assert parse_time_window("00:00-23:59") == (0, 1439)
    for bad in ("18:00-08:00", "8:00", "25:00-26:00", "08:60-09:00", "a-b"):
        with pytest.raises(ValueError):
            parse_time_window(bad)


def test_none_words_remove_a_restriction() -> None:
    assert all(is_none_word(word) for word in ("none", "NONE", " any ", "clear", "-"))
    assert not is_none_word("mon")
