"""Serving the receiver: inside a worker or ``nukiflow dev`` (:class:`WebhookServer`), or alone
(``nukiflow webhook-receiver``, :func:`run_receiver`).

The receiver speaks plain HTTP on loopback by default. Nuki posts only to ``https://`` URLs:
in production put it behind your TLS-terminating reverse proxy or ingress, and register that
public URL (``nukiflow webhook register``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import timedelta
from types import TracebackType

from temporalio.client import Client

from nukiflow.settings import Settings
from nukiflow.temporal.asgi import EmbeddedServer
from nukiflow.temporal.converter import data_converter
from nukiflow.webhooks.receiver import WebhookReceiver

# `nukiflow webhook-receiver` without a port: next to the codec server's 8081.
DEFAULT_STANDALONE_PORT = 8082


class WebhookConfigError(RuntimeError):
    """The receiver cannot run as configured; the message says what to set."""


def receiver_from_settings(
    client: Client, settings: Settings, *, secrets: list[str] | None = None
) -> WebhookReceiver:
    """A receiver as the ``NUKIFLOW_WEBHOOK_*`` settings describe it, forwarding through
    ``client`` to workflows on ``NUKIFLOW_TASK_QUEUE``. ``secrets`` replaces the configured
    ones (``nukiflow dev`` gets its secret from registering with the fake cloud)."""
    return WebhookReceiver(
        client,
        secrets=settings.webhook_secret_list() if secrets is None else secrets,
        task_queue=settings.task_queue,
        path=settings.webhook_path,
        max_age=timedelta(seconds=settings.webhook_max_age_seconds),
        queue_size=settings.webhook_queue_size,
    )


def require_secrets(settings: Settings) -> list[str]:
    secrets = settings.webhook_secret_list()
    if not secrets:
        raise WebhookConfigError(
            "no webhook secret: set NUKIFLOW_WEBHOOK_SECRETS or NUKIFLOW_WEBHOOK_SECRET_FILE to "
            "the secret Nuki answered when the webhook was registered (`nukiflow webhook "
            "register URL --secret-file FILE` writes it to FILE)"
        )
    return secrets


class WebhookServer:
    """``receiver`` on ``host:port`` (0: a free port), served in the running event loop."""

    def __init__(self, receiver: WebhookReceiver, host: str = "127.0.0.1", port: int = 0) -> None:
        self.receiver = receiver
        self._server = EmbeddedServer(receiver, host, port, name="nukiflow-webhook-receiver")

    @property
    def url(self) -> str:
        """Where Nuki posts (the URL to register when nothing stands in between)."""
        return self._server.base_url + self.receiver.path

    @property
    def port(self) -> int:
        return self._server.port

    async def start(self) -> None:
        """Returns once the socket listens; forwarding starts with the server."""
        await self._server.start()

    async def stop(self) -> None:
        """Stop answering, then forward what is queued for a few seconds."""
        await self._server.stop()
        await self.receiver.stop()

    async def __aenter__(self) -> WebhookServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


async def connect_lazily(settings: Settings) -> Client:
    """A client that connects on its first call: the receiver starts (and answers Nuki) while
    Temporal is unreachable, and its forwarder retries until Temporal is back."""
    return await Client.connect(
        **settings.temporal_connect_options(),
        data_converter=data_converter(settings.keyring()),
        lazy=True,
    )


async def run_receiver(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    stop: asyncio.Event | None = None,
    announce: bool = True,
) -> None:
    """``nukiflow webhook-receiver``: serve until SIGINT/SIGTERM (or ``stop``)."""
    secrets = require_secrets(settings)
    client = await connect_lazily(settings)
    receiver = receiver_from_settings(client, settings, secrets=secrets)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    bind_host = settings.webhook_host if host is None else host
    bind_port = port if port is not None else (settings.webhook_port or DEFAULT_STANDALONE_PORT)
    async with WebhookServer(receiver, bind_host, bind_port) as server:
        if announce:
            print(f"nukiflow webhook receiver on {server.url}", flush=True)
            print(
                f"forwarding to Temporal at {settings.temporal_address} (namespace "
                f"{settings.temporal_namespace}, task queue {settings.task_queue}); "
                f"{len(secrets)} secret(s)",
                flush=True,
            )
        await stop.wait()
    counters = receiver.counters.as_dict()
    if announce:
        print("stopped: " + ", ".join(f"{k} {v}" for k, v in counters.items() if v), flush=True)
