"""How long nukiflow waits and how often it asks: the timing knobs of the workflows."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PollTiming(BaseModel):
    """How to poll. The defaults suit the real Nuki cloud; tests shorten them."""

    fast_window_seconds: float = 20.0
    fast_first_interval_seconds: float = 0.25
    # Capped at half a second so a finished operation is seen within ~0.5 s of landing.
    fast_max_interval_seconds: float = 0.5
    # How long an operation is assumed to take while a worker has timed no lock yet: Nuki says
    # an online operation takes "a few seconds". Only one of a cold worker's waits polls fast
    # to time a lock; the others read first when it has, or after this long.
    cold_pace_seconds: float = Field(default=2.0, ge=0, le=300, allow_inf_nan=False)
    # Retry-policy polling after the fast window (also the schedule of later attempts).
    slow_initial_interval_seconds: float = 10.0
    slow_max_interval_seconds: float = 300.0
    heartbeat_timeout_seconds: float = 15.0
    # While the lock's webhooks are healthy (see README "Completion by webhook"), how long a
    # write or an action waits for the lock's report before it polls: the report normally comes
    # within the device's time. An action waits this long beyond its learned time.
    webhook_wait_seconds: float = Field(default=10.0, ge=0)


class RetryTiming(BaseModel):
    """Back-off for API calls refused with 423, 429, 5xx or a transport error."""

    initial_interval_seconds: float = Field(default=1.0, gt=0)
    backoff: float = Field(default=2.0, ge=1)
    max_interval_seconds: float = Field(default=30.0, gt=0)
    # How long one attempt of a single API call (a write, a read) may take before it is tried
    # again: also how long a change waits after its worker died in the middle of one.
    call_timeout_seconds: float = Field(default=30.0, gt=0)


# The oldest listing of a lock a change's base read may be answered from (seconds).
MAX_BASE_READ_AGE_SECONDS = 300.0


class WorkflowTiming(BaseModel):
    """Everything timing-related a workflow needs (carried across continue-as-new)."""

    poll: PollTiming = Field(default_factory=PollTiming)
    retry: RetryTiming = Field(default_factory=RetryTiming)
    # How old a listing of the lock the worker fetched may be to answer a change's base read
    # (the auth as Nuki holds it before the first change: it supplies the fields the change
    # does not set); 0: every base read is its own GET. See README "Base reads".
    base_read_max_age_seconds: float = Field(
        default=30.0, ge=0, le=MAX_BASE_READ_AGE_SECONDS, allow_inf_nan=False
    )
