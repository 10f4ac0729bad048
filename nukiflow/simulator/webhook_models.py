"""Bodies of the webhook endpoints and of the control surface's webhook additions.

`DecentralWebhook` is Nuki's object (a wire model, shared with the Nuki client); the rest are
the simulator's own objects (snake_case), like control_models.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from nukiflow.contracts.wire import WebhookFeature

from .control_models import ControlModel

# What happened to one delivery attempt: "delivered" (2xx), "failed" (another status or no
# answer), "dropped" (a fault: never sent), "discarded" (its webhook was deactivated first).
DeliveryOutcome = Literal["delivered", "failed", "dropped", "discarded"]


class WebhookDelivery(ControlModel):
    """One delivery attempt (or a delivery never attempted), as `/_sim/webhook-deliveries`
    lists them. Times are `time.monotonic()` of the simulator, like `RequestRecord.time`."""

    delivery_id: str  # 24 hex; shared by the retries and the duplicate of one delivery
    webhook_id: int
    url: str
    feature: WebhookFeature
    smartlock_id: int
    # 1 for the first attempt, 2.. for retries; 0 when never attempted (dropped, discarded).
    attempt: int
    duplicate: bool = False  # the second copy of a duplicated delivery
    outcome: DeliveryOutcome
    status: int | None = None  # the receiver's HTTP status, None without an answer
    error: str | None = None  # why there was no answer (timeout, refused connection, ...)
    emitted: float  # when the event happened
    time: float  # when the attempt started (dropped, discarded: when that was decided)
    delayed: float = 0.0  # seconds held back by the delay fault
    reordered: bool = False  # held back and sent after the webhook's next delivery
    bad_signature: bool = False  # signed with a wrong key (fault)


class WebhookView(ControlModel):
    """A registered webhook as the control surface shows it: Nuki's listing has no field for
    whether a webhook is still active, so that lives here."""

    id: int
    account_id: int
    url: str
    features: list[WebhookFeature]
    active: bool
    consecutive_failures: int
    deactivated_at: datetime | None = None


class AuthChange(ControlModel):
    """A direct change of an auth on the device ("changed in the Nuki app"): the fields given
    replace theirs (`None` clears a restriction); nothing beyond types is validated."""

    name: str | None = None
    code: int | None = Field(default=None, repr=False)
    enabled: bool | None = None
    remote_allowed: bool | None = None
    account_user_id: int | None = None
    allowed_from_date: datetime | None = None
    allowed_until_date: datetime | None = None
    allowed_week_days: int | None = None
    allowed_from_time: int | None = None
    allowed_until_time: int | None = None
