"""The fake cloud's records of decentral webhooks and of the deliveries on their way."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from nukiflow.contracts.wire import DecentralWebhook, WebhookFeature

from .webhook_models import WebhookView


@dataclass
class Delivery:
    """One event on its way to one webhook, with its faults drawn."""

    id: str
    feature: WebhookFeature
    smartlock_id: int
    body: bytes
    emitted: float
    delayed: float = 0.0
    duplicate: bool = False
    reorder: bool = False
    reorder_hold: float = 0.0
    bad_signature: bool = False


@dataclass
class Webhook:
    id: int
    account_id: int
    url: str
    features: list[WebhookFeature]
    secret: str = field(repr=False)
    active: bool = True
    consecutive_failures: int = 0
    deactivated_at: datetime | None = None
    # Deliveries per lock so far (the `*_nth` faults count these).
    counts: dict[int, int] = field(default_factory=dict)
    queue: asyncio.Queue[Delivery] = field(default_factory=asyncio.Queue)
    sender: asyncio.Task[None] | None = None

    def decentral_webhook(self) -> DecentralWebhook:
        """As Nuki lists it."""
        return DecentralWebhook(
            id=self.id, secret=self.secret, webhook_url=self.url, webhook_features=self.features
        )

    def view(self) -> WebhookView:
        return WebhookView(
            id=self.id,
            account_id=self.account_id,
            url=self.url,
            features=self.features,
            active=self.active,
            consecutive_failures=self.consecutive_failures,
            deactivated_at=self.deactivated_at,
        )
