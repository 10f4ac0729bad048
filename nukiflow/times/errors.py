"""Internal: the error every time parser of :mod:`nukiflow.times` raises for what it cannot read.

Public as :class:`nukiflow.TimeZoneError` (and :class:`nukiflow.times.zones.TimeZoneError`).
"""

from __future__ import annotations


class TimeZoneError(ValueError):
    """A date, time, weekday or zone that cannot be read or converted without guessing (an
    unknown zone, a local time the clocks skip or repeat, ``funday``); the message says what
    to give instead."""
