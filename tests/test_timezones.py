"""Local times to Nuki's mix of UTC date-times and lock-local daily minutes, across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from nukiflow.times.daily import parse_times
from nukiflow.times.weekdays import format_weekdays, parse_weekdays
from nukiflow.times.zones import TimeZoneError, describe_window, nuki_window, to_utc, zone

BERLIN = "Europe/Berlin"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2026-01-15T10:00", utc(2026, 1, 15, 9)),  # CET, +01:00
        ("2026-07-15T10:00", utc(2026, 7, 15, 8)),  # CEST, +02:00
        ("2026-03-29T01:59", utc(2026, 3, 29, 0, 59)),  # the last minute before the jump
        ("2026-03-29T03:00", utc(2026, 3, 29, 1)),  # the first minute after it
        ("2026-10-25T01:59", utc(2026, 10, 24, 23, 59)),
        ("2026-10-25T03:00", utc(2026, 10, 25, 2)),
        ("2026-03-29", utc(2026, 3, 28, 23)),  # a bare date is local midnight
    ],
)
def test_local_times_follow_the_zone_rules_of_their_date(local: str, expected: datetime) -> None:
    assert to_utc(local, BERLIN) == expected


def test_given_offsets_and_aware_values_need_no_zone() -> None:
    assert to_utc("2026-03-29T10:00+02:00", None) == utc(2026, 3, 29, 8)
    assert to_utc("2026-03-29T08:00Z", None) == utc(2026, 3, 29, 8)
    aware = datetime(2026, 3, 29, 10, tzinfo=timezone(timedelta(hours=2)))
    assert to_utc(aware, BERLIN) == utc(2026, 3, 29, 8)
    assert to_utc(date(2026, 7, 1), BERLIN) == utc(2026, 6, 30, 22)


def test_a_local_time_without_zone_is_refused() -> None:
    with pytest.raises(TimeZoneError, match="has no time zone"):
        to_utc("2026-03-29T10:00", None)


def test_the_skipped_hour_is_refused_with_the_nearest_valid_time() -> None:
    with pytest.raises(TimeZoneError, match="does not exist in Europe/Berlin") as error:
        to_utc("2026-03-29T02:30", BERLIN, what="--from")
    assert "--from 2026-03-29 02:30" in str(error.value)


def test_the_repeated_hour_is_refused_naming_both_readings() -> None:
    with pytest.raises(TimeZoneError, match="happens twice") as error:
        to_utc("2026-10-25T02:30", BERLIN)
    assert "2026-10-25T02:30+02:00" in str(error.value)
    assert "2026-10-25T02:30+01:00" in str(error.value)
    # Either reading, given explicitly, converts.
    assert to_utc("2026-10-25T02:30+02:00", BERLIN) == utc(2026, 10, 25, 0, 30)
    assert to_utc("2026-10-25T02:30+01:00", BERLIN) == utc(2026, 10, 25, 1, 30)


def test_unknown_zone_and_bad_text() -> None:
    with pytest.raises(TimeZoneError, match="unknown time zone"):
        zone("Europe/Atlantis")
    with pytest.raises(TimeZoneError, match="not a date-time"):
        to_utc("next tuesday", BERLIN)


@pytest.mark.parametrize(
    ("text", "mask"),
    [
        ("mon-fri", 64 + 32 + 16 + 8 + 4),
        ("weekdays", 124),
        ("sat,sun", 3),
        ("weekend", 3),
        ("fri-mon", 4 + 2 + 1 + 64),
        ("Monday, wed", 64 + 16),
        ("daily", 127),
        (["tue", "thu"], 32 + 8),
        (5, 5),
    ],
)
def test_weekdays(text: str | list[str] | int, mask: int) -> None:
    assert parse_weekdays(text) == mask


def test_weekday_errors_and_names() -> None:
    assert parse_weekdays(None) is None
    # Empty is refused, not read as "every day": that would give more access than meant.
    for empty in ("", " , ", []):
        with pytest.raises(TimeZoneError, match="leave them out for every day"):
            parse_weekdays(empty)
    with pytest.raises(TimeZoneError, match="unknown weekday"):
        parse_weekdays("mo")
    with pytest.raises(TimeZoneError, match=r"1\.\.127"):
        parse_weekdays(128)
    assert format_weekdays(64 + 1, capitalized=True) == "Mon,Sun"
    assert format_weekdays(None, capitalized=True) == "every day"


def test_daily_times() -> None:
    assert parse_times("08:00-12:30") == (480, 750)
    assert parse_times(" 7:05 - 9:00 ") == (425, 540)
    assert parse_times("18:00-24:00") == (1080, 1439)
    assert parse_times("8-12") == (480, 720)
    assert parse_times(None) is None
    with pytest.raises(TimeZoneError, match="crosses midnight"):
        parse_times("22:00-06:00")
    with pytest.raises(TimeZoneError, match="HH:MM-HH:MM"):
        parse_times("8h-12h")
    with pytest.raises(TimeZoneError, match="00:00 to 23:59"):
        parse_times("08:00-25:00")
    with pytest.raises(TimeZoneError, match="leave it out for all day"):
        parse_times(" ")


def test_window_across_the_spring_change() -> None:
    """Dates become UTC with each date's offset; daily minutes stay lock-local."""
    window = nuki_window(
        "2026-03-28T10:00", "2026-03-30T10:00", tz=BERLIN, weekdays="sat-mon", times="08:00-12:00"
    )
    assert window.allowed_from_date == utc(2026, 3, 28, 9)
    assert window.allowed_until_date == utc(2026, 3, 30, 8)
    assert window.end - window.start == timedelta(hours=47)  # one hour skipped
    assert (window.allowed_from_time, window.allowed_until_time) == (480, 720)
    assert window.allowed_week_days == 2 + 1 + 64
    assert window.tz == BERLIN
    text = describe_window(window)
    assert "2026-03-28 10:00 CET" in text and "2026-03-30 10:00 CEST" in text
    assert "Mon,Sat,Sun 08:00-12:00 lock time" in text


