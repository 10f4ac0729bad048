"""``nukiflow reconcile``: the differences between what nukiflow wants and what the locks hold.

A plan is read in a worker (which holds the Nuki token): one listing of the account's auths,
the running entities from Temporal's visibility, and each entity's ``state`` query. Differences
are named, never valued: a drifted auth lists its field names; an unmanaged auth shows what the
drift ledger shows (id, name, type, enabled), never a code.

The keypad code: an entity never hands its desired code out (its ``state`` query redacts it),
so the plan compares whether a code is set, and a changed code shows as drift once the lock has
reported it to the entity (a ``DEVICE_AUTHS`` webhook or the drift sweep: the entity then says
``drifted`` with ``code`` among the fields). ``reconcile apply`` rewrites the whole desired
state through the entity, code included, whichever field drifted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from nukiflow.contracts.auth import AuthFields, RedactedAuth
from nukiflow.contracts.entity import AuthEntityView, EntityStatus
from nukiflow.contracts.wire import AuthType, SmartlockAuth

# Entries kept per kind in one plan: the payload stays far below Temporal's 2 MB limit; the
# counts say how many were left out.
MAX_PLAN_ENTRIES: Final = 5000
# Compared by the plan (the code only as set or not: see the module's docstring).
COMPARED_FIELDS: Final = tuple(RedactedAuth.model_fields)
# Unmanaged auths ``apply --delete-unmanaged`` deletes: keypad codes only. An app or bridge
# auth may be the account owner's own access (or the Web API's): deleted by hand, if at all.
DELETABLE_UNMANAGED_TYPES: Final = frozenset({AuthType.KEYPAD_CODE})


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ReconcilePlanInput(_Model):
    # None: every lock of the account.
    smartlock_ids: list[int] | None = None
    # Entity queries sent at once.
    concurrency: int = Field(default=20, ge=1, le=200)


class DriftedAuth(_Model):
    smartlock_id: int
    auth_id: str
    # Names of the fields in which the lock differs from the desired state (never values).
    fields: list[str]
    status: EntityStatus
    # What a rewrite sends as its one field (the whole desired state is written): the desired
    # ``enabled``. Left out of what the command line shows: a plan names fields, not values.
    rewrite_enabled: bool = True


class UnmanagedOnLock(_Model):
    smartlock_id: int
    auth_id: str
    name: str
    type: int
    enabled: bool

    @property
    def deletable(self) -> bool:
        return self.type in DELETABLE_UNMANAGED_TYPES


class DisappearedAuth(_Model):
    smartlock_id: int
    auth_id: str
    status: EntityStatus


class SkippedAuth(_Model):
    """A managed auth the plan could not judge now, and why (it is not a difference)."""

    smartlock_id: int
    auth_id: str
    reason: str


class ReconcilePlan(_Model):
    smartlocks: list[int]
    # Locks asked for (``--smartlock``) that the account does not hold.
    unknown_smartlocks: list[int] = Field(default_factory=list)
    auths_listed: int = 0
    managed: int = 0
    drifted: list[DriftedAuth] = Field(default_factory=list)
    unmanaged: list[UnmanagedOnLock] = Field(default_factory=list)
    disappeared: list[DisappearedAuth] = Field(default_factory=list)
    skipped: list[SkippedAuth] = Field(default_factory=list)
    # Entries left out beyond MAX_PLAN_ENTRIES per kind.
    omitted: int = 0
    listed_at: datetime | None = None

    @property
    def differences(self) -> int:
        return len(self.drifted) + len(self.unmanaged) + len(self.disappeared) + self.omitted


def _skip(view: AuthEntityView, listed: SmartlockAuth | None) -> str | None:
    if view.pending_changes or view.status is EntityStatus.APPLYING:
        return "a change is being written (judged when it is done)"
    if view.desired is None:
        return "nukiflow holds no desired state (its last change failed, or it was never read)"
    if listed is not None and listed.operation_id is not None:
        return "an operation is pending on the lock"
    return None


def judge(
    view: AuthEntityView, listed: SmartlockAuth | None
) -> DriftedAuth | DisappearedAuth | SkippedAuth | None:
    """How one managed auth stands: drifted, gone from the lock, not judged now, or in sync."""
    if view.status is EntityStatus.DELETED:
        return None
    why = _skip(view, listed)
    if why is not None:
        return SkippedAuth(smartlock_id=view.smartlock_id, auth_id=view.auth_id, reason=why)
    desired = view.desired
    assert desired is not None
    if listed is None:
        return DisappearedAuth(
            smartlock_id=view.smartlock_id, auth_id=view.auth_id, status=view.status
        )
    held = AuthFields.from_wire(listed).redacted()
    fields = [f for f in COMPARED_FIELDS if getattr(desired, f) != getattr(held, f)]
    # A changed code is known only from the entity's own judging of the lock's report.
    if view.status is EntityStatus.DRIFTED and "code" in view.drift and "code" not in fields:
        fields.append("code")
    if not fields:
        return None
    return DriftedAuth(
        smartlock_id=view.smartlock_id,
        auth_id=view.auth_id,
        fields=fields,
        status=view.status,
        rewrite_enabled=desired.enabled,
    )
