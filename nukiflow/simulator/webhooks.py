"""Internal: decentral webhooks of the fake cloud: registrations per account, and deliveries
published with their faults drawn (sent by `webhook_sender.py`, as `webhook_bodies.py` builds them).

Publishing never waits: the simulation (a request handler or a device worker) builds the body,
draws the delivery's faults and puts it on the webhook's queue, all without awaiting. Each
webhook has its own sender task, which posts its deliveries one after another (so without
faults a receiver sees one webhook's events in the order they happened) on one shared
`httpx.AsyncClient` with explicit timeouts; a slow or failing receiver holds up its own queue
only, never the devices, the API or other webhooks.

Faults draw from a RNG of their own, seeded from the simulator's seed: registering a webhook or
receiving a delivery never shifts the ids and faults the rest of the fake cloud draws.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import random
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from nukiflow.contracts.wire import DecentralWebhook, WebhookFeature

from . import errors
from .webhook_models import WebhookDelivery
from .webhook_records import Delivery, Webhook
from .webhook_sender import DeliverySender
from .webhook_settings import WebhookFaults, WebhookSettings

MAX_WEBHOOK_ID = 2**31 - 1  # DecentralWebhook.id is an int32


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_webhook_url(url: str) -> None:
    """Nuki requires https; http is accepted on loopback only (a test's receiver has no
    certificate). Anything else is Nuki's 400 for the parameter."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise errors.bad_parameter("webhookUrl", url) from None
    if not host:
        raise errors.bad_parameter("webhookUrl", url)
    if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(host)):
        return
    raise errors.bad_parameter("webhookUrl", url)


class WebhookHub(DeliverySender):
    """Every account's decentral webhooks and their deliveries."""

    def __init__(self, settings: Callable[[], WebhookSettings], seed: int = 0) -> None:
        self._settings = settings
        self._http: httpx.AsyncClient | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self.hooks: dict[int, Webhook] = {}
        self.deliveries: deque[WebhookDelivery] = deque()
        self.rng = random.Random()
        self.reset(seed)

    # ---- lifecycle ---------------------------------------------------------------------------

    def reset(self, seed: int) -> None:
        """No webhooks, no deliveries, the RNG as seeded (senders and timers are cancelled)."""
        self._cancel_all()
        self.hooks = {}
        self.deliveries.clear()
        self.rng = random.Random(f"nukiflow-webhooks-{seed}")

    def start(self) -> None:
        if self._http is None:
            # trust_env=False: no proxy from the environment between the cloud and receivers.
            self._http = httpx.AsyncClient(
                trust_env=False, follow_redirects=False, timeout=self._timeout()
            )
        for hook in self.hooks.values():
            self._spawn(hook)

    async def stop(self) -> None:
        tasks = self._cancel_all()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def _cancel_all(self) -> list[asyncio.Task[None]]:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        tasks = [hook.sender for hook in self.hooks.values() if hook.sender is not None]
        for task in tasks:
            task.cancel()
        for hook in self.hooks.values():
            hook.sender = None
        return tasks

    def _spawn(self, hook: Webhook) -> None:
        if self._http is not None and hook.sender is None:
            hook.sender = asyncio.get_running_loop().create_task(
                self._send_loop(hook), name=f"nuki-sim-webhook-{hook.id}"
            )

    # ---- registrations (the API) -------------------------------------------------------------

    def register(self, account_id: int, body: DecentralWebhook) -> Webhook:
        check_webhook_url(body.webhook_url)
        if not body.webhook_features:
            raise errors.bad_parameter("webhookFeatures", "[]")
        if len(set(body.webhook_features)) != len(body.webhook_features):
            raise errors.bad_parameter("webhookFeatures", ",".join(body.webhook_features))
        webhook_id = self.rng.randint(1, MAX_WEBHOOK_ID)
        while webhook_id in self.hooks:
            webhook_id = self.rng.randint(1, MAX_WEBHOOK_ID)
        # The secret is the one value here that should not follow from the seed.
        hook = Webhook(
            id=webhook_id,
            account_id=account_id,
            url=body.webhook_url,
            features=list(body.webhook_features),
            secret=secrets.token_hex(20),
        )
        self.hooks[webhook_id] = hook
        self._spawn(hook)
        return hook

    def of_account(self, account_id: int) -> list[Webhook]:
        return [hook for hook in self.hooks.values() if hook.account_id == account_id]

    def unregister(self, account_id: int, webhook_id: int) -> None:
        """Its undelivered deliveries are abandoned with it."""
        hook = self.hooks.get(webhook_id)
        if hook is None or hook.account_id != account_id:
            raise errors.not_found("Decentral webhook")
        del self.hooks[webhook_id]
        if hook.sender is not None:
            hook.sender.cancel()

    # ---- publishing (the simulation) ---------------------------------------------------------

    def publish(
        self,
        account_id: int,
        smartlock_id: int,
        body: dict[str, Any],
        faults: WebhookFaults,
    ) -> None:
        """Queue the event for every active webhook of the account that wants its feature."""
        feature: WebhookFeature = body["feature"]
        hooks = [
            hook
            for hook in self.hooks.values()
            if hook.account_id == account_id and hook.active and feature in hook.features
        ]
        if not hooks:
            return
        now = time.monotonic()
        payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        for hook in hooks:
            count = hook.counts[smartlock_id] = hook.counts.get(smartlock_id, 0) + 1
            delivery = Delivery(
                id=f"{self.rng.getrandbits(96):024x}",
                feature=feature,
                smartlock_id=smartlock_id,
                body=payload,
                emitted=now,
            )
            if self._hit(count, faults.webhook_drop_nth, faults.webhook_drop_rate):
                self._record(hook, delivery, attempt=0, outcome="dropped", started=now)
                continue
            delivery.bad_signature = self._hit(
                count, faults.webhook_bad_signature_nth, faults.webhook_bad_signature_rate
            )
            delivery.duplicate = self._hit(
                count, faults.webhook_duplicate_nth, faults.webhook_duplicate_rate
            )
            delivery.reorder = self._hit(
                count, faults.webhook_reorder_nth, faults.webhook_reorder_rate
            )
            delivery.reorder_hold = faults.webhook_reorder_hold
            if faults.webhook_delay > 0 and self._hit(0, [], faults.webhook_delay_rate):
                delivery.delayed = faults.webhook_delay
            self._enqueue(hook, delivery)

    def _hit(self, count: int, nth: list[int], rate: float) -> bool:
        # Draw only when a rate is set, so a fault switched off leaves the sequence alone.
        return count in nth or (rate > 0 and self.rng.random() < rate)

    def _enqueue(self, hook: Webhook, delivery: Delivery) -> None:
        if delivery.delayed <= 0:
            hook.queue.put_nowait(delivery)
            return

        def arrive() -> None:
            self._timers.discard(timer)
            hook.queue.put_nowait(delivery)

        timer = asyncio.get_running_loop().call_later(delivery.delayed, arrive)
        self._timers.add(timer)