def test_window_across_the_autumn_change() -> None:
    window = nuki_window("2026-10-24T18:00", "2026-10-26T18:00", tz=BERLIN)
    assert window.allowed_from_date == utc(2026, 10, 24, 16)
    assert window.allowed_until_date == utc(2026, 10, 26, 17)
    assert window.end - window.start == timedelta(hours=49)  # one hour repeated


def test_daily_times_in_another_zone_are_shifted_to_the_lock() -> None:
    # London and Berlin change on the same instant: the shift is one hour all year.
    window = nuki_window(
        "2026-03-20T00:00",
        "2026-04-10T00:00",
        tz="Europe/London",
        lock_tz=BERLIN,
        times="08:00-12:00",
        weekdays="mon-fri",
    )
    assert (window.allowed_from_time, window.allowed_until_time) == (540, 780)
    assert window.allowed_week_days == 124
    assert window.tz == BERLIN


def test_a_shift_across_midnight_moves_the_weekdays() -> None:
    # 20:00-22:00 in Los Angeles is 05:00-07:00 in Berlin the next morning (January).
    window = nuki_window(
        "2026-01-05T00:00",
        "2026-01-31T00:00",
        tz="America/Los_Angeles",
        lock_tz=BERLIN,
        times="20:00-22:00",
        weekdays="mon,fri",
    )
    assert (window.allowed_from_time, window.allowed_until_time) == (300, 420)
    assert window.allowed_week_days == 32 + 2  # Tue, Sat


def test_zones_that_change_dst_on_different_dates_are_refused() -> None:
    # New York moves on 8 March 2026, Berlin on 29 March: 6 h apart, then 5 h, then 6 h.
    with pytest.raises(TimeZoneError, match="daylight saving on different dates"):
        nuki_window(
            "2026-03-01T00:00",
            "2026-04-15T00:00",
            tz="America/New_York",
            lock_tz=BERLIN,
            times="09:00-10:00",
        )
    # Within one stretch of constant offsets it converts.
    window = nuki_window(
        "2026-04-01T00:00",
        "2026-04-15T00:00",
        tz="America/New_York",
        lock_tz=BERLIN,
        times="09:00-10:00",
    )
    assert (window.allowed_from_time, window.allowed_until_time) == (900, 960)


def test_shifts_that_cannot_be_expressed_are_refused() -> None:
    with pytest.raises(TimeZoneError, match="crosses midnight in the lock's zone"):
        nuki_window(
            "2026-01-05T00:00",
            "2026-01-10T00:00",
            tz="America/New_York",
            lock_tz=BERLIN,
            times="17:00-19:00",  # 23:00-01:00 in Berlin
        )
    with pytest.raises(TimeZoneError, match="whole days in the lock's zone"):
        nuki_window(
            "2026-01-05T00:00", "2026-01-10T00:00", tz="Asia/Tokyo", lock_tz=BERLIN, weekdays="mon"
        )


def test_window_must_be_forward() -> None:
    with pytest.raises(TimeZoneError, match="start before it ends"):
        nuki_window("2026-10-25T02:30+01:00", "2026-10-25T02:30+02:00")
