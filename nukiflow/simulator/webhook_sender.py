"""Sending webhook deliveries in the background: one sender task per webhook posts its
deliveries one after another on a shared `httpx.AsyncClient`, with retries, the failure count
that deactivates a webhook, duplicates, reordering, and the delivery log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from .webhook_bodies import CONTENT_TYPE, SIGNATURE_HEADER, sign
from .webhook_models import DeliveryOutcome, WebhookDelivery
from .webhook_records import Delivery, Webhook
from .webhook_settings import WebhookSettings

log = logging.getLogger("nukiflow.simulator.webhooks")


class DeliverySender:
    """The sending side of :class:`~.webhooks.WebhookHub`."""

    _settings: Callable[[], WebhookSettings]
    _http: httpx.AsyncClient | None
    deliveries: deque[WebhookDelivery]

    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self._settings().webhook_timeout)

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
