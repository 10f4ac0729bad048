"""Internal: Nuki's time zone ids (`Smartlock.config.timezoneId`, 0..45 per the spec).

Nuki numbers the zones a lock can be set to in a table of its developer documentation (the
Bluetooth API's "timezone id", the same ids the Web API's `timezoneId` carries); 65535 there
means "none", which the Web API's range leaves out. The table itself is
`nukiflow/times/nuki_zones.py`, shared with the grants that read a lock's zone.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

# One table for nukiflow and its fake cloud (its provenance is said there).
from nukiflow.times.nuki_zones import NUKI_TIMEZONES as NUKI_TIMEZONES

DEFAULT_TIMEZONE_ID = 37  # Europe/Berlin

# Any fixed instant gives a zone's standard offset as utcoffset() - dst(); fixed, so a lock's
# listing does not change with the season (the field is deprecated anyway).
_REFERENCE = datetime(2025, 1, 15, 12, 0)


def standard_offset_minutes(timezone_id: int) -> int:
    """`config.timezoneOffset`: the zone's standard (non-summer) offset from UTC in minutes."""
    zone = ZoneInfo(NUKI_TIMEZONES[timezone_id])
    moment = _REFERENCE.replace(tzinfo=zone)
    offset, dst = moment.utcoffset(), moment.dst()
    assert offset is not None and dst is not None
    return int((offset - dst).total_seconds() // 60)
