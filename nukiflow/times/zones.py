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

Zones come from :mod:`zoneinfo` (the system's zone database, or the ``tzdata`` package).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nukiflow.contracts.access import AccessWindow
from nukiflow.contracts.auth import MINUTES_PER_DAY
from nukiflow.contracts.validation import (
    EARLIEST_DATE,
    LATEST_DATE,
    InputError,
    check_date,
    date_range,
)

# Nuki's allowedWeekDays bits, Monday first (Mon 64 ... Sun 1).
WEEKDAY_BITS = (64, 32, 16, 8, 4, 2, 1)
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAYS = 127
_DAY_GROUPS = {
    "weekdays": (0, 1, 2, 3, 4),
    "workdays": (0, 1, 2, 3, 4),
    "weekend": (5, 6),
    "daily": (0, 1, 2, 3, 4, 5, 6),
    "all": (0, 1, 2, 3, 4, 5, 6),
}
_TIMES = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
# Checking a daily-time shift day by day over at most this many days (a longer window is
# checked over its first ten years: every DST rule in the database repeats within that).
_MAX_DAYS_CHECKED = 3700


class TimeZoneError(ValueError):
    """A time that cannot be converted without guessing; the message says what to give."""


_ZONE_NAME = re.compile(r"[A-Za-z0-9_+-]{1,40}(?:/[A-Za-z0-9_+-]{1,40}){0,3}")


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (e.g. ``Europe/Berlin``), or a clear error."""
    shown = repr(name if len(name) <= 60 else name[:60] + "...")
    try:
        if not _ZONE_NAME.fullmatch(name):
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise TimeZoneError(
            f"unknown time zone {shown}: use an IANA name such as Europe/Berlin (a system "
            "without a zone database needs the tzdata package)"
        ) from None


def _zone(value: tzinfo | str | None) -> tzinfo | None:
    if value is None or isinstance(value, tzinfo):
        return value
    return zone(value)


def _zone_name(value: tzinfo | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return getattr(value, "key", None) or str(value)


def parse_datetime(value: str | datetime | date) -> datetime:
    """ISO 8601 (``2026-03-29T10:00``, ``2026-03-29 10:00``, with ``Z`` or an offset, or a
    bare date meaning midnight); naive unless it carries a zone."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if not isinstance(value, str):
        raise TimeZoneError(
            f"a date-time is ISO 8601 text or a datetime, not {type(value).__name__}"
        )
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise TimeZoneError(
            f"{_shown(value)} is not a date-time: use ISO 8601, e.g. 2026-03-29T10:00 "
            "(or 2026-03-29T10:00+02:00 with an offset)"
        ) from None


def _shown(text: str, limit: int = 40) -> str:
    """``text`` quoted for a message, cut short."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _offset(value: timedelta | None) -> str:
    total = int((value or timedelta()).total_seconds() // 60)
    sign = "+" if total >= 0 else "-"
    hours, minutes = divmod(abs(total), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


class _LocalZone:
    """Marks "the time zone of this machine" (with its own DST rules) for :func:`to_utc`."""


LOCAL = _LocalZone()


def to_utc(
    value: str | datetime | date, tz: tzinfo | str | _LocalZone | None, *, what: str = "time"
) -> datetime:
    """``value`` as a UTC instant; a naive value is read in ``tz`` with that date's rules
    (``LOCAL``: this machine's time zone).

    Raises :class:`TimeZoneError` for a naive value without a zone, and for local times that
    do not exist or exist twice in ``tz`` (clocks changing): give an offset to choose. A date
    outside the supported range (see :mod:`nukiflow.contracts.validation`) raises
    :class:`~nukiflow.contracts.validation.InputError`.
    """
    moment = parse_datetime(value)
    # Far outside the range, converting could leave the calendar (year 0 or 10000).
    if not EARLIEST_DATE.year - 1 <= moment.year <= LATEST_DATE.year + 1:
        raise InputError(f"{what} must lie between {date_range()}")
    if moment.tzinfo is not None:
        return check_date(moment, what=what)
    where = tz if isinstance(tz, _LocalZone) else _zone(tz)
    shown = moment.strftime("%Y-%m-%d %H:%M")
    if where is None:
        raise TimeZoneError(
            f"{what} {shown} has no time zone: give a zone (--tz Europe/Berlin) or an offset "
            "(2026-03-29T10:00+02:00)"
        )
    first, second = _readings(moment, where)
    if first.utcoffset() == second.utcoffset():
        return check_date(first, what=what)
    if isinstance(where, _LocalZone):
        name = f"this machine's time zone ({first.tzname()})"
    else:
        name = _zone_name(where) or "its time zone"

    def exists(candidate: datetime) -> bool:
        return _wall_time(candidate, where) == moment

    early, late = _offset(first.utcoffset()), _offset(second.utcoffset())
    if exists(first) and exists(second):
        raise TimeZoneError(
            f"{what} {shown} happens twice in {name} (the clocks go back): give the offset, "
            f"{moment:%Y-%m-%dT%H:%M}{early} for the first or "
            f"{moment:%Y-%m-%dT%H:%M}{late} for the second"
        )
    raise TimeZoneError(
        f"{what} {shown} does not exist in {name} (the clocks jump forward from {early} to "
        f"{late} that night): give a time outside the skipped hour, or the offset you mean "
        f"({moment:%Y-%m-%dT%H:%M}{early} or {moment:%Y-%m-%dT%H:%M}{late})"
    )


def _readings(moment: datetime, where: tzinfo | _LocalZone) -> tuple[datetime, datetime]:
    """The two readings of a naive local time (PEP 495 folds), as aware date-times."""
    if isinstance(where, _LocalZone):
        return moment.replace(fold=0).astimezone(), moment.replace(fold=1).astimezone()
    return moment.replace(tzinfo=where, fold=0), moment.replace(tzinfo=where, fold=1)


def _wall_time(instant: datetime, where: tzinfo | _LocalZone) -> datetime:
    """The naive local time ``instant`` shows in ``where``."""
    utc = instant.astimezone(UTC)
    local = utc.astimezone() if isinstance(where, _LocalZone) else utc.astimezone(where)
    return local.replace(tzinfo=None, fold=0)


def parse_weekdays(value: str | int | Iterable[str] | None) -> int | None:
    """Nuki's weekday mask from ``mon-fri``, ``mon,wed,sat``, ``weekdays``, ``weekend``,
    ``daily``, full names, or the mask itself (1..127). None or empty: no restriction."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TimeZoneError("weekdays must be names (mon-fri) or a mask 1..127")
    if isinstance(value, int):
        if not 1 <= value <= ALL_DAYS:
            raise TimeZoneError("a weekday mask is 1..127 (Mon 64, Tue 32, ... Sun 1)")
        return value
    parts = [value] if isinstance(value, str) else list(value)
    tokens = [t.strip().lower() for part in parts for t in part.split(",") if t.strip()]
    if not tokens:
        return None
    days: set[int] = set()
    for token in tokens:
        if token in _DAY_GROUPS:
            days.update(_DAY_GROUPS[token])
            continue
        if "-" in token:
            first, _, last = token.partition("-")
            start, end = _day(first), _day(last)
            day = start
            days.add(day)
            while day != end:
                day = (day + 1) % 7
                days.add(day)
            continue
        days.add(_day(token))
    return sum(WEEKDAY_BITS[d] for d in days)


_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _day(token: str) -> int:
    key = token.strip().lower()
    if key in WEEKDAY_NAMES:
        return WEEKDAY_NAMES.index(key)
    if key in _FULL_NAMES:
        return _FULL_NAMES.index(key)
    raise TimeZoneError(
        f"unknown weekday {token!r}: use mon, tue, wed, thu, fri, sat, sun, ranges such as "
        "mon-fri, or weekdays/weekend/daily"
    )


def weekday_names(mask: int | None) -> str:
    """``Mon,Tue,...`` for a mask (``every day`` for none or 127)."""
    if mask is None or mask == ALL_DAYS:
        return "every day"
    return ",".join(
        WEEKDAY_NAMES[i].capitalize() for i, bit in enumerate(WEEKDAY_BITS) if mask & bit
    )


def parse_times(value: str | None) -> tuple[int, int] | None:
    """``HH:MM-HH:MM`` to minutes after midnight; ``24:00`` as an end means 23:59, the last
    minute Nuki can hold. The window must not cross midnight (Nuki cannot express that)."""
    if value is None or not value.strip():
        return None
    match = _TIMES.match(value)
    if not match:
        raise TimeZoneError(f"{value!r} is not a daily window: use HH:MM-HH:MM, e.g. 08:00-18:30")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h2 == 24 and m2 == 0:
        h2, m2 = 23, 59
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise TimeZoneError(f"{value!r} is not a daily window: hours 00-23, minutes 00-59")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start >= end:
        raise TimeZoneError(
            f"the daily window {value} crosses midnight or is empty: Nuki needs the start "
            "before the end on the same day (use two grants for a night window)"
        )
    return start, end


def _rotate(mask: int | None, days: int) -> int | None:
    if mask is None or days == 0:
        return mask
    result = 0
    for i, bit in enumerate(WEEKDAY_BITS):
        if mask & bit:
            result |= WEEKDAY_BITS[(i + days) % 7]
    return result


def _clock(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


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
        begin = datetime.combine(day, _clock(daily[0]), tzinfo=source).astimezone(lock)
        finish = datetime.combine(day, _clock(daily[1]), tzinfo=source).astimezone(lock)
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
            f"the daily times cannot be converted to the lock's zone {_zone_name(lock)}: "
            f"from {_zone_name(source)} they land at other lock-local times from {changed} "
            f"on than from {first} on (the zones change daylight saving on different dates); "
            f"give --times in the lock's own zone"
        )
    ((begin_min, begin_shift, end_min, end_shift),) = seen
    if begin_shift != end_shift or begin_min >= end_min:
        raise TimeZoneError(
            f"the daily window crosses midnight in the lock's zone {_zone_name(lock)}; "
            "Nuki needs it within one day: give --times in the lock's own zone"
        )
    return (begin_min, end_min), _rotate(weekdays, begin_shift)


def nuki_window(
    start: str | datetime | date,
    end: str | datetime | date,
    *,
    tz: tzinfo | str | None = None,
    lock_tz: tzinfo | str | None = None,
    weekdays: str | int | Iterable[str] | None = None,
    times: str | tuple[int, int] | None = None,
) -> AccessWindow:
    """Build Nuki's window from local times.

    ``start``/``end``: date-times, read in ``tz`` when they carry no offset. ``times`` (HH:MM-HH:MM)
    and ``weekdays`` are read in ``tz`` too; ``lock_tz`` is the lock's zone when it differs
    from ``tz`` (default: the lock is in ``tz``, so daily times are kept as given).
    """
    source = _zone(tz)
    lock = _zone(lock_tz) or source
    start_utc = to_utc(start, source, what="the start")
    end_utc = to_utc(end, source, what="the end")
    if start_utc >= end_utc:
        raise TimeZoneError("the window must start before it ends")
    mask = parse_weekdays(weekdays)
    daily = parse_times(times) if isinstance(times, str) or times is None else times
    if daily is not None and not (0 <= daily[0] < daily[1] < MINUTES_PER_DAY):
        raise TimeZoneError("daily minutes must satisfy 0 <= from < until < 1440")
    if source is not None and lock is not None and _zone_name(source) != _zone_name(lock):
        if daily is not None:
            daily, mask = shift_daily_times(daily, mask, source, lock, start_utc, end_utc)
        elif mask is not None and mask != ALL_DAYS:
            raise TimeZoneError(
                "weekdays without daily times are whole days in the lock's zone: give them "
                f"with --tz {_zone_name(lock)} (or add --times)"
            )
    return AccessWindow(
        allowed_from_date=start_utc,
        allowed_until_date=end_utc,
        allowed_week_days=mask,
        allowed_from_time=None if daily is None else daily[0],
        allowed_until_time=None if daily is None else daily[1],
        tz=_zone_name(lock_tz) or _zone_name(tz),
    )


def describe_window(window: AccessWindow, tz: tzinfo | str | None = None) -> str:
    """One line for people: the window in ``tz`` (default: the zone it was given in, else UTC)."""
    where = _zone(tz) or (zone(window.tz) if window.tz else UTC)
    start = window.allowed_from_date.astimezone(where)
    end = window.allowed_until_date.astimezone(where)
    text = f"{start:%Y-%m-%d %H:%M %Z} to {end:%Y-%m-%d %H:%M %Z}"
    if window.allowed_from_time is not None and window.allowed_until_time is not None:
        text += (
            f", {weekday_names(window.allowed_week_days)} "
            f"{_clock(window.allowed_from_time):%H:%M}-{_clock(window.allowed_until_time):%H:%M}"
            " lock time"
        )
    elif window.allowed_week_days is not None:
        text += f", {weekday_names(window.allowed_week_days)}"
    return text
