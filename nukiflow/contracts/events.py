"""What the webhook receiver forwards to workflows: signal names, event models, workflow ids.

This module is the contract between the receiver (:mod:`nukiflow.webhooks`), which turns Nuki's
signed deliveries into Temporal signals, and the workflows that take them (the authorization
entity, the lock workflow, the drift ledger). It imports models only, never workflows,
activities, the facade or the command line, so both sides can share it.

- ``DEVICE_AUTHS`` becomes an :class:`AuthEvent`, signalled as :data:`AUTH_EVENT_SIGNAL` to the
  auth's entity (``nuki-auth-<smartlockId>-<authId>``). When no entity runs for the auth, an
  :class:`UnmanagedAuthSighting` (the same event without the code) is signalled as
  :data:`UNMANAGED_AUTH_SIGNAL` to the lock's drift ledger (``nuki-unmanaged-<smartlockId>``),
  started if need be.
- ``DEVICE_STATUS`` and ``DEVICE_LOGS`` become a :class:`LockEvent`, signalled as
  :data:`LOCK_EVENT_SIGNAL` to the lock workflow (``nuki-lock-<smartlockId>``) when it runs.

Deliveries may come late, twice, out of order or not at all, so an event is a hint about the
lock, not a verdict: ``digest`` (SHA-256 of the delivery's raw body) identifies a delivery for
deduplication across receivers, ``received_at`` says when it arrived, and the auth's
``update_date`` orders two states of one auth. The workflows' polling stays the fallback for
what never arrives.

An :class:`AuthEvent` carries the auth as the lock reports it, keypad code included: Temporal
payloads are encrypted by nukiflow's codec, and the code is left out of ``repr`` (never log an
event's fields one by one either). Every model ignores fields it does not know, so workers of
an older and a newer version read each other's signals.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from nukiflow.contracts.action import lock_workflow_id
from nukiflow.contracts.entity import auth_workflow_id

# Signal names and the drift ledger's workflow type (so the receiver can signal-with-start it
# without importing workflow code) live with every other recorded name.
from nukiflow.contracts.names import (
    AUTH_EVENT_SIGNAL as AUTH_EVENT_SIGNAL,
)
from nukiflow.contracts.names import (
    DRIFT_LEDGER_WORKFLOW as DRIFT_LEDGER_WORKFLOW,
)
from nukiflow.contracts.names import (
    LOCK_EVENT_SIGNAL as LOCK_EVENT_SIGNAL,
)
from nukiflow.contracts.names import (
    UNMANAGED_AUTH_SIGNAL as UNMANAGED_AUTH_SIGNAL,
)
from nukiflow.contracts.validation import AuthId, SmartlockId
from nukiflow.contracts.wire import SmartlockAuth, SmartlockLog, SmartlockState

UNMANAGED_PREFIX = "nuki-unmanaged-"
# Its ``NukiKind`` search attribute.
LEDGER_KIND = "unmanaged"

__all__ = [
    "AUTH_EVENT_SIGNAL",
    "DRIFT_LEDGER_WORKFLOW",
    "LEDGER_KIND",
    "LOCK_EVENT_SIGNAL",
    "UNMANAGED_AUTH_SIGNAL",
    "AuthEvent",
    "LockEvent",
    "LockEventKind",
    "UnmanagedAuthSighting",
    "auth_workflow_id",
    "drift_ledger_workflow_id",
    "lock_workflow_id",
]


def drift_ledger_workflow_id(smartlock_id: int) -> str:
    """The drift ledger of one smartlock: the auths seen on it that nukiflow does not manage."""
    return f"{UNMANAGED_PREFIX}{smartlock_id}"


class EventModel(BaseModel):
    """Base of the event models: unknown fields are ignored (old and new workers share them)."""

    model_config = ConfigDict(extra="ignore")


class AuthEvent(EventModel):
    """A ``DEVICE_AUTHS`` delivery: an auth as the lock now holds it (or held it, if deleted)."""

    smartlock_id: SmartlockId
    auth_id: AuthId
    deleted: bool
    # Keypad code included (encrypted in Temporal, not in repr): a consumer compares it.
    auth: SmartlockAuth
    received_at: datetime
    digest: str = Field(description="SHA-256 (hex) of the delivery's raw body")


class LockEventKind(StrEnum):
    STATUS = "status"
    LOG = "log"


class LockEvent(EventModel):
    """A ``DEVICE_STATUS`` (``state``, ``server_state``) or ``DEVICE_LOGS`` (``log``) delivery."""

    smartlock_id: SmartlockId
    kind: LockEventKind
    state: SmartlockState | None = None
    server_state: int | None = None
    log: SmartlockLog | None = None
    received_at: datetime
    digest: str = Field(description="SHA-256 (hex) of the delivery's raw body")


class UnmanagedAuthSighting(EventModel):
    """An auth reported by the lock while no entity workflow manages it. No code: the ledger
    keeps what an operator needs to decide about the auth, never what opens the door."""

    smartlock_id: SmartlockId
    auth_id: AuthId
    name: str
    type: int
    enabled: bool
    deleted: bool
    # When the auth last changed, as Nuki says (orders two sightings of one auth).
    update_date: datetime | None = None
    received_at: datetime
    digest: str
    # An entity for this auth ran once and has ended (its auth was deleted or not found).
    entity_ended: bool = False

    @classmethod
    def of(cls, event: AuthEvent, *, entity_ended: bool = False) -> UnmanagedAuthSighting:
        auth = event.auth
        return cls(
            smartlock_id=event.smartlock_id,
            auth_id=event.auth_id,
            name=auth.name,
            type=auth.type,
            enabled=auth.enabled,
            deleted=event.deleted,
            update_date=auth.update_date,
            received_at=event.received_at,
            digest=event.digest,
            entity_ended=entity_ended,
        )
