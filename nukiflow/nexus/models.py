"""The Nexus contract's inputs and outputs: what a caller in another namespace (or language)
sends nukiflow and gets back.

Every input names its ``request_id`` (the idempotency key: the same id asks for the same
change, whoever asks and however often) and its deadline as an instant, ``deadline_at``, fixed
by the caller (in a workflow: ``workflow.now() + timedelta(...)``, which replays to the same
instant). There is no duration: a duration would be counted from whenever a worker first saw
the call, which a caller cannot know. The outputs are the facade's own outcomes.

These models are recorded (they are the inputs of nukiflow's Nexus workflows), so like every
recorded model they ignore fields they do not know when decoded from a payload: a newer caller
never stops an older worker. The exported JSON Schema (``nukiflow contract export``) marks
them closed (``additionalProperties: false``): validate against it on the caller's side.

This module imports only the contracts: workflow code loads it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from nukiflow.contracts.access import GrantView
from nukiflow.contracts.action import ActionName
from nukiflow.contracts.auth import AuthOutcome, AuthPatch
from nukiflow.contracts.recorded import RecordedModel

# How long a generated code may be redeemed (hours) unless the call says otherwise, and at most.
DEFAULT_CODE_REDEEMABLE_HOURS = 72
MAX_CODE_REDEEMABLE_HOURS = 30 * 24

# What a generated code looks like in an outcome: its length, never a digit.
MASKED_CODE = "******"

_REQUEST_ID = Field(min_length=1, max_length=200, pattern=r"^\S+$")
_DEADLINE_AT = Field(
    description="The instant (with a time zone) after which nothing is sent to the lock; "
    "fixed by the caller when it calls"
)


class _Closed(RecordedModel):
    """Inputs: closed in the published schema, lenient when decoded from history."""

    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        hide_input_in_errors=True,
        json_schema_extra={"additionalProperties": False},
    )


class UpdateAuthInput(_Closed):
    """Change some fields of an auth; the others keep their value."""

    request_id: str = _REQUEST_ID
    smartlock_id: int = Field(gt=0)
    auth_id: str
    patch: AuthPatch
    deadline_at: AwareDatetime = _DEADLINE_AT


class DeleteAuthInput(_Closed):
    """Delete an auth (verified gone)."""

    request_id: str = _REQUEST_ID
    smartlock_id: int = Field(gt=0)
    auth_id: str
    deadline_at: AwareDatetime = _DEADLINE_AT


class _NewAuth(_Closed):
    request_id: str = _REQUEST_ID
    smartlock_id: int = Field(gt=0)
    name: str
    enabled: bool = True
    remote_allowed: bool = False
    account_user_id: int | None = None
    allowed_from_date: datetime | None = None
    allowed_until_date: datetime | None = None
    allowed_week_days: int | None = None
    allowed_from_time: int | None = None
    allowed_until_time: int | None = None
    deadline_at: AwareDatetime = _DEADLINE_AT


class CreateAuthInput(_NewAuth):
    """Create an auth exactly once (per request id). A keypad code (``code``) given here
    travels through the caller's namespace: see :class:`CreateWithGeneratedCodeInput`."""

    code: int | None = Field(default=None, repr=False)
    auth_type: int | None = None


class CreateWithGeneratedCodeInput(_NewAuth):
    """Create a keypad code auth whose code nukiflow generates: the code never enters the
    caller's history. The outcome carries a one-time handle that redeems it."""

    redeemable_hours: float = Field(
        default=DEFAULT_CODE_REDEEMABLE_HOURS, gt=0, le=MAX_CODE_REDEEMABLE_HOURS
    )


class LockActionInput(_Closed):
    """Run one action on a lock, after those before it."""

    request_id: str = _REQUEST_ID
    smartlock_id: int = Field(gt=0)
    action: ActionName
    force: bool = False
    full_lock: bool = False
    deadline_at: AwareDatetime = _DEADLINE_AT


class GeneratedCodeOutcome(BaseModel):
    """The outcome of a create with a generated code: the facade's outcome, the code masked,
    and the handle that redeems it once (``None`` when the auth was not created)."""

    outcome: AuthOutcome
    masked_code: str | None = None
    code_handle: str | None = None
    redeemable_until: datetime | None = None


class AuthCall(RecordedModel):
    """Input of nukiflow's Nexus auth workflow: exactly one of the three."""

    update: UpdateAuthInput | None = None
    delete: DeleteAuthInput | None = None
    create: CreateAuthInput | None = None
    # The create's code when nukiflow generated it (never from a caller).
    generated: bool = False

    @property
    def request_id(self) -> str:
        call = self.update or self.delete or self.create
        assert call is not None
        return call.request_id


class ReserveCodeInput(RecordedModel):
    """Input of the activity that generates (once per request id) and keeps a code."""

    request_id: str
    smartlock_id: int
    redeemable_until: datetime


class ReservedCode(RecordedModel):
    """The code kept for a request id (``None`` once it was redeemed or discarded) and the
    vault's workflow id (the handle)."""

    handle: str
    code: int | None = Field(default=None, repr=False)


class VaultInput(RecordedModel):
    """Input of a code vault: one generated code, redeemable once until an instant."""

    smartlock_id: int
    request_id: str
    code: int = Field(repr=False)
    redeemable_until: datetime


class RedeemedCode(BaseModel):
    """What redeeming a handle gives (once)."""

    code: int = Field(repr=False)
    smartlock_id: int
    request_id: str


class GrantAccessInput(_Closed):
    """A keypad code valid within a window and revoked at its end (the window's end is the
    instant that bounds everything, fixed by the caller). Without ``code`` nukiflow generates
    it: the outcome then carries a handle instead, and the code stays out of the caller's
    history."""

    request_id: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9._:-]+$")
    smartlock_id: int = Field(gt=0)
    name: str
    code: int | None = Field(default=None, repr=False)
    start: AwareDatetime
    end: AwareDatetime
    lock_tz: str | None = Field(
        default=None, description="The lock's time zone for weekdays and times (IANA name)"
    )
    weekdays: str | None = Field(default=None, examples=["mon-fri"])
    times: str | None = Field(default=None, examples=["08:00-18:00"])
    redeemable_hours: float = Field(
        default=DEFAULT_CODE_REDEEMABLE_HOURS, gt=0, le=MAX_CODE_REDEEMABLE_HOURS
    )


class GrantCall(RecordedModel):
    """Input of the grant activity: the caller's grant and the code to use."""

    grant: GrantAccessInput
    code: int | None = Field(default=None, repr=False)


class GrantOutcome(BaseModel):
    """The grant once its code is on the lock (or its create failed); with a generated code,
    the mask and the handle that redeems it once."""

    grant: GrantView
    masked_code: str | None = None
    code_handle: str | None = None
    redeemable_until: datetime | None = None


class RevokeAccessInput(_Closed):
    """End a grant now; answered once the revocation is verified."""

    grant_id: str = Field(min_length=1, max_length=300)
    reason: str | None = Field(default=None, max_length=500)


class RolloutInput(_Closed):
    """A rollout: items as in a plan file (``op``, ``smartlock_id``, ...), answered with its
    report once it ended. Cancelling the operation cancels the rollout (items not started yet
    are never started)."""

    request_id: str = _REQUEST_ID
    items: list[dict[str, Any]] = Field(min_length=1)
    rollout_id: str | None = None
    name: str | None = None
    options: dict[str, Any] | None = None
