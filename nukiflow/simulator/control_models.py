"""Bodies of the control surface (`/_sim/...`), shared by the server and `SimulatorControl`.

Rule of thumb: Nuki's own objects (`Smartlock`, `SmartlockAuth`) travel in Nuki's wire format
(camelCase); the simulator's own objects below use their Python field names (snake_case).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from nukiflow.contracts.wire import SmartlockAuth

from .nuki_timezones import DEFAULT_TIMEZONE_ID, NUKI_TIMEZONES


class ControlModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResetRequest(ControlModel):
    seed: int | None = None


class LockSpec(ControlModel):
    """A lock to add. `opener=True` makes it a Nuki Opener (type 2) whatever `type` says.
    `timezone_id` is Nuki's id of the lock's time zone (see nuki_timezones.py)."""

    smartlock_id: int | None = None
    name: str | None = None
    type: int = 4
    keypad_paired: bool = True
    opener: bool = False
    timezone_id: int = Field(DEFAULT_TIMEZONE_ID, ge=0, le=max(NUKI_TIMEZONES))
    # The account that holds the lock (see accounts.py); None: the server token's account.
    account: str | None = None


class AuthSpec(ControlModel):
    """An auth to put directly on a device (no pending operation, no validation beyond types)."""

    name: str
    code: int | None = Field(default=None, repr=False)
    type: int = 13
    enabled: bool = True
    remote_allowed: bool = False
    account_user_id: int | None = None
    allowed_from_date: datetime | None = None
    allowed_until_date: datetime | None = None
    allowed_week_days: int | None = None
    allowed_from_time: int | None = None
    allowed_until_time: int | None = None


class OnlineRequest(ControlModel):
    online: bool


class ExecutedAction(ControlModel):
    """An action the device carried out (`time` on the same monotonic clock as RequestRecord)."""

    action: int
    option: int
    time: float
    # LogCompletion: 0 success, 1 motor blocked.
    completion: int


class DeviceView(ControlModel):
    """What a device really holds, as opposed to what the cloud lists."""

    smartlock_id: int
    online: bool
    auths: list[SmartlockAuth]
    lock_state: int
    last_action: int
    actions: list[ExecutedAction]
    # Operations (auth writes and actions) queued for this device, including the one running.
    pending: int


class RequestRecord(ControlModel):
    """One Nuki API request as the fake cloud answered it."""

    method: str
    path: str
    status: int
    # time.monotonic() when the request arrived.
    time: float


class AccountSpec(ControlModel):
    """A further account of the fake cloud: API tokens and/or an OAuth client (and refresh
    tokens that client may use)."""

    name: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9-]*$")
    api_tokens: list[str] = Field(default_factory=list, repr=False)
    client_id: str | None = None
    client_secret: str | None = Field(default=None, repr=False)
    refresh_tokens: list[str] = Field(default_factory=list, repr=False)


class AccountView(ControlModel):
    """An account as the control surface shows it (no token)."""

    name: str
    account_id: int
    oauth: bool
    revoked: bool
    access_tokens_issued: int
    access_tokens_live: int
    token_requests_refused: int
