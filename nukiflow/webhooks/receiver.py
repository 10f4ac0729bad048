"""The webhook receiver: an ASGI app that takes Nuki's signed deliveries and answers at once.

``POST <path>`` (default ``/nuki/webhook``), in this order:

1. the body is read up to ``max_body_bytes`` (larger: 413, nothing forwarded);
2. ``X-Nuki-Signature-SHA256`` must be the HMAC-SHA256 of the raw body with one of the
   configured secrets, compared in constant time (missing or wrong: 401, nothing forwarded,
   logged without the body and throttled);
3. a body seen before (its SHA-256 is among the last ``remember`` queued) is acknowledged and
   not forwarded again;
4. the body is read into an event (a signed body nukiflow cannot read, or a feature it does not
   forward, is acknowledged and counted);
5. an event dated by its body (an auth's ``updateDate``, a log entry's ``date``) more than
   ``max_age`` away from now is stale: acknowledged, not forwarded;
6. the event is queued for the :class:`~nukiflow.webhooks.forwarder.Forwarder` and the answer
   is 200 — also when the queue is full (the event is then dropped and counted).

Every answer after the signature check is 2xx, whatever became of the event: Nuki deactivates
a webhook whose deliveries fail too often, and retrying an authentic delivery that is stale,
a duplicate or unreadable cannot make it useful. No answer waits for Temporal.

``GET /healthz`` answers while the process serves. ``counters`` says what became of every
delivery (see :class:`~nukiflow.webhooks.counters.Counters`).
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from temporalio.client import Client

from nukiflow.webhooks.counters import Counters, ThrottledLog
from nukiflow.webhooks.deliveries import (
    UnhandledFeature,
    UnreadableDelivery,
    digest,
    event_date,
    parse_delivery,
)
from nukiflow.webhooks.forwarder import Forwarder, ForwardingPolicy
from nukiflow.webhooks.signatures import SIGNATURE_HEADER, verify

log = logging.getLogger("nukiflow.webhooks")

DEFAULT_PATH = "/nuki/webhook"
# Nuki's deliveries are a few hundred bytes; anything near this is not one of them.
DEFAULT_MAX_BODY_BYTES = 64 * 1024
# Bodies remembered to recognise a delivery sent again.
DEFAULT_REMEMBER = 10_000
DEFAULT_MAX_AGE = timedelta(days=1)
DEFAULT_QUEUE_SIZE = 10_000

_SIGNATURE_KEY = SIGNATURE_HEADER.lower().encode("latin-1")


class WebhookReceiver:
    """The receiver as an ASGI app (serve it with any ASGI server, or
    :class:`~nukiflow.webhooks.server.WebhookServer`).

    Forwarding starts with the app's lifespan (or :meth:`start`) and stops with it
    (:meth:`stop`, which forwards what is queued for a few seconds).
    """

    def __init__(
        self,
        client: Client,
        *,
        secrets: Sequence[str],
        task_queue: str,
        path: str = DEFAULT_PATH,
        max_age: timedelta = DEFAULT_MAX_AGE,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        remember: int = DEFAULT_REMEMBER,
        policy: ForwardingPolicy | None = None,
    ) -> None:
        if not path.startswith("/"):
            raise ValueError(f"the webhook path must start with '/', not {path[:40]!r}")
        self.path = path
        self.max_age = max_age
        self.max_body_bytes = max_body_bytes
        self.counters = Counters()
        self.forwarder = Forwarder(
            client, task_queue, self.counters, queue_size=queue_size, policy=policy
        )
        self._secrets: list[str] = []
        self.set_secrets(secrets)
        self._remember = remember
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._throttled = ThrottledLog(log)
        self.app = Starlette(
            routes=[
                Route(path, self._deliver, methods=["POST"]),
                Route("/healthz", self._healthz, methods=["GET"]),
            ],
            lifespan=self._lifespan,
        )
        self.app.state.receiver = self

    def set_secrets(self, secrets: Sequence[str]) -> None:
        """Replace the secrets deliveries are verified with (any one verifies)."""
        self._secrets = [secret for secret in secrets if secret]

    @property
    def secret_count(self) -> int:
        return len(self._secrets)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    async def start(self) -> None:
        """Start forwarding (idempotent)."""
        await self.forwarder.start()

    async def stop(self) -> None:
        """Forward what is queued for a few seconds, then stop (idempotent); logs the counters."""
        if not self.forwarder.running:
            return
        await self.forwarder.stop()
        counts = ", ".join(f"{k} {v}" for k, v in self.counters.as_dict().items() if v)
        log.info("webhook receiver stopped: %s", counts or "no deliveries")

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    # -- requests -----------------------------------------------------------------------------

    async def _healthz(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "alive", "forwarding": self.forwarder.running})

    async def _deliver(self, request: Request) -> JSONResponse:
        counters = self.counters
        counters.received += 1
        peer = request.client.host if request.client else "unknown"
        body = await self._read_body(request)
        if body is None:
            counters.refused += 1
            self._throttled.warning(
                "too-large",
                "refused a webhook delivery from %s: body over %d bytes",
                peer,
                self.max_body_bytes,
            )
            return _answer(413, "body too large")
        signature = _raw_header(request.scope, _SIGNATURE_KEY)
        if not verify(body, signature, self._secrets):
            counters.refused += 1
            if not self._secrets:
                reason = "no webhook secret is configured"
            else:
                reason = "no signature" if not signature else "wrong signature"
            self._throttled.warning(
                f"signature:{reason}",
                "refused a webhook delivery from %s: %s (%d bytes)",
                peer,
                reason,
                len(body),
            )
            return _answer(401, "signature does not verify")
        body_digest = digest(body)
        if body_digest in self._seen:
            self._seen.move_to_end(body_digest)
            counters.duplicates += 1
            return _answer(200, "duplicate")
        received_at = datetime.now(UTC)
        try:
            event = parse_delivery(body, received_at=received_at, body_digest=body_digest)
        except UnhandledFeature as exc:
            counters.unhandled += 1
            log.debug("webhook delivery of feature %r not forwarded", exc.feature)
            return _answer(200, "unhandled")
        except UnreadableDelivery as exc:
            counters.unreadable += 1
            self._throttled.warning(
                "unreadable", "a signed webhook delivery could not be read: %s", exc
            )
            return _answer(200, "unreadable")
        except Exception as exc:  # a reader's bug must not turn into failures Nuki counts
            counters.unreadable += 1
            # The type only: a message might quote the body (and a code in it).
            log.error("reading a signed webhook delivery failed: %s", type(exc).__name__)
            return _answer(200, "unreadable")
        date = event_date(event)
        if date is not None and abs(received_at - date) > self.max_age:
            counters.stale += 1
            self._throttled.warning(
                "stale",
                "a webhook delivery about smartlock %s is dated %s, more than %s from now: "
                "not forwarded",
                event.smartlock_id,
                date.isoformat(),
                self.max_age,
            )
            return _answer(200, "stale")
        if not self.forwarder.offer(event):
            counters.dropped += 1
            self._throttled.warning(
                "queue-full",
                "webhook queue full (%d events waiting for Temporal): event dropped (the "
                "workflows' polling covers it)",
                self.forwarder.queue.maxsize,
            )
            return _answer(200, "dropped")
        self._seen[body_digest] = None
        while len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        counters.queued += 1
        return _answer(200, "queued")

    async def _read_body(self, request: Request) -> bytes | None:
        """The raw body, or None when it is larger than ``max_body_bytes``."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)


def _raw_header(scope: Scope, name: bytes) -> bytes | None:
    """A header's raw bytes (compared as bytes: no decoding can fail on a forged value)."""
    headers: Any = scope.get("headers", [])
    for key, value in headers:
        if key.lower() == name:
            return bytes(value)
    return None


def _answer(status: int, result: str) -> JSONResponse:
    key = "result" if status < 400 else "error"
    return JSONResponse({key: result}, status_code=status)
