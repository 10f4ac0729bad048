"""Wire models of the Nuki Web API (written from Nuki's OpenAPI 3.9.0 description).

Field names are snake_case in Python and camelCase on the wire. Unknown fields are ignored so a
newer API version does not break the client. Keypad codes are excluded from ``repr`` so a model
that reaches a log line never prints a code.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class NukiModel(BaseModel):
    """Base of every wire model: camelCase aliases, unknown fields tolerated."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_wire(self) -> dict[str, Any]:
        """The JSON body Nuki expects: camelCase, absent values left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class AuthType(IntEnum):
    APP = 0
    BRIDGE = 1
    FOB = 2
    KEYPAD = 3
    KEYPAD_CODE = 13
    Z_KEY = 14
    VIRTUAL = 15


class ServerState(IntEnum):
    ONLINE = 0
    UNREGISTERED = 1
    AUTH_UUID_INVALID = 2
    AUTH_INVALID = 3
    OFFLINE = 4


class SmartlockType(IntEnum):
    SMART_LOCK = 0
    BOX = 1
    OPENER = 2
    SMART_DOOR = 3
    SMART_LOCK_3 = 4


class LockState(IntEnum):
    """``Smartlock.State.state`` for locks (types 0, 3, 4)."""

    UNCALIBRATED = 0
    LOCKED = 1
    UNLOCKING = 2
    UNLOCKED = 3
    LOCKING = 4
    UNLATCHED = 5
    UNLOCKED_LOCK_N_GO = 6
    UNLATCHING = 7
    MOTOR_BLOCKED = 254
    UNDEFINED = 255


class LockAction(IntEnum):
    """``SmartlockAction.action`` for locks (types 0, 3, 4)."""

    UNLOCK = 1
    LOCK = 2
    UNLATCH = 3
    LOCK_N_GO = 4
    LOCK_N_GO_UNLATCH = 5


class OpenerAction(IntEnum):
    """``SmartlockAction.action`` for openers (type 2)."""

    ACTIVATE_RTO = 1
    DEACTIVATE_RTO = 2
    OPEN = 3
    ACTIVATE_CONTINUOUS = 6
    DEACTIVATE_CONTINUOUS = 7


class ActionOption(IntEnum):
    """Bits of ``SmartlockAction.option``."""

    NONE = 0
    FORCE = 2
    FULL_LOCK = 4


class LogCompletion(IntEnum):
    """``SmartlockLog.state``: how an action on the device ended."""

    SUCCESS = 0
    MOTOR_BLOCKED = 1
    CANCELED = 2
    TOO_RECENT = 3
    BUSY = 4
    LOW_MOTOR_VOLTAGE = 5
    CLUTCH_FAILURE = 6
    MOTOR_POWER_FAILURE = 7
    INCOMPLETE = 8
    REJECTED = 9
    REJECTED_NIGHT_MODE = 10
    OTHER_ERROR = 254
    UNKNOWN_ERROR = 255


class SmartlockState(NukiModel):
    mode: int = 2
    state: int = LockState.LOCKED
    trigger: int = 0
    last_action: int = 0
    battery_critical: bool = False
    battery_charging: bool | None = None
    battery_charge: int | None = None
    keypad_battery_critical: bool | None = None
    door_state: int = 0
    ring_to_open_timer: int = 0
    night_mode: bool = False
    operation_id: str | None = None


class SmartlockConfig(NukiModel):
    name: str = ""
    latitude: float = 0.0
    longitude: float = 0.0
    single_lock: bool = False
    advertising_mode: int = 0
    timezone_offset: int = 0
    timezone_id: int | None = None
    keypad_paired: bool = False
    keypad2_paired: bool = False
    operation_id: str | None = None


class Smartlock(NukiModel):
    smartlock_id: int
    account_id: int
    type: int
    auth_id: int
    name: str
    favorite: bool = False
    config: SmartlockConfig | None = None
    state: SmartlockState | None = None
    firmware_version: int | None = None
    hardware_version: int | None = None
    operation_id: str | None = None
    server_state: int = ServerState.ONLINE
    admin_pin_state: int = 0
    virtual_device: bool | None = None
    creation_date: datetime | None = None
    update_date: datetime | None = None
    error: str | None = None

    @property
    def online(self) -> bool:
        return self.server_state == ServerState.ONLINE

    @property
    def keypad_paired(self) -> bool:
        return self.config is not None and (self.config.keypad_paired or self.config.keypad2_paired)


class AuthRestrictions(NukiModel):
    """The time restrictions shared by every auth body. All optional: absent means none."""

    allowed_from_date: datetime | None = None
    allowed_until_date: datetime | None = None
    allowed_week_days: int | None = None
    allowed_from_time: int | None = None
    allowed_until_time: int | None = None


class SmartlockAuth(AuthRestrictions):
    """An authorization as Nuki stores it (``GET /smartlock/{id}/auth``)."""

    id: str
    smartlock_id: int
    account_user_id: int | None = None
    auth_id: int | None = None
    code: int | None = Field(default=None, repr=False)
    type: int
    name: str
    enabled: bool
    remote_allowed: bool
    lock_count: int = 0
    last_active_date: datetime | None = None
    creation_date: datetime | None = None
    update_date: datetime | None = None
    # Present while an asynchronous operation on this auth is pending on the device.
    operation_id: str | None = None
    error: str | None = None
    app_id: int | None = None


class SmartlockAuthCreate(AuthRestrictions):
    """Body of ``PUT /smartlock/{smartlockId}/auth``."""

    name: str
    remote_allowed: bool
    type: int | None = None
    code: int | None = Field(default=None, repr=False)
    account_user_id: int | None = None
    smart_actions_enabled: bool | None = None


class SmartlocksAuthCreate(SmartlockAuthCreate):
    """Body of ``PUT /smartlock/auth``: one auth on several locks."""

    smartlock_ids: list[int]


class SmartlockAuthUpdate(AuthRestrictions):
    """Body of ``POST /smartlock/{smartlockId}/auth/{id}``. Nuki replaces, it does not merge."""

    name: str
    code: int | None = Field(default=None, repr=False)
    enabled: bool | None = None
    remote_allowed: bool | None = None
    account_user_id: int | None = None


class SmartlockAuthMultiUpdate(SmartlockAuthUpdate):
    """One element of the body of ``POST /smartlock/auth``."""

    id: str


class SmartlockAction(NukiModel):
    """Body of ``POST /smartlock/{smartlockId}/action``."""

    action: int
    option: int = 0


class SmartlockLog(NukiModel):
    id: str
    smartlock_id: int
    device_type: int = 0
    account_user_id: int | None = None
    auth_id: str | None = None
    name: str = ""
    action: int
    trigger: int
    state: int
    auto_unlock: bool = False
    date: datetime
    source: int | None = None
    error: str | None = None


class NukiErrorBody(NukiModel):
    """The body of Nuki's 4xx answers (400 and 423 share it; 423 has no detail message)."""

    detail_message: str | None = None
    stack_trace: list[Any] = Field(default_factory=list)
    suppressed_exceptions: list[Any] = Field(default_factory=list)


class NukiStatusBody(NukiModel):
    """The body of Nuki's 422 answers: a status object."""

    code: int
    reason_phrase: str | None = None
    description: str | None = None


# Spec: DecentralWebhook.webhookFeatures.
WebhookFeature = Literal[
    "DEVICE_STATUS",
    "DEVICE_MASTERDATA",
    "DEVICE_CONFIG",
    "DEVICE_LOGS",
    "DEVICE_AUTHS",
    "ACCOUNT_USER",
]


class DecentralWebhook(NukiModel):
    """A decentral webhook (``/api/decentralWebhook``); ``id`` and ``secret`` are set by Nuki.
    The secret keys the HMAC of every delivery: it never appears in a ``repr``."""

    id: int | None = None
    secret: str | None = Field(default=None, repr=False)
    webhook_url: str
    webhook_features: list[WebhookFeature]
