"""Internal: decentral webhooks of the fake cloud: registrations per account, signed deliveries sent
in the background, delivery faults, retries, deactivation and the delivery log.

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
import hashlib
import hmac
import ipaddress
import json
import logging
import random
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from nukiflow.contracts.wire import (
    DecentralWebhook,
    Smartlock,
    SmartlockAuth,
    SmartlockLog,
    WebhookFeature,
)

from . import errors
from .webhook_models import (
    DeliveryOutcome,
    WebhookDelivery,
    WebhookView,
)
from .webhook_settings import WebhookFaults, WebhookSettings

SIGNATURE_HEADER = "X-Nuki-Signature-SHA256"
CONTENT_TYPE = "application/json; charset=UTF-8"
MAX_WEBHOOK_ID = 2**31 - 1  # DecentralWebhook.id is an int32

log = logging.getLogger("nukiflow.simulator.webhooks")


def sign(secret: str, body: bytes) -> str:
    """Nuki's signature: lowercase hex HMAC-SHA256 of the raw body, keyed with the secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


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


# ---- bodies: what Nuki sends, nothing more ---------------------------------------------------


def auth_body(auth: SmartlockAuth, deleted: bool) -> dict[str, Any]:
    return {"feature": "DEVICE_AUTHS", "deleted": deleted, "smartlockAuth": auth.to_wire()}


def status_body(smartlock: Smartlock) -> dict[str, Any]:
    # Nuki's example delivery carries the state without the operationId the listing has.
    state = smartlock.state.to_wire() if smartlock.state is not None else {}
    state.pop("operationId", None)
    return {
        "feature": "DEVICE_STATUS",
        "smartlockId": smartlock.smartlock_id,
        "state": state,
        "serverState": smartlock.server_state,
        "adminPinState": smartlock.admin_pin_state,
    }


def log_body(entry: SmartlockLog) -> dict[str, Any]:
    return {
        "feature": "DEVICE_LOGS",
        "smartlockId": entry.smartlock_id,
        "smartlockLog": entry.to_wire(),
    }


# ---- records ---------------------------------------------------------------------------------


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


class WebhookHub:
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

    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self._settings().webhook_timeout)

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

    # ---- sending (background) ----------------------------------------------------------------

    async def _send_loop(self, hook: Webhook) -> None:
        """Post the webhook's deliveries one by one; a delivery to reorder is held back until
        the next one has been sent (or `webhook_reorder_hold` passed)."""
        held: Delivery | None = None
        held_until = 0.0
        while True:
            try:
                if held is None:
                    delivery = await hook.queue.get()
                else:
                    async with asyncio.timeout(max(0.0, held_until - time.monotonic())):
                        delivery = await hook.queue.get()
            except TimeoutError:
                assert held is not None
                late, held = held, None
                await self._deliver(hook, late, reordered=True)
                continue
            if held is None and delivery.reorder:
                held, held_until = delivery, time.monotonic() + delivery.reorder_hold
                continue
            await self._deliver(hook, delivery)
            if held is not None:
                late, held = held, None
                await self._deliver(hook, late, reordered=True)

    async def _deliver(self, hook: Webhook, delivery: Delivery, reordered: bool = False) -> None:
        """One delivery: its attempts (retries per the settings), the failure count that
        deactivates the webhook, and the duplicate of a delivery that got through."""
        settings = self._settings()
        attempts = 1 + settings.webhook_retries
        delivered = False
        for attempt in range(1, attempts + 1):
            if not hook.active:
                self._record(
                    hook,
                    delivery,
                    attempt=0,
                    outcome="discarded",
                    started=time.monotonic(),
                    reordered=reordered,
                )
                return
            delivered = await self._attempt(hook, delivery, attempt, reordered=reordered)
            if delivered:
                break
            if attempt < attempts:
                await asyncio.sleep(settings.webhook_retry_delay * 2 ** (attempt - 1))
        if delivered:
            hook.consecutive_failures = 0
            if delivery.duplicate:
                await self._attempt(hook, delivery, 1, reordered=reordered, duplicate=True)
            return
        hook.consecutive_failures += 1
        if hook.consecutive_failures >= self._settings().webhook_deactivate_after:
            hook.active = False
            hook.deactivated_at = datetime.now(UTC)
            log.info(
                "webhook %s deactivated after %s failed deliveries in a row",
                hook.id,
                hook.consecutive_failures,
            )

    async def _attempt(
        self,
        hook: Webhook,
        delivery: Delivery,
        attempt: int,
        *,
        reordered: bool,
        duplicate: bool = False,
    ) -> bool:
        assert self._http is not None
        key = hook.secret if not delivery.bad_signature else "not-" + hook.secret
        headers = {"Content-Type": CONTENT_TYPE, SIGNATURE_HEADER: sign(key, delivery.body)}
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            response = await self._http.post(
                hook.url, content=delivery.body, headers=headers, timeout=self._timeout()
            )
            status = response.status_code
        except Exception as exc:  # any failure to get an answer is the receiver's failure
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        delivered = status is not None and 200 <= status < 300
        self._record(
            hook,
            delivery,
            attempt=attempt,
            outcome="delivered" if delivered else "failed",
            started=started,
            status=status,
            error=error,
            reordered=reordered,
            duplicate=duplicate,
        )
        return delivered

    def _record(
        self,
        hook: Webhook,
        delivery: Delivery,
        *,
        attempt: int,
        outcome: DeliveryOutcome,
        started: float,
        status: int | None = None,
        error: str | None = None,
        reordered: bool = False,
        duplicate: bool = False,
    ) -> None:
        self.deliveries.append(
            WebhookDelivery(
                delivery_id=delivery.id,
                webhook_id=hook.id,
                url=hook.url,
                feature=delivery.feature,
                smartlock_id=delivery.smartlock_id,
                attempt=attempt,
                duplicate=duplicate,
                outcome=outcome,
                status=status,
                error=error,
                emitted=delivery.emitted,
                time=started,
                delayed=delivery.delayed,
                reordered=reordered,
                bad_signature=delivery.bad_signature and attempt > 0,
            )
        )
        while len(self.deliveries) > self._settings().webhook_log_size:
            self.deliveries.popleft()
