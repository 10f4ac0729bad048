"""Inputs and results of the fleet activities (``nuki.fleet.*``), and the error types they raise.

Rollouts and access grants send their changes through the auth workflows from activities
(:mod:`nukiflow.activities.fleet_activities`), since a workflow cannot do Update-with-Start
itself; the workflows call those activities by name with these models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from pydantic import BaseModel, Field

from nukiflow.contracts.rollout_plan import RolloutItem
from nukiflow.contracts.validation import AuthId, SmartlockId

# An item's change is still in progress when its activity stops waiting (to free its worker
# slot): benign, and retried by the retry policy with the same request id.
ITEM_PENDING: Final = "ItemPending"
# A revocation's delete has not removed the auth yet (lock offline, or the delete failed): the
# retry policy tries again, forever.
REVOCATION_PENDING: Final = "RevocationPending"


class ApplyItemInput(BaseModel):
    """Input of the activity that sends one item through its auth's workflow."""

    request_id: str
    item: RolloutItem
    # The item's change is never written after this instant, fixed by the workflow when it
    # started the item (every attempt of the activity sends the same one).
    deadline_at: datetime | None = None
    # Inputs recorded before deadline_at existed: seconds from when an attempt sends it.
    deadline_seconds: float | None = None
    wait_seconds: float
    heartbeat_seconds: float
    # Fail the activity (non-retryable, type ``RolloutItemFailed``, the outcome in its
    # details) when the item's change failed or was rejected, so the item looks failed in the
    # Temporal UI's timeline. Runs from before this field completed the activity with the
    # outcome either way.
    fail_when_failed: bool = False


class RevokeAuthInput(BaseModel):
    """Input of the revocation activity: delete through the entity, verify, or fail to retry."""

    smartlock_id: SmartlockId
    auth_id: AuthId
    request_prefix: str
    attempt_seconds: float
    wait_seconds: float
    heartbeat_seconds: float


class RevokeAuthResult(BaseModel):
    verified_by: str
    attempts: int


class FindAuthInput(BaseModel):
    """Look for an auth a failed create may still have made (matched like the create does)."""

    smartlock_id: SmartlockId
    name: str
    code: int = Field(repr=False)
    auth_type: int


class FindAuthResult(BaseModel):
    auth_id: str | None
    # Whether the lock was online when its auths were listed: an offline lock may still hold
    # the create and apply it once it is back.
    online: bool
