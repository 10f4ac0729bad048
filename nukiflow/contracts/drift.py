"""Input, carried memory and query view of the drift ledger workflow (``nuki-unmanaged-<id>``).

One ledger per smartlock keeps the auths that the lock reported (through ``DEVICE_AUTHS``
webhooks) while no nukiflow entity managed them: made in the Nuki app, on the keypad, by another
integration, or left from before nukiflow. It keeps what an operator needs to decide about each
one (id, name, type, enabled, deleted, when it was seen), never a keypad code, and at most
``max_entries`` auths (deleted ones are dropped first, then the ones seen longest ago).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from nukiflow.contracts.events import UnmanagedAuthSighting
from nukiflow.contracts.validation import SmartlockId

# A Nuki lock holds a few hundred auths at most; the ledger keeps room for churn beyond that.
DEFAULT_MAX_ENTRIES = 500
# Delivery digests remembered to ignore a delivery taken twice.
REMEMBERED_DIGESTS = 200


class LedgerStatus(StrEnum):
    """Kept in the ``NukiStatus`` search attribute."""

    # At least one auth nukiflow does not manage is on the lock (as last reported).
    UNMANAGED = "unmanaged"
    # Every unmanaged auth seen was deleted since (or none was seen yet).
    CLEAR = "clear"


class UnmanagedAuth(BaseModel):
    """One auth the lock reported while nukiflow did not manage it."""

    model_config = ConfigDict(extra="ignore")

    auth_id: str
    name: str
    type: int
    enabled: bool
    deleted: bool = False
    # When Nuki says the auth last changed, and when the state kept here was received: the
    # newer of two reports wins (deliveries may come out of order).
    update_date: datetime | None = None
    reported_at: datetime
    first_seen: datetime
    last_seen: datetime
    sightings: int = 1
    # An entity for this auth ran once and ended before this was seen.
    entity_ended: bool = False

    @classmethod
    def first(cls, sighting: UnmanagedAuthSighting) -> UnmanagedAuth:
        return cls(
            auth_id=sighting.auth_id,
            name=sighting.name,
            type=sighting.type,
            enabled=sighting.enabled,
            deleted=sighting.deleted,
            update_date=sighting.update_date,
            reported_at=sighting.received_at,
            first_seen=sighting.received_at,
            last_seen=sighting.received_at,
            entity_ended=sighting.entity_ended,
        )


class DriftLedgerInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    smartlock_id: SmartlockId
    max_entries: int = Field(default=DEFAULT_MAX_ENTRIES, ge=10, le=5000)
    # Continue-as-new once a run's history is this long (or when Temporal suggests it).
    max_history_events: int = Field(default=2000, ge=100)
    # Carried across continue-as-new.
    entries: list[UnmanagedAuth] = Field(default_factory=list)
    sightings: int = 0
    evicted: int = 0
    # Digests of the last deliveries taken: the same delivery again (through another receiver,
    # or after a receiver restarted) is ignored.
    recent_digests: list[str] = Field(default_factory=list)


class DriftLedgerView(BaseModel):
    """The ``state`` query's answer: the auths, newest sighting first."""

    smartlock_id: int
    status: LedgerStatus
    unmanaged: int = Field(description="Auths on the lock (as last reported), not deleted")
    deleted: int
    entries: list[UnmanagedAuth]
    sightings: int
    evicted: int
    history_length: int
