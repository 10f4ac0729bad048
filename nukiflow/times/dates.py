"""Internal: dates and date-times as UTC instants, one rule for every edge.

Accepted: ISO 8601 (``2026-05-01``, ``2026-05-01T18:00``, ``2026-05-01 18:00``, with ``Z`` or
an offset), a ``datetime`` or ``date`` from Python, and, where the caller allows relative
dates, ``now`` and ``+DURATION`` (``+2h``, ``+1h30m``; at most 36500 days ahead). A bare date
means midnight. A date-time without a zone is read in a zone the caller names (``--tz``, a
plan's ``tz``, the command line's machine zone) with the rules of *that* date; one that does
not exist there (the clocks jump forward) or exists twice (they go back) is refused, naming
both offsets: the caller gives the offset to choose. Every instant must lie in the supported
range (:mod:`nukiflow.contracts.validation`).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nukiflow.contracts.messages import shown
from nukiflow.contracts.validation import (
    EARLIEST_DATE,
    LATEST_DATE,
    InputError,
    check_date,
    date_range,
)
from nukiflow.times.durations import parse_duration
from nukiflow.times.errors import TimeZoneError

# The furthest ahead ``+DURATION`` may point (the date itself must also be in range).
MAX_AHEAD: Final = timedelta(days=36500)
_ZONE_NAME: Final = re.compile(r"[A-Za-z0-9_+-]{1,40}(?:/[A-Za-z0-9_+-]{1,40}){0,3}")
# How a message tells the caller to name a zone (the command line and plans say it their way).
ZONE_HINT: Final = "tz='Europe/Berlin'"


class _LocalZone:
    """Marks "the time zone of this machine" (with its own DST rules) for :func:`to_utc`."""


LOCAL: Final = _LocalZone()
Zone = tzinfo | str | _LocalZone | None


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (e.g. ``Europe/Berlin``), or a clear error."""
    try:
        if not isinstance(name, str) or not _ZONE_NAME.fullmatch(name):
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise TimeZoneError(
            f"unknown time zone {shown(name, 60)}: use an IANA name such as Europe/Berlin (a "
            "system without a zone database needs the tzdata package)"
        ) from None


def read_zone(value: tzinfo | str | None) -> tzinfo | None:
    """A zone given as a name or a ``tzinfo`` (None stays None)."""
    if value is None or isinstance(value, tzinfo):
        return value
    return zone(value)


def zone_name(value: tzinfo | str | None) -> str | None:
    """The IANA name of a zone (``Europe/Berlin``), else how it prints."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return getattr(value, "key", None) or str(value)


def parse_datetime(
    value: str | datetime | date,
    *,
    now: datetime | None = None,
    relative: bool = True,
    what: str = "the date",
) -> datetime:
    """``value`` as a date-time: naive unless it carries a zone (``now`` and ``+DURATION``
    are aware). ``relative=False`` refuses ``now`` and ``+DURATION``."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if not isinstance(value, str):
        raise TimeZoneError(f"{what} is ISO 8601 text or a datetime, not {type(value).__name__}")
    text = value.strip()
    if text.lower() == "now" or text.startswith("+"):
        if not relative:
            raise InputError(
                f"{what} {shown(value)} is relative; here a date is ISO 8601 (e.g. "
                "2026-05-01T18:00), so that it means the same whenever it is read"
            )
        current = (now or datetime.now(UTC)).astimezone(UTC)
        if text.lower() == "now":
            return current
        return current + parse_duration(text[1:], maximum=MAX_AHEAD, what="a time from now")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        others = ", now or +2h" if relative else ""
        raise TimeZoneError(
            f"{shown(value)} is not a date-time; use ISO 8601, e.g. 2026-05-01, "
            f"2026-05-01T18:00 or 2026-05-01T18:00+02:00{others}"
        ) from None


def to_utc(
    value: str | datetime | date,
    tz: Zone,
    *,
    what: str = "time",
    now: datetime | None = None,
    relative: bool = True,
    zone_hint: str = ZONE_HINT,
) -> datetime:
    """``value`` as a UTC instant; a naive value is read in ``tz`` with that date's rules
    (``LOCAL``: this machine's time zone).

    Raises :class:`TimeZoneError` for text that is no date, a naive value without a zone, and
    local times that do not exist or exist twice in ``tz`` (clocks changing): give an offset
    to choose. A date outside the supported range raises :class:`InputError`.
    """
    moment = parse_datetime(value, now=now, relative=relative, what=what)
    # Far outside the range, converting could leave the calendar (year 0 or 10000).
    if not EARLIEST_DATE.year - 1 <= moment.year <= LATEST_DATE.year + 1:
        raise InputError(f"{what} must lie between {date_range()}")
    if moment.tzinfo is not None:
        return check_date(moment, what=what)
    where = tz if isinstance(tz, _LocalZone) else read_zone(tz)
    shown_time = moment.strftime("%Y-%m-%d %H:%M")
    if where is None:
        raise TimeZoneError(
            f"{what} {shown_time} has no time zone: give a zone ({zone_hint}) or an offset "
            "(2026-03-29T10:00+02:00)"
        )
    first, second = _readings(moment, where)
    if first.utcoffset() == second.utcoffset():
        return check_date(first, what=what)
    if isinstance(where, _LocalZone):
        name = f"this machine's time zone ({first.tzname()})"
    else:
        name = zone_name(where) or "its time zone"
    early, late = _offset(first.utcoffset()), _offset(second.utcoffset())
    local = f"{moment:%Y-%m-%dT%H:%M}"
    if _wall_time(first, where) == moment and _wall_time(second, where) == moment:
        raise TimeZoneError(
            f"{what} {shown_time} happens twice in {name} (the clocks go back): give the "
            f"offset, {local}{early} for the first or {local}{late} for the second"
        )
    raise TimeZoneError(
        f"{what} {shown_time} does not exist in {name} (the clocks jump forward from {early} "
        f"to {late} that night): give a time outside the skipped hour, or the offset you mean "
        f"({local}{early} or {local}{late})"
    )


def _offset(value: timedelta | None) -> str:
    total = int((value or timedelta()).total_seconds() // 60)
    sign = "+" if total >= 0 else "-"
    hours, minutes = divmod(abs(total), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


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
