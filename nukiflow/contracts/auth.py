"""Inputs and results of the authorization workflows (what callers send and get back).

Validation lives here, at the edge: a request that breaks a rule fails to construct, so it is
refused before it reaches Temporal; the workflow's update validator runs the same checks again
for callers that build payloads by other means.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nukiflow.contracts.deadline import UtcInstant, one_deadline
from nukiflow.contracts.recorded import RecordedModel
from nukiflow.contracts.validation import (
    MAX_KEYPAD_NAME as MAX_KEYPAD_NAME,
)
from nukiflow.contracts.validation import (
    MAX_NAME as MAX_NAME,
)
from nukiflow.contracts.validation import (
    AccountUserId,
    AuthName,
    SmartlockId,
    check_date,
    is_stored,
)
from nukiflow.contracts.wire import (
    AuthType,
    SmartlockAuth,
    SmartlockAuthCreate,
    SmartlockAuthUpdate,
)

REDACTED_CODE = "******"
MINUTES_PER_DAY = 1440
# Deadlines of auth changes and creates: the default (NUKIFLOW_AUTH_CHANGE_DEADLINE_SECONDS)
# and the longest a caller may give.
DEFAULT_CHANGE_DEADLINE_SECONDS = 24 * 3600.0
MAX_CHANGE_DEADLINE_SECONDS = 30 * 24 * 3600.0
MAX_CHANGE_DEADLINE = timedelta(seconds=MAX_CHANGE_DEADLINE_SECONDS)

ClearableField = Literal[
    "allowed_from_date",
    "allowed_until_date",
    "allowed_week_days",
    "allowed_from_time",
    "allowed_until_time",
    "account_user_id",
]


def check_keypad_code(code: int) -> int:
    """Nuki's keypad code rules: 6 digits, each 1-9, not starting with 12."""
    text = str(code)
    if len(text) != 6 or not text.isdigit():
        raise ValueError("a keypad code has exactly 6 digits")
    if "0" in text:
        raise ValueError("a keypad code uses the digits 1-9 only (no 0)")
    if text.startswith("12"):
        raise ValueError("a keypad code must not start with 12")
    return code


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("give dates with a time zone (e.g. 2026-01-31T18:00:00+01:00)")
    # Nuki stores milliseconds; compare what the lock can hold.
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # a date at the very end of the calendar, as Nuki reported it
        return value
    return value.replace(microsecond=(value.microsecond // 1000) * 1000)


class _Deadline(RecordedModel):
    """A change's deadline as a model carries it: the caller's instant (``deadline_at``), or
    seconds the facade turns into that instant when it sends the change. Payloads recorded
    before ``deadline_at`` existed carry only the seconds, counted from when the workflow took
    the change."""

    deadline_at: UtcInstant | None = None
    deadline_seconds: float | None = Field(default=None, gt=0, le=MAX_CHANGE_DEADLINE_SECONDS)

    @model_validator(mode="after")
    def _one_deadline(self) -> Self:
        one_deadline(self.deadline_at, self.deadline_seconds)
        return self

    def deadline_from(self, accepted_at: datetime) -> datetime:
        """The instant nothing is written after (``accepted_at`` counts only for payloads
        without one)."""
        if self.deadline_at is not None:
            return self.deadline_at
        seconds = self.deadline_seconds or DEFAULT_CHANGE_DEADLINE_SECONDS
        return accepted_at + timedelta(seconds=seconds)


class _Restrictions(RecordedModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    allowed_from_date: datetime | None = None
    allowed_until_date: datetime | None = None
    allowed_week_days: int | None = Field(default=None, ge=0, le=127)
    allowed_from_time: int | None = Field(default=None, ge=0, lt=MINUTES_PER_DAY)
    allowed_until_time: int | None = Field(default=None, ge=0, lt=MINUTES_PER_DAY)

    @field_validator("allowed_from_date", "allowed_until_date")
    @classmethod
    def _dates_in_utc(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is not None and not is_stored(info):
            value = check_date(value, what="the date")
        return _utc(value)

    def _check_windows(self) -> None:
        self.check_dates(self.allowed_from_date, self.allowed_until_date)
        self.check_times(self.allowed_from_time, self.allowed_until_time)

    @staticmethod
    def check_dates(start: datetime | None, end: datetime | None) -> None:
        if start is not None and end is not None and start >= end:
            raise ValueError("allowed_from_date must be before allowed_until_date")

    @staticmethod
    def check_times(start: int | None, end: int | None) -> None:
        if start is not None and end is not None and start >= end:
            raise ValueError("allowed_from_time must be before allowed_until_time")


class AuthFields(RecordedModel):
    """The full state of one authorization: what nukiflow writes, reads back and compares.

    Deliberately free of nukiflow's input rules: it also holds what the lock already has (a code
    set in the Nuki app, say), and state must always deserialize, in activities and across
    continue-as-new. The rules are applied to what a change sets (:meth:`AuthPatch.apply_to`)
    and to new auths (:class:`CreateAuthRequest`).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    code: int | None = Field(default=None, repr=False)
    enabled: bool = True
    remote_allowed: bool = False
    account_user_id: int | None = None
    allowed_from_date: datetime | None = None
    allowed_until_date: datetime | None = None
    allowed_week_days: int | None = None
    allowed_from_time: int | None = None
    allowed_until_time: int | None = None

    @classmethod
    def from_wire(cls, auth: SmartlockAuth) -> AuthFields:
        return cls.model_construct(
            name=auth.name,
            code=auth.code,
            enabled=auth.enabled,
            remote_allowed=auth.remote_allowed,
            account_user_id=auth.account_user_id,
            allowed_from_date=_utc(auth.allowed_from_date),
            allowed_until_date=_utc(auth.allowed_until_date),
            allowed_week_days=auth.allowed_week_days,
            allowed_from_time=auth.allowed_from_time,
            allowed_until_time=auth.allowed_until_time,
        )

    def to_update(self) -> SmartlockAuthUpdate:
        """The full update body: Nuki replaces the auth, so every field is sent."""
        return SmartlockAuthUpdate(**self.model_dump())

    def to_create(self, auth_type: int) -> SmartlockAuthCreate:
        data = self.model_dump(exclude={"enabled"})
        return SmartlockAuthCreate(type=auth_type, **data)

    def differences(self, other: AuthFields) -> list[str]:
        """Names of the fields that differ (names only: values may be secret)."""
        mine, theirs = self.model_dump(), other.model_dump()
        return [name for name in mine if mine[name] != theirs[name]]

    def redacted(self) -> RedactedAuth:
        data = self.model_dump(exclude={"code"})
        return RedactedAuth(code=None if self.code is None else REDACTED_CODE, **data)


class RedactedAuth(BaseModel):
    """An auth's state safe to show anywhere: the keypad code replaced by ``******``."""

    name: str
    code: str | None = None
    enabled: bool
    remote_allowed: bool
    account_user_id: int | None = None
    allowed_from_date: datetime | None = None
    allowed_until_date: datetime | None = None
    allowed_week_days: int | None = None
    allowed_from_time: int | None = None
    allowed_until_time: int | None = None


class AuthPatch(_Restrictions):
    """A change to an existing auth: fields left ``None`` keep their current value; fields
    named in ``clear`` lose their restriction."""

    name: AuthName | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    code: int | None = Field(default=None, repr=False)
    enabled: bool | None = None
    remote_allowed: bool | None = None
    account_user_id: AccountUserId | None = None
    clear: frozenset[ClearableField] = frozenset()

    @field_validator("code")
    @classmethod
    def _code_rules(cls, value: int | None) -> int | None:
        return None if value is None else check_keypad_code(value)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        self._check_windows()
        if self.code is not None and self.name is not None and len(self.name) > MAX_KEYPAD_NAME:
            raise ValueError(f"a keypad code's name has at most {MAX_KEYPAD_NAME} characters")
        for name in self.clear:
            if getattr(self, name) is not None:
                raise ValueError(f"{name} is both set and cleared")
        return self

    def is_empty(self) -> bool:
        return not self.clear and all(
            getattr(self, name) is None for name in type(self).model_fields if name != "clear"
        )

    def apply_to(self, base: AuthFields) -> AuthFields:
        """``base`` with this change on top (raises ValueError if the result breaks a rule).

        Only what the change touches is judged: a code or window the lock already holds is not
        this change's business, and must not block, say, a rename.
        """
        data = base.model_dump()
        touched: set[str] = set(self.clear)
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name != "clear" and value is not None:
                data[name] = value
                touched.add(name)
        for name in self.clear:
            data[name] = None
        merged = AuthFields.model_validate(data)
        if touched & {"allowed_from_date", "allowed_until_date"}:
            _Restrictions.check_dates(merged.allowed_from_date, merged.allowed_until_date)
        if touched & {"allowed_from_time", "allowed_until_time"}:
            _Restrictions.check_times(merged.allowed_from_time, merged.allowed_until_time)
        if (
            touched & {"name", "code"}
            and merged.code is not None
            and len(merged.name) > MAX_KEYPAD_NAME
        ):
            raise ValueError(f"a keypad code's name has at most {MAX_KEYPAD_NAME} characters")
        return merged


class ChangeKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class AuthChange(_Deadline):
    """One caller's change to one auth: the input of the entity's ``change`` update.

    Nothing is written after its deadline (``deadline_at``, fixed by the caller when it called;
    see :class:`_Deadline`), and the caller is answered by then.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    request_id: str = Field(min_length=1, max_length=200)
    kind: ChangeKind = ChangeKind.UPDATE
    patch: AuthPatch | None = None

    @model_validator(mode="after")
    def _patch_matches_kind(self) -> Self:
        if self.kind is ChangeKind.UPDATE and (self.patch is None or self.patch.is_empty()):
            raise ValueError("an update must change at least one field")
        if self.kind is ChangeKind.DELETE and self.patch is not None:
            raise ValueError("a delete carries no fields")
        if self.kind is ChangeKind.CREATE:
            raise ValueError("create an auth with a CreateAuthRequest, not a change")
        return self


class OutcomeRequest(BaseModel):
    """Ask an auth's workflow for the outcome of one change (e.g. the one that superseded yours)."""

    request_id: str = Field(min_length=1, max_length=200)


class OutcomeStatus(StrEnum):
    APPLIED = "applied"
    SUPERSEDED = "superseded"
    REJECTED = "rejected"
    FAILED = "failed"


class AuthOutcome(BaseModel):
    """What a caller gets for a change: applied (verified), superseded, rejected or failed."""

    status: OutcomeStatus
    request_id: str
    smartlock_id: int
    auth_id: str | None = None
    change_number: int = 0
    kind: ChangeKind = ChangeKind.UPDATE
    # For applied: the state read back from Nuki after the operation finished (code redacted).
    verified: RedactedAuth | None = None
    # Writes Nuki accepted (204) for this change, and reads of the auth while waiting for them
    # to land and verifying them. Refused attempts (423, 5xx, ...) retried by the activity's
    # retry policy and the lock's online checks are not counted: they show as attempts in the
    # workflow's history and in Nuki's request counts.
    writes: int = 0
    reads: int = 0
    # For superseded: the change whose state replaced this one before it was written.
    superseded_by: str | None = None
    superseded_by_change: int | None = None
    reason: str | None = None
    workflow_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in (OutcomeStatus.APPLIED, OutcomeStatus.SUPERSEDED)


class CreateAuthRequest(_Restrictions, _Deadline):
    """Input of the create workflow: a new auth on one lock (nothing is sent after its
    deadline, see :class:`_Deadline`)."""

    request_id: str = Field(min_length=1, max_length=200)
    smartlock_id: SmartlockId = Field(gt=0)
    name: AuthName = Field(min_length=1, max_length=MAX_NAME)
    code: int | None = Field(default=None, repr=False)
    auth_type: int | None = None
    enabled: bool = True
    remote_allowed: bool = False
    account_user_id: AccountUserId | None = None

    @field_validator("code")
    @classmethod
    def _code_rules(cls, value: int | None) -> int | None:
        return None if value is None else check_keypad_code(value)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        self._check_windows()
        if self.effective_type == AuthType.KEYPAD_CODE:
            if self.code is None:
                raise ValueError("a keypad code auth needs a code")
            if len(self.name) > MAX_KEYPAD_NAME:
                raise ValueError(f"a keypad code's name has at most {MAX_KEYPAD_NAME} characters")
        elif self.code is not None:
            raise ValueError("only keypad code auths (type 13) carry a code")
        if self.effective_type not in (AuthType.APP, AuthType.FOB, AuthType.KEYPAD_CODE):
            raise ValueError("Nuki creates auths of type 0 (app), 2 (fob) or 13 (keypad code)")
        return self

    @property
    def effective_type(self) -> int:
        if self.auth_type is not None:
            return self.auth_type
        return AuthType.KEYPAD_CODE if self.code is not None else AuthType.APP

    def fields(self) -> AuthFields:
        return AuthFields.model_validate(
            self.model_dump(
                exclude={
                    "request_id",
                    "smartlock_id",
                    "auth_type",
                    "deadline_at",
                    "deadline_seconds",
                }
            )
        )
