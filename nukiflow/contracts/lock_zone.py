"""Reading a lock's own time zone (``config.timezoneId``) for an access grant, in a worker
(which holds the Nuki token): the input and answer of the ``NukiLockZone`` workflow."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from nukiflow.contracts.accounts import AccountName
from nukiflow.contracts.validation import SmartlockId


class LockZoneInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    smartlock_id: SmartlockId
    # The lock's Nuki account (None: the default one): its activity runs on that account's queue.
    account: AccountName | None = None


class LockZone(BaseModel):
    model_config = ConfigDict(extra="ignore")

    smartlock_id: int
    # Nuki's id as the lock reports it (None: not set), and its IANA name (None: unset, or an
    # id nukiflow's table does not know).
    timezone_id: int | None = None
    zone: str | None = None
