"""The periodic drift sweep: its input and result, its schedule's ids, and the reports it makes.

When webhooks are off or a delivery is lost, the entity hears nothing about a change made on
the lock. The sweep closes that gap: a Temporal Schedule starts the sweep workflow every few
minutes; its one activity lists every auth of the account in one request
(``GET /smartlock/auth``) and hands each auth to its entity as an :class:`AuthEvent` through the
same ``nuki_auth_event`` signal the webhook receiver sends (or, when no entity runs for it, to
the lock's drift ledger). An auth nukiflow manages that the listing no longer holds is reported
deleted. The entity judges these reports as it judges webhooks: a report not newer than what
it knows, one it took before (``digest``), or one with a pending ``operationId`` is ignored.

The digest of a listed auth covers its id, lock, ``updateDate`` and the fields the entity
compares, never the keypad code (a SHA-256 of six digits and known fields is easily reversed):
an auth listed unchanged sweep after sweep is the same report, taken once.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from nukiflow.contracts.events import AuthEvent
from nukiflow.contracts.wire import SmartlockAuth

# The schedule that starts the sweep, and the id of the workflows it starts (Temporal appends
# the scheduled time to it).
SWEEP_SCHEDULE_ID: Final = "nukiflow-drift-sweep"
SWEEP_WORKFLOW_ID: Final = "nuki-drift-sweep"
DEFAULT_SWEEP_EVERY_SECONDS: Final = 15 * 60.0
# The shortest interval a schedule takes: a sweep lists the whole account, and Nuki rate-limits.
MIN_SWEEP_EVERY_SECONDS: Final = 10.0
MAX_SWEEP_EVERY_SECONDS: Final = 7 * 24 * 3600.0
# Digest prefixes: a sweep's report is never mistaken for a delivery's.
_LISTED = "sweep-listed\n"
_GONE = "sweep-gone\n"


class SweepInput(BaseModel):
    """Input of the sweep workflow (and its activity)."""

    model_config = ConfigDict(extra="ignore")

    # Signals sent at once; thousands of auths go through in batches of this size.
    concurrency: int = Field(default=20, ge=1, le=200)
    # One attempt of the sweep's activity (a listing, then one signal per auth).
    attempt_timeout_seconds: float = Field(default=600.0, gt=0)
    # The activity heartbeats at least this often while it signals.
    heartbeat_timeout_seconds: float = Field(default=60.0, gt=0)


class SweepResult(BaseModel):
    """What one sweep did (counts only: no auth's fields)."""

    model_config = ConfigDict(extra="ignore")

    smartlocks: int = 0
    auths: int = 0
    # Reports signalled to a running entity.
    to_entities: int = 0
    # Reports of auths no entity manages, signalled to the lock's drift ledger.
    to_ledgers: int = 0
    # Auths no entity manages that the ledger already holds as listed: not sent again.
    unchanged: int = 0
    # Managed auths the listing no longer holds, reported deleted to their entities.
    disappeared: int = 0
    # Reports nobody needed (an ended entity's auth reported gone) or that failed to reach
    # Temporal.
    ignored: int = 0
    failed: int = 0
    listed_at: datetime | None = None


def listed_digest(auth: SmartlockAuth) -> str:
    """The digest of a listed auth's state (no code: see the module's docstring)."""
    fields = auth.model_dump(
        mode="json",
        include={
            "id",
            "smartlock_id",
            "type",
            "name",
            "enabled",
            "remote_allowed",
            "account_user_id",
            "allowed_from_date",
            "allowed_until_date",
            "allowed_week_days",
            "allowed_from_time",
            "allowed_until_time",
            "update_date",
            "operation_id",
        },
    )
    fields["has_code"] = auth.code is not None
    text = _LISTED + json.dumps(fields, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def listed_report(auth: SmartlockAuth, listed_at: datetime) -> AuthEvent:
    """What the listing says about one auth, as the entity's ``nuki_auth_event`` takes it."""
    return AuthEvent(
        smartlock_id=auth.smartlock_id,
        auth_id=auth.id.lower(),
        deleted=False,
        auth=auth,
        received_at=listed_at,
        digest=listed_digest(auth),
    )


def gone_report(smartlock_id: int, auth_id: str, listed_at: datetime) -> AuthEvent:
    """A managed auth the listing no longer holds: reported deleted. The listing says nothing
    of it, so the report carries no fields and no date (the entity judges a deletion by its
    digest alone, which is the same every sweep: reported once)."""
    digest = hashlib.sha256(f"{_GONE}{smartlock_id}\n{auth_id}".encode()).hexdigest()
    gone = SmartlockAuth(
        id=auth_id, smartlock_id=smartlock_id, type=0, name="", enabled=False, remote_allowed=False
    )
    return AuthEvent(
        smartlock_id=smartlock_id,
        auth_id=auth_id,
        deleted=True,
        auth=gone,
        received_at=listed_at,
        digest=digest,
    )
