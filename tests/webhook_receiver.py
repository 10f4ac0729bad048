"""A webhook receiver for tests: a tiny Starlette app on loopback that keeps every request it
gets (raw body and headers) and answers with the status the test chooses."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nukiflow.temporal.asgi import EmbeddedServer

SIGNATURE_HEADER = "X-Nuki-Signature-SHA256"


@dataclass(frozen=True)
class Received:
    raw: bytes
    headers: dict[str, str]

    @property
    def body(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.raw)
        return parsed

    @property
    def feature(self) -> str:
        return str(self.body["feature"])

    def signed_with(self, secret: str) -> bool:
        """Verify as a receiver must: over the raw bytes, in constant time."""
        expected = hmac.new(secret.encode(), self.raw, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers.get(SIGNATURE_HEADER.lower(), ""))


class Receiver:
    """`async with Receiver() as receiver`; `receiver.url` is what to register."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        # Statuses to answer with, one per request, then `status`.
        self.script: list[int] = []
        self.status = 200
        # While set, requests wait for it to be released (a slow receiver).
        self.hold: asyncio.Event | None = None
        self.server = EmbeddedServer(
            Starlette(routes=[Route("/hook", self._handle, methods=["POST"])]),
            "127.0.0.1",
            0,
            name="webhook-receiver",
        )

    @property
    def url(self) -> str:
        return f"{self.server.base_url}/hook"

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        if self.hold is not None:
            await self.hold.wait()
        self.received.append(Received(raw, dict(request.headers)))
        status = self.script.pop(0) if self.script else self.status
        return Response(status_code=status)

    def bodies(self, feature: str | None = None) -> list[dict[str, Any]]:
        return [r.body for r in self.received if feature is None or r.feature == feature]

    async def __aenter__(self) -> Receiver:
        await self.server.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self.hold is not None:
            self.hold.set()
        await self.server.stop()


async def eventually(check: Callable[[], Awaitable[bool] | bool], within: float = 10.0) -> None:
    """A bounded poll: the condition must come true within `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        outcome = check()
        if not isinstance(outcome, bool):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
