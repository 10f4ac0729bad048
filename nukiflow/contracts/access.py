"""Time-limited access: a keypad code with its window written onto the lock, revoked at its end.

Nuki's window is a mix: ``allowedFromDate``/``allowedUntilDate`` are UTC date-times,
``allowedWeekDays`` a bit mask and ``allowedFromTime``/``allowedUntilTime`` minutes after
midnight in the lock's local time. :mod:`nukiflow.times.zones` builds an :class:`AccessWindow`
from local times.
"""

from __future__ import annotations

import re
import zlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final, Self

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nukiflow.contracts.accounts import AccountName
from nukiflow.contracts.auth import (
    MAX_CHANGE_DEADLINE_SECONDS,
    MAX_KEYPAD_NAME,
    MINUTES_PER_DAY,
    AuthFields,
    check_keypad_code,
)
from nukiflow.contracts.recorded import RecordedModel
from nukiflow.contracts.timing import WorkflowTiming
from nukiflow.contracts.validation import (
    InputError,
    KeypadName,
    Label,
    SmartlockId,
    check_date,
    is_stored,
    parse_smartlock_id,
)

ACCESS_ID_PREFIX = "nuki-access-"
# The type of the failure of an ``extend`` the lock did not take (the grant is unchanged).
GRANT_NOT_TAKEN_ERROR: Final = "LockDidNotTake"


