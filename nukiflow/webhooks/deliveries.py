"""Internal: reading a verified delivery's body into the event it reports.

Bodies are parsed from Python values (``json.loads``, then the models), so the shared
validation layer checks the ids that become workflow ids (a smartlock id from 1 to 2^63-1, an
auth id of 24 hex characters); a body that does not fit is :class:`UnreadableDelivery`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from nukiflow.contracts.events import AuthEvent, LockEvent, LockEventKind
from nukiflow.contracts.wire import SmartlockAuth, SmartlockLog, SmartlockState

# The features nukiflow forwards; Nuki has others (DEVICE_CONFIG, ACCOUNT_USER, ...), which are
# acknowledged and not forwarded.
FORWARDED_FEATURES = ("DEVICE_AUTHS", "DEVICE_STATUS", "DEVICE_LOGS")

Event = AuthEvent | LockEvent


class UnreadableDelivery(ValueError):
    """A signed body that is not the delivery it claims to be. The message names the problem,
    never a value from the body."""


class UnhandledFeature(Exception):
    """A delivery of a feature nukiflow does not forward."""

    def __init__(self, feature: str) -> None:
        super().__init__(feature)
        self.feature = feature


def digest(body: bytes) -> str:
    """A delivery's identity: SHA-256 of its raw body (Nuki sends no delivery id)."""
    return hashlib.sha256(body).hexdigest()


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UnreadableDelivery(f"{what} is not a JSON object")
    return value


def parse_delivery(body: bytes, *, received_at: datetime, body_digest: str) -> Event:
    """The event a delivery reports (raises :class:`UnreadableDelivery` or
    :class:`UnhandledFeature`)."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        raise UnreadableDelivery("the body is not JSON") from None
    data = _object(parsed, "the body")
    feature = data.get("feature")
    if not isinstance(feature, str):
        raise UnreadableDelivery("the body has no feature")
    try:
        if feature == "DEVICE_AUTHS":
            auth = SmartlockAuth.model_validate(_object(data.get("smartlockAuth"), "smartlockAuth"))
            deleted = data.get("deleted")
            if not isinstance(deleted, bool):
                raise UnreadableDelivery("DEVICE_AUTHS: deleted is not true or false")
            return AuthEvent(
                smartlock_id=auth.smartlock_id,
                auth_id=auth.id,
                deleted=deleted,
                auth=auth,
                received_at=received_at,
                digest=body_digest,
            )
        if feature == "DEVICE_STATUS":
            state = SmartlockState.model_validate(_object(data.get("state"), "state"))
            server_state = data.get("serverState")
            if server_state is not None and (
                isinstance(server_state, bool) or not isinstance(server_state, int)
            ):
                raise UnreadableDelivery("DEVICE_STATUS: serverState is not a number")
            return LockEvent(
                smartlock_id=data.get("smartlockId"),
                kind=LockEventKind.STATUS,
                state=state,
                server_state=server_state,
                received_at=received_at,
                digest=body_digest,
            )
        if feature == "DEVICE_LOGS":
            entry = SmartlockLog.model_validate(_object(data.get("smartlockLog"), "smartlockLog"))
            smartlock_id = data.get("smartlockId", entry.smartlock_id)
            if smartlock_id != entry.smartlock_id:
                raise UnreadableDelivery("DEVICE_LOGS: the entry names another smartlock")
            return LockEvent(
                smartlock_id=smartlock_id,
                kind=LockEventKind.LOG,
                log=entry,
                received_at=received_at,
                digest=body_digest,
            )
    except ValidationError as exc:
        raise UnreadableDelivery(f"{feature}: {_fields(exc)}") from None
    raise UnhandledFeature(feature[:40])


def _fields(exc: ValidationError) -> str:
    """Which fields were wrong, without their values (a body may quote a keypad code)."""
    locations = sorted({".".join(str(part) for part in error["loc"]) for error in exc.errors()})
    return "invalid " + (", ".join(locations[:5]) or "values")


def event_date(event: Event) -> datetime | None:
    """When the reported change happened, as the body itself says, or None where it does not
    say: an auth's ``updateDate`` (not for a deletion: it dates the auth's last change, not the
    deletion), a log entry's ``date``; a status carries no date."""
    if isinstance(event, AuthEvent):
        date = None if event.deleted else event.auth.update_date
    elif event.kind is LockEventKind.LOG and event.log is not None:
        date = event.log.date
    else:
        date = None
    if date is not None and date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    return date
