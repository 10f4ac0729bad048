"""Internal: weekdays as people write them, as Nuki's ``allowedWeekDays`` bit mask.

One rule for the command line, plan files and the Python API: ``mon,wed,sat``, full names
(``Monday``), ranges that may wrap over the weekend (``mon-fri``; ``sat-mon`` is Saturday,
Sunday and Monday), ``weekdays``/``workdays``, ``weekend``, ``all``/``daily``/``every``; a list
of those, or (from Python or a plan) the mask itself, 1..127. Nothing given (None) means no
restriction; an empty text or list is refused rather than read as "every day", which would
give more access than any day the caller may have meant.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, overload

from nukiflow.contracts.messages import shown
from nukiflow.times.errors import TimeZoneError

WEEKDAY_NAMES: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Nuki's allowedWeekDays bits, Monday first (Mon 64 ... Sun 1).
WEEKDAY_BITS: Final = (64, 32, 16, 8, 4, 2, 1)
ALL_DAYS: Final = 127
_ALIASES: Final = {
    "monday": 0,
    "tuesday": 1,
    "tues": 1,
    "wednesday": 2,
    "thursday": 3,
    "thur": 3,
    "thurs": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}
_EVERY_DAY: Final = (0, 1, 2, 3, 4, 5, 6)
_GROUPS: Final = {
    "weekdays": (0, 1, 2, 3, 4),
    "workdays": (0, 1, 2, 3, 4),
    "weekend": (5, 6),
    "weekends": (5, 6),
    "all": _EVERY_DAY,
    "daily": _EVERY_DAY,
    "every": _EVERY_DAY,
}
_FORMS: Final = (
    "use mon, tue, wed, thu, fri, sat, sun, ranges such as mon-fri (or sat-mon across the "
    "weekend), or weekdays, weekend, all"
)


@overload
def parse_weekdays(value: str | int | Iterable[str]) -> int: ...
@overload
def parse_weekdays(value: None) -> None: ...
@overload
def parse_weekdays(value: str | int | Iterable[str] | None) -> int | None: ...


def parse_weekdays(value: str | int | Iterable[str] | None) -> int | None:
    """Nuki's weekday mask for ``value`` (None for None: no restriction)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TimeZoneError("weekdays are names (mon-fri) or a mask 1..127")
    if isinstance(value, int):
        if not 1 <= value <= ALL_DAYS:
            raise TimeZoneError("a weekday mask is 1..127 (Mon 64, Tue 32, ... Sun 1)")
        return value
    parts = [value] if isinstance(value, str) else _texts(value)
    tokens = [t.strip().lower() for part in parts for t in part.split(",") if t.strip()]
    if not tokens:
        raise TimeZoneError(
            "give weekdays such as mon,tue or mon-fri (leave them out for every day)"
        )
    days: set[int] = set()
    for token in tokens:
        if token in _GROUPS:
            days.update(_GROUPS[token])
        elif "-" in token:
            first, _, last = token.partition("-")
            day, end = _day(first), _day(last)
            days.add(day)
            while day != end:  # forwards, wrapping from Sunday to Monday
                day = (day + 1) % 7
                days.add(day)
        else:
            days.add(_day(token))
    return sum(WEEKDAY_BITS[day] for day in days)


def _texts(value: object) -> list[str]:
    if not isinstance(value, Iterable) or isinstance(value, bytes | dict):
        raise TimeZoneError(f"weekdays are names (mon-fri) or a mask 1..127, not {shown(value)}")
    items = list(value)
    if not all(isinstance(item, str) for item in items):
        raise TimeZoneError("weekdays are names such as mon or mon-fri")
    return items


def _day(token: str) -> int:
    key = token.strip().lower()
    if key in WEEKDAY_NAMES:
        return WEEKDAY_NAMES.index(key)
    if key in _ALIASES:
        return _ALIASES[key]
    raise TimeZoneError(f"unknown weekday {shown(token)}; {_FORMS}")


def format_weekdays(mask: int | None, *, capitalized: bool = False) -> str:
    """``mon,tue`` (``Mon,Tue`` when ``capitalized``); ``every day`` for None and 127."""
    if mask is None or mask == ALL_DAYS:
        return "every day"
    if mask == 0:
        return "no day"
    names = (name.capitalize() if capitalized else name for name in WEEKDAY_NAMES)
    return ",".join(name for name, bit in zip(names, WEEKDAY_BITS, strict=True) if mask & bit)


def rotate_weekdays(mask: int | None, days: int) -> int | None:
    """The mask moved ``days`` days later (a daily window shifted across midnight)."""
    if mask is None or days == 0:
        return mask
    result = 0
    for i, bit in enumerate(WEEKDAY_BITS):
        if mask & bit:
            result |= WEEKDAY_BITS[(i + days) % 7]
    return result


def format_weekday_ranges(mask: int | None) -> str:
    """``mon-fri``, ``mon,wed,fri``, ``sat-mon`` (a run over the weekend), ``every day``: the
    mask as people write it, runs of three or more days as ranges."""
    if mask is None or mask == ALL_DAYS:
        return "every day"
    if mask == 0:
        return "no day"
    days = [bool(mask & bit) for bit in WEEKDAY_BITS]
    # Start at a day that is off, so a run over the weekend stays whole.
    start = days.index(False)
    order = [(start + i) % 7 for i in range(7)]
    runs: list[list[int]] = []
    for day in order:
        if days[day]:
            if runs and runs[-1][-1] == (day - 1) % 7 and days[(day - 1) % 7]:
                runs[-1].append(day)
            else:
                runs.append([day])
    runs.sort(key=lambda run: run[0])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{WEEKDAY_NAMES[run[0]]}-{WEEKDAY_NAMES[run[-1]]}")
        else:
            parts.extend(WEEKDAY_NAMES[day] for day in run)
    return ",".join(parts)