def _aware_utc(value: datetime, info: ValidationInfo) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give date-times with a time zone (or convert them with a --tz)")
    value = value.astimezone(UTC) if is_stored(info) else check_date(value, what="the date")
    # Nuki stores milliseconds.
    return value.replace(microsecond=(value.microsecond // 1000) * 1000)


class AccessWindow(RecordedModel):
    """When a grant lets its holder in, in Nuki's terms (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    allowed_from_date: datetime
    allowed_until_date: datetime
    allowed_week_days: int | None = Field(default=None, ge=1, le=127)
    allowed_from_time: int | None = Field(default=None, ge=0, lt=MINUTES_PER_DAY)
    allowed_until_time: int | None = Field(default=None, ge=0, lt=MINUTES_PER_DAY)
    # The zone the window was given in (for display only; the dates above are UTC).
    tz: str | None = None

    @field_validator("allowed_from_date", "allowed_until_date")
    @classmethod
    def _utc(cls, value: datetime, info: ValidationInfo) -> datetime:
        return _aware_utc(value, info)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.allowed_from_date >= self.allowed_until_date:
            raise ValueError("the window must start before it ends")
        if (self.allowed_from_time is None) != (self.allowed_until_time is None):
            raise ValueError("give both daily times (from and until) or neither")
        if (
            self.allowed_from_time is not None
            and self.allowed_until_time is not None
            and self.allowed_from_time >= self.allowed_until_time
        ):
            raise ValueError(
                "the daily window must start before it ends on the same day "
                "(Nuki cannot express a window across midnight)"
            )
        return self

    @property
    def start(self) -> datetime:
        return self.allowed_from_date

    def check_not_over(self, now: datetime) -> Self:
        """This window, if it has not ended by ``now``: a grant for a window in the past would
        give no access and only create a code to delete again (raises ``InputError``)."""
        if self.allowed_until_date <= now:
            raise InputError(
                f"the window ended already ({self.allowed_until_date:%Y-%m-%d %H:%M} UTC): "
                "give an end in the future"
            )
        return self

    @property
    def end(self) -> datetime:
        return self.allowed_until_date


class GrantRequest(RecordedModel):
    """A keypad code for ``name`` on one lock, valid within ``window``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    request_id: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9._:-]+$")
    smartlock_id: SmartlockId = Field(gt=0)
    name: KeypadName = Field(min_length=1, max_length=MAX_KEYPAD_NAME)
    code: int = Field(repr=False)
    window: AccessWindow
    # The Nuki account of the lock, by name (never a credential); None: the default account.
    account: AccountName | None = None

    @field_validator("code")
    @classmethod
    def _code_rules(cls, value: int) -> int:
        return check_keypad_code(value)

    def fields(self, until: datetime | None = None) -> AuthFields:
        """The auth as written onto the lock (``until``: a changed end)."""
        w = self.window
        return AuthFields(
            name=self.name,
            code=self.code,
            allowed_from_date=w.allowed_from_date,
            allowed_until_date=until or w.allowed_until_date,
            allowed_week_days=w.allowed_week_days,
            allowed_from_time=w.allowed_from_time,
            allowed_until_time=w.allowed_until_time,
        )


class GrantStatus(StrEnum):
    """Kept in the ``NukiStatus`` search attribute."""

    CREATING = "creating"
    SCHEDULED = "scheduled"  # the code is on the lock, its window has not started
    ACTIVE = "active"
    REVOKING = "revoking"
    REVOCATION_OVERDUE = "revocation_overdue"
    REVOKED = "revoked"
    # The code could not be created (the reason says why); nothing to revoke unless it
    # shows up later, which the grant checks for at the window's end.
    FAILED = "failed"


class GrantTiming(BaseModel):
    """How a grant waits and retries. Defaults suit the real Nuki cloud; tests shorten them."""

    # Deadline of one revocation attempt (one delete through the auth's entity workflow),
    # from when the attempt sends it; bounded like every change's deadline.
    revoke_attempt_seconds: float = Field(default=3600.0, gt=0, le=MAX_CHANGE_DEADLINE_SECONDS)
    # Back-off between attempts while the lock is offline: grows to the maximum, forever.
    revoke_retry_initial_seconds: float = Field(default=60.0, gt=0)
    revoke_retry_max_seconds: float = Field(default=3600.0, gt=0)
    # A revocation not verified this long after it fell due is shown as overdue.
    overdue_after_seconds: float = Field(default=300.0, ge=0)
    # Deadline of a change to the window (extend) on the lock, from when the grant sends it.
    change_deadline_seconds: float = Field(default=3600.0, gt=0, le=MAX_CHANGE_DEADLINE_SECONDS)
    heartbeat_seconds: float = Field(default=30.0, ge=1)
    # One activity attempt waits this long for its change, then frees its worker slot and
    # asks again after the retry interval (same request: it attaches to the same change).
    wait_seconds: float = Field(default=60.0, gt=0)
    poll_initial_seconds: float = Field(default=5.0, gt=0)
    poll_max_seconds: float = Field(default=120.0, gt=0)
    # Continue-as-new once a run's history is this long (or when Temporal suggests it): a grant
    # extended again and again, or revoking a code on a lock offline for months, keeps a bounded
    # history. Small values only make sense in tests.
    max_history_events: int = Field(default=2000, ge=20)


class GrantMemory(BaseModel):
    """What one run of a grant hands to the next across continue-as-new (the code exists or its
    create failed: a grant never continues as new before its create has ended)."""

    until: datetime
    auth_id: str | None = None
    status: GrantStatus
    # The create failed: look for its auth at the end (it may still have landed).
    sweep: bool = False
    revoke_requested: bool = False
    revoke_reason: str | None = None
    revocation_due_at: datetime | None = None
    revocation_attempts: int = 0
    overdue_since: datetime | None = None
    reason: str | None = None
    # Where the look for a late auth stood: its next pause while the lock is offline, and
    # whether the lock was seen online without the auth once already.
    look_backoff_seconds: float | None = None
    look_seen_online: bool = False
    # Runs so far (1 + continue-as-new count).
    runs: int = 1


_MEMORY: Final = TypeAdapter(GrantMemory)


def pack_grant_memory(memory: GrantMemory) -> bytes:
    """The memory as the next run's opaque ``carried_memory`` (zlib-compressed JSON)."""
    return zlib.compress(_MEMORY.dump_json(memory), 6)


def unpack_grant_memory(blob: bytes) -> GrantMemory:
    try:
        raw = zlib.decompress(blob)
    except zlib.error:
        raise ValueError("the carried memory is not zlib-compressed JSON") from None
    return _MEMORY.validate_json(raw)


class GrantInput(BaseModel):
    """What starts a grant: the request it ``started_with``, as the caller made it. Its window
    is the one the grant started with; an extension moves the end in the grant's state (the
    current details, the ``state`` query, the result), never here, because the Temporal UI
    shows a run's input and a field named ``window`` would read as the current one. A run's
    state travels as ``carried_memory``: opaque on purpose (zlib-compressed JSON, encrypted like
    every payload), for the same reason. Inputs recorded before name the request ``request``
    and carry ``memory`` in the open; both are still read.

    A worker from before cannot decode an input this version continued as new (it lacks
    ``request``): its workflow task fails and is retried until a current worker takes it, where
    reading a memory it cannot see would have made it create the code again."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    started_with: GrantRequest = Field(validation_alias=AliasChoices("started_with", "request"))
    timing: WorkflowTiming = Field(default_factory=WorkflowTiming)
    grant_timing: GrantTiming = Field(default_factory=GrantTiming)
    # Written by runs before ``carried_memory`` existed (and read still).
    memory: GrantMemory | None = None
    # What the last run hands over (absent from a grant's first run); see the class doc.
    carried_memory: bytes | None = None

    @property
    def request(self) -> GrantRequest:
        return self.started_with

    def remembered(self) -> GrantMemory | None:
        """The memory this run starts from (None: the grant's first run)."""
        if self.carried_memory is not None:
            return unpack_grant_memory(self.carried_memory)
        return self.memory


class GrantView(BaseModel):
    """A grant's state for queries, updates and its result: safe to show (no code)."""

    workflow_id: str
    smartlock_id: int
    name: str
    auth_id: str | None = None
    status: GrantStatus
    # The window as it stands now (an extension moved its end).
    window: AccessWindow
    # The end the grant started with, once an extension moved it (None: never moved).
    granted_until: datetime | None = None
    revoke_requested: bool = False
    revoke_reason: str | None = None
    revocation_due_at: datetime | None = None
    revocation_attempts: int = 0
    overdue_since: datetime | None = None
    revoked_at: datetime | None = None
    # How the revocation was verified: "entity" (delete read back) or "read" (already gone).
    verified_by: str | None = None
    reason: str | None = None


class RevokeRequest(BaseModel):
    reason: Label | None = Field(default=None, max_length=500)


class ExtendRequest(BaseModel):
    """Move the grant's end (later or earlier, but after now): written onto the lock first."""

    request_id: str = Field(min_length=1, max_length=120)
    until: datetime

    @field_validator("until")
    @classmethod
    def _utc(cls, value: datetime, info: ValidationInfo) -> datetime:
        return _aware_utc(value, info)


class WaitRequest(BaseModel):
    """Input of the ``created`` update: wait until the code is on the lock (or failed)."""


def grant_workflow_id(smartlock_id: int, request_id: str) -> str:
    return f"{ACCESS_ID_PREFIX}{smartlock_id}-{request_id}"


_GRANT_ID = re.compile(r"([0-9]{1,19})-([A-Za-z0-9._:-]{1,120})")


def check_grant_id(value: str) -> str:
    """A grant's id, ``nuki-access-<smartlock>-<request>`` (the prefix may be left out):
    returned with its prefix."""
    rest = value.strip().removeprefix(ACCESS_ID_PREFIX)
    match = _GRANT_ID.fullmatch(rest)
    try:
        if match is None:
            raise InputError("no match")
        parse_smartlock_id(match.group(1))
    except InputError:
        raise InputError(
            "a grant id is nuki-access-<smartlock id>-<request id> (letters, digits, '.', '_', "
            "':' or '-'); `nukiflow access grant` prints it"
        ) from None
    return ACCESS_ID_PREFIX + rest
