"""Local times to Nuki's mix of UTC date-times and lock-local daily minutes, DST-correct.

Nuki keeps an auth's window in two kinds of fields: ``allowedFromDate``/``allowedUntilDate`` are
UTC instants, while ``allowedWeekDays`` and ``allowedFromTime``/``allowedUntilTime`` (minutes
after midnight) are read by the lock in its own local time, daylight saving included. People
give times in a local zone ("until Sunday 10:00 in Berlin"), so:

- local date-times are converted to UTC with the zone's rules for *that* date: 10:00 in Berlin
  is 09:00 UTC in winter and 08:00 UTC in summer;
- a local time that does not exist (the hour skipped when clocks go forward) or exists twice
  (the hour repeated when they go back) is refused with a message naming both readings, never
  guessed: give an explicit offset to choose;
- daily times stay as given when they are given in the lock's zone (the lock applies DST
  itself). Given in another zone, they are shifted to the lock's zone only when the shift is
  the same on every day of the window (zones change DST on different dates, and one pair of
  daily minutes cannot follow both) and the shifted window stays within one day; weekdays move
  with a shift across midnight.

:func:`local_window` is the one place that turns these local values into Nuki's fields: plan
files (their items' ``from``/``until``/``weekdays``/``times``), access grants (the command line
and ``Fleet.grant_access``, through :func:`nuki_window`) all build windows with it. Zones come
from :mod:`zoneinfo` (the system's zone database, or the ``tzdata`` package).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Final

from nukiflow.contracts.access import AccessWindow
from nukiflow.times.daily import clock, format_minutes, parse_times
from nukiflow.times.dates import LOCAL, ZONE_HINT, read_zone, to_utc, zone, zone_name
from nukiflow.times.errors import TimeZoneError
from nukiflow.times.weekdays import ALL_DAYS, format_weekdays, parse_weekdays, rotate_weekdays

__all__ = [
    "LOCAL",
    "LocalWindow",
    "TimeZoneError",
    "describe_window",
    "local_window",
    "nuki_window",
    "shift_daily_times",
    "to_utc",
    "zone",
]

# Checking a daily-time shift day by day over at most this many days (a longer window is
# checked over its first ten years: every DST rule in the database repeats within that).
_MAX_DAYS_CHECKED: Final = 3700


@dataclass(frozen=True)
class LocalWindow:
    """A window as Nuki holds it: UTC instants, and weekdays and daily minutes in the lock's
    time (each None when not given). ``zone``: the name of the lock's zone, when known."""

    start: datetime | None
    end: datetime | None
    weekdays: int | None
    daily: tuple[int, int] | None
    zone: str | None

    def auth_fields(self) -> dict[str, Any]:
        """The ``allowed_*`` fields of an auth for what was given."""
        fields: dict[str, Any] = {}
        if self.start is not None:
            fields["allowed_from_date"] = self.start
        if self.end is not None:
            fields["allowed_until_date"] = self.end
        if self.weekdays is not None:
            fields["allowed_week_days"] = self.weekdays
        if self.daily is not None:
            fields["allowed_from_time"], fields["allowed_until_time"] = self.daily
        return fields


def local_window(
    start: str | datetime | date | None,
    end: str | datetime | date | None,
    *,
    tz: tzinfo | str | None = None,
    lock_tz: tzinfo | str | None = None,
    weekdays: str | int | Iterable[str] | None = None,
    times: str | tuple[int, int] | None = None,
    names: tuple[str, str] = ("the start", "the end"),
    relative: bool = True,
    zone_hint: str = ZONE_HINT,
) -> LocalWindow:
    """Nuki's window from local values.

    ``start``/``end``: read in ``tz`` when they carry no offset (:func:`to_utc`; ``names`` say
    what they are called in messages). ``weekdays`` and ``times`` are read in ``tz`` too;
    ``lock_tz`` is the lock's zone when it differs from ``tz`` (default: the lock is in ``tz``,
    so daily times are kept as given).
    """
    source = read_zone(tz)
    lock = read_zone(lock_tz) or source
    start_utc = end_utc = None
    if start is not None:
        start_utc = to_utc(start, tz, what=names[0], relative=relative, zone_hint=zone_hint)
    if end is not None:
        end_utc = to_utc(end, tz, what=names[1], relative=relative, zone_hint=zone_hint)
    if start_utc is not None and end_utc is not None and start_utc >= end_utc:
        raise TimeZoneError("the window must start before it ends")
    mask = parse_weekdays(weekdays)
    daily = parse_times(times)
    source_name, lock_name = zone_name(source), zone_name(lock)
    if source is not None and lock is not None and source_name != lock_name:
        if daily is not None:
            if start_utc is None or end_utc is None:
                raise TimeZoneError(
                    "daily times in a zone other than the lock's need both the start and the "
                    "end (the shift is checked on every day of the window)"
                )
            daily, mask = shift_daily_times(daily, mask, source, lock, start_utc, end_utc)
        elif mask is not None and mask != ALL_DAYS:
            raise TimeZoneError(
                f"weekdays without daily times are whole days in the lock's zone ({lock_name}): "
                "give them in that zone, or add daily times"
            )
    return LocalWindow(start_utc, end_utc, mask, daily, zone_name(lock_tz) or source_name)


