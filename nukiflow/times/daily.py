"""Internal: daily windows (``08:00-18:30``) as minutes after midnight in the lock's time.

One rule for the command line, plan files and the Python API: ``HH:MM-HH:MM`` (the minutes may
be left out: ``8-17``), ``24:00`` as the end meaning 23:59, the last minute Nuki can hold. The
window must start before it ends on the same day: Nuki cannot hold one across midnight.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Final, overload

from nukiflow.contracts.auth import MINUTES_PER_DAY
from nukiflow.contracts.messages import shown
from nukiflow.times.errors import TimeZoneError

_WINDOW: Final = re.compile(r"\s*(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?\s*")
_LAST_MINUTE: Final = MINUTES_PER_DAY - 1


@overload
def parse_times(value: str | tuple[int, int]) -> tuple[int, int]: ...
@overload
def parse_times(value: None) -> None: ...
@overload
def parse_times(value: str | tuple[int, int] | None) -> tuple[int, int] | None: ...


def parse_times(value: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """(from, until) in minutes after midnight (None for None: no daily window). A tuple of
    minutes (from Python) is checked as it is."""
    if value is None:
        return None
    if isinstance(value, tuple):
        return _minutes(value)
    if not isinstance(value, str):
        raise TimeZoneError(f"a daily window is text such as 08:00-18:30, not {shown(value)}")
    if not value.strip():
        raise TimeZoneError("give a daily window such as 08:00-18:30 (leave it out for all day)")
    match = _WINDOW.fullmatch(value)
    if not match:
        raise TimeZoneError(
            f"{shown(value)} is not a daily window; use HH:MM-HH:MM, e.g. 08:00-18:30"
        )
    h1, m1, h2, m2 = (int(group or 0) for group in match.groups())
    if (h2, m2) == (24, 0):
        h2, m2 = 23, 59
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise TimeZoneError(
            f"{shown(value)}: times run from 00:00 to 23:59 (24:00 as the end means 23:59)"
        )
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start >= end:
        raise TimeZoneError(
            f"the daily window {shown(value)} crosses midnight or is empty: it must start "
            "before it ends on the same day (for a night window use two, one each side of "
            "midnight)"
        )
    return start, end


def _minutes(value: tuple[object, ...]) -> tuple[int, int]:
    if len(value) == 2:
        start, end = value
        if (
            isinstance(start, int)
            and isinstance(end, int)
            and not isinstance(start, bool)
            and not isinstance(end, bool)
            and 0 <= start < end <= _LAST_MINUTE
        ):
            return start, end
    raise TimeZoneError("daily minutes are (from, until) with 0 <= from < until <= 1439")


def clock(minutes: int) -> time:
    """Minutes after midnight as a time of day."""
    return time(minutes // 60, minutes % 60)


def format_minutes(minutes: int) -> str:
    """``08:05``."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
