"""What people type: durations, dates, weekdays and time windows (nukiflow.times), and the
command line's `none` for removing a restriction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nukiflow.cli.auth_input import is_none_word
from nukiflow.times.daily import parse_times
from nukiflow.times.dates import LOCAL, parse_datetime, to_utc
from nukiflow.times.durations import format_duration, parse_duration
from nukiflow.times.weekdays import format_weekdays, parse_weekdays


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
        (90, 90),
        (1.5, 1.5),
    ],
)
def test_durations(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "text", ["", "soon", "5x", "m5", "0", "0s", "-5m", "5m later", "nan", "inf", 0, -1.0]
)
def test_bad_durations_say_what_works(text: str | float) -> None:
    with pytest.raises(ValueError, match=r"duration"):
        parse_duration(text)


def test_durations_are_bounded_and_typed() -> None:
    with pytest.raises(ValueError, match="at most 30d"):
        parse_duration("31d")
    with pytest.raises(ValueError, match="at most 1d"):
        parse_duration("1d1s", maximum=timedelta(days=1))
    for wrong in (True, None, [90]):
        with pytest.raises(ValueError, match="number of seconds or a duration"):
            parse_duration(wrong)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at most 30d"):
        parse_duration(10**400)


def test_durations_format_back() -> None:
    for text in ("45s", "1.5s", "5m", "1h30m", "1d2h"):
        assert format_duration(parse_duration(text)) == text


def test_dates() -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert to_utc("2026-05-01T18:00+02:00", None) == datetime(2026, 5, 1, 16, 0, tzinfo=UTC)
    assert to_utc("2026-05-01T16:00Z", None) == datetime(2026, 5, 1, 16, 0, tzinfo=UTC)
    assert to_utc("now", None, now=now) == now
    assert to_utc("+2h", None, now=now) == now + timedelta(hours=2)
    assert to_utc("+1h30m", None, now=now) == now + timedelta(minutes=90)
    local = datetime(2026, 5, 1, 18, 0).astimezone()  # the machine's local time zone
    assert to_utc("2026-05-01 18:00", LOCAL) == local
    assert to_utc("2026-05-01", LOCAL) == datetime(2026, 5, 1).astimezone()
    with pytest.raises(ValueError, match="not a date"):
        to_utc("tomorrow-ish", LOCAL)
    with pytest.raises(ValueError, match="is relative"):
        parse_datetime("+2h", relative=False)


def test_weekdays() -> None:
    assert parse_weekdays("mon") == 64
    assert parse_weekdays("sun") == 1
    assert parse_weekdays("mon,tue,wed,thu,fri") == 124
    assert parse_weekdays("mon-fri") == 124
    assert parse_weekdays("Monday, Friday") == 68
    assert parse_weekdays("weekend") == 3
    assert parse_weekdays("weekdays,sat") == 126
    assert parse_weekdays("all") == 127
    # A range runs forwards and wraps over the weekend.
    assert parse_weekdays("fri-mon") == 4 + 2 + 1 + 64
    assert parse_weekdays("sat-mon") == 2 + 1 + 64
    assert format_weekdays(124) == "mon,tue,wed,thu,fri"
    assert format_weekdays(None) == format_weekdays(127) == "every day"
    for bad in ("funday", "mon-funday", ""):
        with pytest.raises(ValueError):
            parse_weekdays(bad)


def test_time_windows() -> None:
    assert parse_times("08:00-18:30") == (480, 1110)
    assert parse_times("8-17") == (480, 1020)
    assert parse_times("00:00-23:59") == (0, 1439)
    assert parse_times("18:00-24:00") == (1080, 1439)
    for bad in ("18:00-08:00", "8:00", "25:00-26:00", "08:60-09:00", "a-b", ""):
        with pytest.raises(ValueError):
            parse_times(bad)


def test_none_words_remove_a_restriction() -> None:
    assert all(is_none_word(word) for word in ("none", "NONE", " any ", "clear", "-"))
    assert not is_none_word("mon")
