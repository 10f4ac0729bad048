"""Parsing what people type on the command line: durations, dates, weekdays, time windows.

Every parser raises :class:`ValueError` with a message that says what a valid value looks like;
the CLI turns it into a usage error (exit status 2).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Final

from nukiflow.contracts.validation import MAX_DURATION, check_date, check_seconds

# The furthest ahead ``+DURATION`` may point (the date itself must also be in range).
MAX_AHEAD: Final = timedelta(days=36500)

# Typed instead of a value: remove the restriction (used by `auth update`).
NONE_WORDS: Final = frozenset({"none", "any", "clear", "-"})

_UNITS: Final = {
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
}
_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h|d|w)", re.IGNORECASE)

# Nuki's `allowedWeekDays` bit mask: Monday 64 ... Sunday 1.
WEEKDAY_BITS: Final = {"mon": 64, "tue": 32, "wed": 16, "thu": 8, "fri": 4, "sat": 2, "sun": 1}
_WEEKDAY_ORDER: Final = list(WEEKDAY_BITS)
_WEEKDAY_ALIASES: Final = {
    "monday": "mon",
    "tuesday": "tue",
    "tues": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "thur": "thu",
    "thurs": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}
ALL_WEEKDAYS: Final = 127


def is_none_word(text: str) -> bool:
    return text.strip().lower() in NONE_WORDS


def parse_duration(
    text: str, *, maximum: timedelta = MAX_DURATION, what: str = "a duration"
) -> timedelta:
    """``90``, ``90s``, ``5m``, ``2h``, ``1d``, ``1h30m``, ``500ms`` (a bare number is seconds).

    Finite, longer than zero and at most ``maximum`` (30 days unless the caller says).
    """
    raw = text.strip()
    if not raw:
        raise ValueError(f"give {what} such as 30s, 5m, 2h or 1d")
    try:
        seconds = float(raw)
    except ValueError:
        position, seconds = 0, 0.0
        compact = raw.replace(" ", "")
        for match in _DURATION_PART.finditer(compact):
            if match.start() != position:
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2).lower()]
            position = match.end()
        if position != len(compact) or position == 0:
            raise ValueError(
                f"{_shown(text)} is not a duration; use e.g. 30s, 5m, 2h, 1d or 1h30m"
            ) from None
    check_seconds(seconds, what=f"{what} ({_shown(text)})", maximum=maximum)
    return timedelta(seconds=seconds)


def _shown(text: str, limit: int = 40) -> str:
    """``text`` quoted for a message (control characters escaped), cut short."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def format_duration(value: timedelta) -> str:
    """The short form parse_duration reads back (``1h30m``, ``45s``, ``1.5s``)."""
    total = value.total_seconds()
    if total < 60:
        return f"{total:.1f}s" if total % 1 else f"{int(total)}s"
    parts = []
    rest = round(total)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, rest = divmod(rest, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def parse_datetime(text: str, *, now: datetime | None = None, what: str = "the date") -> datetime:
    """An ISO 8601 date or date-time, or ``now``/``+DURATION`` relative to now.

    Without a time zone the machine's local time zone is assumed (a bare date means midnight);
    a local time that the clocks skip or repeat there is refused, naming both offsets. The
    date must lie in the supported range (2000-01-01 to 2099-12-31, UTC).
    """
    from nukiflow.times.zones import LOCAL, to_utc

    raw = text.strip()
    current = (now or datetime.now().astimezone()).astimezone()
    if raw.lower() == "now":
        return current
    if raw.startswith("+"):
        ahead = parse_duration(raw[1:], maximum=MAX_AHEAD, what="a time from now")
        return check_date(current + ahead, what=what)
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            f"{_shown(text)} is not a date; use e.g. 2026-05-01, 2026-05-01T18:00, "
            "2026-05-01T18:00+02:00, now or +2h"
        ) from None
    return to_utc(value, LOCAL, what=what)


def parse_weekdays(text: str) -> int:
    """``mon,tue,fri``, ``mon-fri``, ``weekdays``, ``weekend`` or ``all`` -> Nuki's bit mask."""
    raw = text.strip().lower()
    if not raw:
        raise ValueError("give weekdays such as mon,tue or mon-fri")
    if raw in ("all", "every", "daily"):
        return ALL_WEEKDAYS
    mask = 0
    for item in (part.strip() for part in raw.split(",")):
        if item == "weekdays":
            mask |= 64 | 32 | 16 | 8 | 4
            continue
        if item in ("weekend", "weekends"):
            mask |= 2 | 1
            continue
        if "-" in item:
            first, _, last = item.partition("-")
            start, end = _weekday(first, text), _weekday(last, text)
            i, j = _WEEKDAY_ORDER.index(start), _WEEKDAY_ORDER.index(end)
            if i > j:
                raise ValueError(f"{item!r}: write a range from Monday towards Sunday (mon-fri)")
            for day in _WEEKDAY_ORDER[i : j + 1]:
                mask |= WEEKDAY_BITS[day]
            continue
        mask |= WEEKDAY_BITS[_weekday(item, text)]
    return mask


def _weekday(item: str, text: str) -> str:
    day = _WEEKDAY_ALIASES.get(item.strip(), item.strip())
    if day not in WEEKDAY_BITS:
        raise ValueError(
            f"{text!r}: unknown weekday {item!r}; use mon,tue,wed,thu,fri,sat,sun, ranges "
            "such as mon-fri, or weekdays, weekend, all"
        )
    return day


def format_weekdays(mask: int | None) -> str:
    if mask is None or mask == ALL_WEEKDAYS:
        return "every day"
    if mask == 0:
        return "no day"
    return ",".join(day for day in _WEEKDAY_ORDER if mask & WEEKDAY_BITS[day])


def parse_time_window(text: str) -> tuple[int, int]:
    """``HH:MM-HH:MM`` -> (from, until) in minutes after midnight (lock-local time)."""
    first, sep, last = text.strip().partition("-")
    if not sep:
        raise ValueError(f"{text!r} is not a time window; use HH:MM-HH:MM, e.g. 08:00-18:30")
    start, end = _minutes(first, text), _minutes(last, text)
    if start >= end:
        raise ValueError(f"{text!r}: the window must start before it ends (same day)")
    return start, end


def _minutes(part: str, text: str) -> int:
    match = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?", part.strip())
    if not match:
        raise ValueError(f"{text!r} is not a time window; use HH:MM-HH:MM, e.g. 08:00-18:30")
    hours, minutes = int(match.group(1)), int(match.group(2) or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(f"{text!r}: times run from 00:00 to 23:59")
    return hours * 60 + minutes


def format_minutes(value: int) -> str:
    return f"{value // 60:02d}:{value % 60:02d}"
