"""Input, carried memory and query view of the authorization entity workflow."""

from __future__ import annotations

import zlib
from datetime import datetime
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from nukiflow.contracts.accounts import AccountName
from nukiflow.contracts.auth import (
    AuthChange,
    AuthFields,
    AuthOutcome,
    CreateAuthRequest,
    RedactedAuth,
)
from nukiflow.contracts.timing import WorkflowTiming
from nukiflow.contracts.validation import AuthId, SmartlockId

# The type of the failure of an entity run whose auth was not found (a later change starts a
# new run, which reads the auth again).
AUTH_NOT_FOUND_ERROR: Final = "AuthNotFound"


class EntityStatus(StrEnum):
    """Kept in the ``NukiStatus`` search attribute."""

    IDLE = "idle"
    APPLYING = "applying"
    IN_SYNC = "in_sync"
    FAILED = "failed"
    DELETED = "deleted"
    # The lock reported (by webhook) a state that differs from the verified one; the names of
    # the differing fields are in the state query.
    DRIFTED = "drifted"


class DriftPolicy(StrEnum):
    """What the entity does when the lock reports a state that differs from the verified one."""

    # Write the desired state again through the verified write path.
    ENFORCE = "enforce"
    # Take the lock's state as desired and verified.
    ADOPT = "adopt"
    # Only show it (status ``drifted``, the differing field names).
    ALERT = "alert"


class DriftPolicyRequest(BaseModel):
    """The input of the entity's ``drift_policy`` update: the policy for the events to come."""

    policy: DriftPolicy


class PendingChange(BaseModel):
    number: int
    change: AuthChange
    accepted_at: datetime


class EntityMemory(BaseModel):
    """What one run hands to the next across continue-as-new."""

    desired: AuthFields | None = None
    verified: AuthFields | None = None
    auth_type: int | None = None
    counter: int = 0
    status: EntityStatus = EntityStatus.IDLE
    # Recent outcomes by request id: a caller retrying with the same request id gets the
    # first outcome back, also after continue-as-new.
    outcomes: list[AuthOutcome] = Field(default_factory=list)
    # Names (never values) of the fields in which the lock last drifted from the verified state.
    drift: list[str] = Field(default_factory=list)
    # The newest ``updateDate`` of the auth the entity has taken (read back or by webhook): an
    # event about an older state is ignored.
    lock_date: datetime | None = None
    # Digests of the last webhook deliveries taken (a delivery twice is ignored).
    recent_digests: list[str] = Field(default_factory=list)
    # Writes in a row that polling settled because the lock's report did not come in time
    # (see nukiflow.workflows.completion): from two on, the entity polls at once again.
    webhook_misses: int = 0
    # When the verified state was last read back.
    verified_at: datetime | None = None


_MEMORY: Final = TypeAdapter(EntityMemory)


def pack_memory(memory: EntityMemory) -> bytes:
    """The memory as the next run's opaque ``carried_memory`` (zlib-compressed JSON)."""
    return zlib.compress(_MEMORY.dump_json(memory), 6)


def unpack_memory(blob: bytes) -> EntityMemory:
    try:
        raw = zlib.decompress(blob)
    except zlib.error:
        raise ValueError("the carried memory is not zlib-compressed JSON") from None
    return _MEMORY.validate_json(raw)


class AuthEntityInput(BaseModel):
    """What starts an entity. Its state travels as ``carried_memory``: opaque on purpose,
    because the Temporal UI shows a run's input, and an input that read as the auth's state
    (a code, a window) would show one that is no longer desired after the next change. The
    state is in the current details and the ``state`` query. Inputs recorded before carry
    ``memory`` in the open; it is still read."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    smartlock_id: SmartlockId
    auth_id: AuthId
    timing: WorkflowTiming = Field(default_factory=WorkflowTiming)
    max_rewrites: int = Field(default=3, ge=0, le=20)
    # Continue-as-new once a run's history is this long (or when Temporal suggests it).
    max_history_events: int = Field(default=2000, ge=100)
    # What to do when the lock drifts from the verified state (see DriftPolicy).
    drift_policy: DriftPolicy = DriftPolicy.ALERT
    # Written by runs before ``carried_memory`` existed (and read still).
    memory: EntityMemory | None = None
    # What the last run (or the create that made the auth) hands over; see the class doc.
    carried_memory: bytes | None = None
    # The Nuki account of the lock, by name (never a credential); None: the default account.
    account: AccountName | None = None
    # The status this run's start search attributes already show (its starter set them with
    # ``auth_attributes``); None: it upserts its first status itself. Never carried over.
    status_at_start: EntityStatus | None = None

    def remembered(self) -> EntityMemory:
        """The memory this run starts from."""
        if self.carried_memory is not None:
            return unpack_memory(self.carried_memory)
        return self.memory or EntityMemory()


class AuthEntityView(BaseModel):
    """The entity's state for queries and the UI; codes are redacted."""

    smartlock_id: int
    auth_id: str
    status: EntityStatus
    desired: RedactedAuth | None
    verified: RedactedAuth | None
    pending_changes: int
    change_counter: int
    last_outcomes: list[AuthOutcome]
    history_length: int
    drift_policy: DriftPolicy = DriftPolicy.ALERT
    # Names (never values) of the fields in which the lock last drifted.
    drift: list[str] = Field(default_factory=list)
    # The change being written now (``pending_changes`` counts only those waiting behind it),
    # what it is doing, and why it waits, in words (None: nothing under way or nothing seen).
    under_way: int | None = None
    step: str | None = None
    why_waiting: str | None = None
    verified_at: datetime | None = None


class AuthEntityResult(BaseModel):
    """How an entity completed: after a verified delete (it otherwise runs forever, continuing
    as new; a run whose auth was not found fails instead)."""

    smartlock_id: int
    auth_id: str
    status: EntityStatus
    change_counter: int
    ended_because: str | None = None
    # The last outcomes, for callers that retry a change after the run ended.
    outcomes: list[AuthOutcome] = Field(default_factory=list)


def auth_workflow_id(smartlock_id: int, auth_id: str) -> str:
    return f"nuki-auth-{smartlock_id}-{auth_id}"


def create_workflow_id(smartlock_id: int, request_id: str) -> str:
    return f"nuki-auth-create-{smartlock_id}-{request_id}"


class AuthCreateInput(BaseModel):
    """Input of the create workflow: the request plus the timing its entity will use."""

    request: CreateAuthRequest
    timing: WorkflowTiming = Field(default_factory=WorkflowTiming)
    # The Nuki account of the lock, by name (never a credential); None: the default account.
    account: AccountName | None = None
    max_rewrites: int = Field(default=3, ge=0, le=20)
    # The drift policy of the entity the create starts; None (inputs recorded before creates
    # passed one): alert.
    drift_policy: DriftPolicy | None = None
    # The run was started with its ``create_attributes`` (status applying) as search
    # attributes: it does not upsert them again.
    attributes_at_start: bool = False
