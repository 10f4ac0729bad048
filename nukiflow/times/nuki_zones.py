"""Nuki's time zone ids (``Smartlock.config.timezoneId``, 0..45 in the Web API's description)
as IANA zone names: the lock evaluates an auth's daily times and weekdays in this zone.

Where the table comes from: the Web API's description says only "check
https://developer.nuki.io for ids"; Nuki's own table could not be consulted while this was
written (it is not part of the Web API's OpenAPI description, and no copy of it was at hand).
The table below is nukiflow's: 46 zones, one per id, in alphabetical order of their IANA names
(which is how the fake cloud numbers them). Check it against Nuki's developer documentation
before trusting a lock's id in production; ``--lock-tz`` (``lock_tz=``) overrides it.
"""

from __future__ import annotations

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


def nuki_zone_name(timezone_id: int | None) -> str | None:
    """The IANA name of Nuki's ``timezoneId`` (None when unset or not in the table)."""
    if timezone_id is None:
        return None
    return NUKI_TIMEZONES.get(timezone_id)
