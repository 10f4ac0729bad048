"""Internal: durations as people write them, one rule for every edge.

``90`` (seconds), ``30s``, ``5m``, ``2h``, ``1d``, ``1w``, ``500ms``, ``1.5h`` and compounds such
as ``1h30m`` or ``1h 30m`` (units ``ms``, ``s``/``sec``, ``m``/``min``, ``h``, ``d``, ``w``, any
case); a number (from Python or a plan file) is seconds. The command line's ``--deadline``,
``+DURATION`` dates and a plan's timing options all read them here.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final

from nukiflow.contracts.messages import shown
from nukiflow.contracts.validation import MAX_DURATION, InputError, check_seconds, format_span

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
_PART: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|sec|min|s|m|h|d|w)", re.IGNORECASE)
EXAMPLES: Final = "30s, 5m, 2h, 1d or 1h30m"


def parse_duration(
    value: str | float, *, maximum: timedelta = MAX_DURATION, what: str = "a duration"
) -> timedelta:
    """A duration from text or a number of seconds: finite, longer than zero and at most
    ``maximum`` (30 days unless the caller says); :class:`InputError` otherwise."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InputError(f"{what} is a number of seconds or a duration such as {EXAMPLES}")
    if isinstance(value, str):
        seconds = _seconds(value, what)
    else:
        try:
            seconds = float(value)
        except OverflowError:  # an int beyond any float
            raise InputError(
                f"{what} must be at most {format_span(maximum.total_seconds())}"
            ) from None
    check_seconds(seconds, what=f"{what} ({shown(value)})", maximum=maximum)
    return timedelta(seconds=seconds)


def _seconds(text: str, what: str) -> float:
    raw = text.strip()
    if not raw:
        raise InputError(f"give {what} such as {EXAMPLES}")
    try:
        return float(raw)
    except ValueError:
        pass
    compact = raw.replace(" ", "")
    position, seconds = 0, 0.0
    for match in _PART.finditer(compact):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2).lower()]
        position = match.end()
    if position == 0 or position != len(compact):
        raise InputError(f"{shown(text)} is not a duration; use e.g. {EXAMPLES}")
    return seconds


def format_duration(value: timedelta) -> str:
    """The short form :func:`parse_duration` reads back (``1h30m``, ``45s``, ``1.5s``)."""
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
