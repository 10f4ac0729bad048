"""The activity behind ``NukiLockZone``: the lock's ``config.timezoneId`` as a zone name."""

from __future__ import annotations

from temporalio import activity

from nukiflow.activities.failures import to_application_error
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.activities.nuki_errors import NukiError
from nukiflow.contracts.lock_zone import LockZone, LockZoneInput
from nukiflow.contracts.names import LOCK_ZONE_ACTIVITY
from nukiflow.times.nuki_zones import nuki_zone_name


class LockZoneActivities:
    def __init__(self, nuki: NukiClient) -> None:
        self.nuki = nuki

    @activity.defn(name=LOCK_ZONE_ACTIVITY)
    async def lock_zone(self, input: LockZoneInput) -> LockZone:
        try:
            lock = await self.nuki.get_smartlock(input.smartlock_id)
        except NukiError as exc:
            raise to_application_error(exc) from None
        timezone_id = None if lock.config is None else lock.config.timezone_id
        return LockZone(
            smartlock_id=input.smartlock_id,
            timezone_id=timezone_id,
            zone=nuki_zone_name(timezone_id),
        )