def nuki_window(
    start: str | datetime | date,
    end: str | datetime | date,
    *,
    tz: tzinfo | str | None = None,
    lock_tz: tzinfo | str | None = None,
    weekdays: str | int | Iterable[str] | None = None,
    times: str | tuple[int, int] | None = None,
    names: tuple[str, str] = ("the start", "the end"),
    zone_hint: str = ZONE_HINT,
) -> AccessWindow:
    """An access grant's window (:func:`local_window` with both ends)."""
    window = local_window(
        start,
        end,
        tz=tz,
        lock_tz=lock_tz,
        weekdays=weekdays,
        times=times,
        names=names,
        zone_hint=zone_hint,
    )
    assert window.start is not None and window.end is not None
    return AccessWindow(
        allowed_from_date=window.start,
        allowed_until_date=window.end,
        allowed_week_days=window.weekdays,
        allowed_from_time=None if window.daily is None else window.daily[0],
        allowed_until_time=None if window.daily is None else window.daily[1],
        tz=window.zone,
    )


def shift_daily_times(
    daily: tuple[int, int],
    weekdays: int | None,
    source: tzinfo,
    lock: tzinfo,
    start: datetime,
    end: datetime,
) -> tuple[tuple[int, int], int | None]:
    """Daily minutes (and weekdays) given in ``source`` as the lock in ``lock`` must hold
    them, checked on every day from ``start`` to ``end`` (UTC instants)."""
    first_day = start.astimezone(source).date()
    last_day = end.astimezone(source).date()
    days = min((last_day - first_day).days + 1, _MAX_DAYS_CHECKED)
    seen: dict[tuple[int, int, int, int], date] = {}
    for n in range(days):
        day = first_day + timedelta(days=n)
        begin = datetime.combine(day, clock(daily[0]), tzinfo=source).astimezone(lock)
        finish = datetime.combine(day, clock(daily[1]), tzinfo=source).astimezone(lock)
        key = (
            begin.hour * 60 + begin.minute,
            (begin.date() - day).days,
            finish.hour * 60 + finish.minute,
            (finish.date() - day).days,
        )
        if key not in seen:
            seen[key] = day
    if len(seen) > 1:
        (_, first), (_, changed) = list(seen.items())[:2]
        raise TimeZoneError(
            f"the daily times cannot be converted to the lock's zone {zone_name(lock)}: "
            f"from {zone_name(source)} they land at other lock-local times from {changed} "
            f"on than from {first} on (the zones change daylight saving on different dates); "
            "give the daily times in the lock's own zone"
        )
    ((begin_min, begin_shift, end_min, end_shift),) = seen
    if begin_shift != end_shift or begin_min >= end_min:
        raise TimeZoneError(
            f"the daily window crosses midnight in the lock's zone {zone_name(lock)}; "
            "Nuki needs it within one day: give the daily times in the lock's own zone"
        )
    return (begin_min, end_min), rotate_weekdays(weekdays, begin_shift)


def describe_window(window: AccessWindow, tz: tzinfo | str | None = None) -> str:
    """One line for people: the window in ``tz`` (default: the zone it was given in, else UTC)."""
    where = read_zone(tz) or (zone(window.tz) if window.tz else UTC)
    start = window.allowed_from_date.astimezone(where)
    end = window.allowed_until_date.astimezone(where)
    text = f"{start:%Y-%m-%d %H:%M %Z} to {end:%Y-%m-%d %H:%M %Z}"
    days = format_weekdays(window.allowed_week_days, capitalized=True)
    if window.allowed_from_time is not None and window.allowed_until_time is not None:
        text += (
            f", {days} {format_minutes(window.allowed_from_time)}-"
            f"{format_minutes(window.allowed_until_time)} lock time"
        )
    elif window.allowed_week_days is not None:
        text += f", {days}"
    return text
