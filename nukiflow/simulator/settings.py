"""How the fake Nuki cloud behaves: run settings (`SimSettings`) and injected faults (`Faults`).

`SimSettings` hold the timing and the behaviour where Nuki's documentation is ambiguous; they are
fixed per run (and can be replaced at run time through the control surface). `Faults` are off by
default and are set per test, globally or per lock; a lock's own `Faults` replace the global ones
as a whole (no field-wise merge), so what a lock does is always one readable object.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from .webhook_settings import WebhookFaults, WebhookSettings

# What happens to operations dispatched while their lock is offline (`serverState` 4):
# "hold" keeps them queued until the lock is online again, "drop" discards them (Nuki staff:
# auths created while offline "may not be created").
OfflineMode = Literal["hold", "drop"]

# When a created auth appears in `GET /smartlock/{id}/auth`: only once the device applied it,
# or at once (with its `operationId`).
CreateVisibility = Literal["after_apply", "immediately"]

Rate = float  # a probability in [0, 1]


class SimSettings(WebhookSettings):
    """Timing and ambiguous behaviour of the fake cloud, per run (webhook delivery fields come
    from `WebhookSettings`)."""

    model_config = ConfigDict(extra="forbid")

    device_delay: float = Field(
        2.0, ge=0, description="Seconds the device takes per auth operation."
    )
    action_time: float = Field(2.0, ge=0, description="Seconds from dispatch to final lock state.")
    lock_race_window: float = Field(
        0.5,
        ge=0,
        description="Seconds after the first accepted write of a burst during which further "
        "writes to the same pending auth are still accepted (the forum's race).",
    )
    lock_race_writes: int = Field(
        4, ge=1, description="At most this many writes are accepted per burst on one auth."
    )
    create_visibility: CreateVisibility = "after_apply"
    offline_mode: OfflineMode = "drop"
    max_auths: int = Field(200, ge=1, description="Authorizations one lock can hold.")
    access_token_lifetime: float = Field(
        3600.0, gt=0, description="Seconds an OAuth access token lives (Nuki's docs: an hour)."
    )
    # What a token gets for a lock of another account: Nuki documents only that a token sees
    # its own account's devices; 401 is the harsher answer (it looks like a dead token).
    foreign_lock_status: Literal[401, 403, 404] = 401


class Faults(WebhookFaults):
    """Injected faults; all off by default. Random ones draw from the simulator's seeded RNG
    (webhook delivery faults come from `WebhookFaults`)."""

    model_config = ConfigDict(extra="forbid")

    # Timing overrides (None: use SimSettings).
    device_delay: float | None = Field(None, ge=0)
    action_time: float | None = Field(None, ge=0)
    offline_mode: OfflineMode | None = None
    device_paused: bool = Field(
        False,
        description="The device takes up no operation while set: they stay queued and pending "
        "(operationId, 423 for further writes), the lock online; an operation someone else "
        "started that lasts exactly as long as a test needs.",
    )

    # Accepted with 204, never applied by the device. Updates are counted per auth (1-based),
    # creates per lock, deletes per auth.
    lost_update_nth: list[int] = Field(default_factory=list)
    lost_update_rate: Rate = Field(0.0, ge=0, le=1)
    lost_create_nth: list[int] = Field(default_factory=list)
    lost_create_rate: Rate = Field(0.0, ge=0, le=1)
    ghost_delete_nth: list[int] = Field(default_factory=list)
    ghost_delete_rate: Rate = Field(0.0, ge=0, le=1)

    # Request-level faults of Nuki API requests.
    server_error_rate: Rate = Field(0.0, ge=0, le=1, description="500/502/503 before any effect.")
    server_error_after_commit_rate: Rate = Field(
        0.0, ge=0, le=1, description="Writes take effect, the client still sees 502."
    )
    rate_limit_rate: Rate = Field(0.0, ge=0, le=1, description="429 before any effect.")
    retry_after: int | None = Field(1, ge=0, description="Retry-After of a 429; None: no header.")
    slow_response: float = Field(0.0, ge=0, description="Seconds a response is held back.")
    slow_rate: Rate = Field(1.0, ge=0, le=1, description="Share of responses slow_response hits.")
    forbidden: bool = Field(False, description="403 for every request on the lock.")
    slow_writes_only: bool = Field(
        False, description="slow_response hits writes only (an answer lost after the effect)."
    )

    # Actions.
    motor_blocked_rate: Rate = Field(0.0, ge=0, le=1)
    motor_blocked_next: bool = Field(
        False, description="The next action on the lock ends motor-blocked (flag then clears)."
    )
