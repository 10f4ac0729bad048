"""Internal: Nuki's time zone ids (`Smartlock.config.timezoneId`, 0..45 per the spec).

Nuki numbers the zones a lock can be set to in a table of its developer documentation (the
Bluetooth API's "timezone id", the same ids the Web API's `timezoneId` carries); 65535 there
means "none", which the Web API's range leaves out.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

NUKI_TIMEZONES: dict[int, str] = {
    0: "Africa/Cairo",
    1: "Africa/Lagos",
    2: "Africa/Maputo",
    3: "Africa/Nairobi",
    4: "America/Anchorage",
    5: "America/Argentina/Buenos_Aires",
    6: "America/Chicago",
    7: "America/Denver",
    8: "America/Halifax",
    9: "America/Los_Angeles",
    10: "America/Manaus",
    11: "America/Mexico_City",
    12: "America/New_York",
    13: "America/Phoenix",
    14: "America/Regina",
    15: "America/Santiago",
    16: "America/Sao_Paulo",
    17: "America/St_Johns",
    18: "Asia/Bangkok",
    19: "Asia/Dubai",
    20: "Asia/Hong_Kong",
    21: "Asia/Jerusalem",
    22: "Asia/Karachi",
    23: "Asia/Kathmandu",
    24: "Asia/Kolkata",
    25: "Asia/Riyadh",
    26: "Asia/Seoul",
    27: "Asia/Shanghai",
    28: "Asia/Tehran",
    29: "Asia/Tokyo",
    30: "Asia/Yangon",
    31: "Australia/Adelaide",
    32: "Australia/Brisbane",
    33: "Australia/Darwin",
    34: "Australia/Hobart",
    35: "Australia/Perth",
    36: "Australia/Sydney",
    37: "Europe/Berlin",
    38: "Europe/Helsinki",
    39: "Europe/Istanbul",
    40: "Europe/London",
    41: "Europe/Moscow",
    42: "Pacific/Auckland",
    43: "Pacific/Guam",
    44: "Pacific/Honolulu",
    45: "Pacific/Pago_Pago",
}

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
