"""Internal: the embedded stack: a Temporal dev server, the fake Nuki cloud (or the real API),
a worker, and optionally the codec server and the webhook receiver, in one process.

``nukiflow dev`` keeps one running on a state directory until Ctrl-C or SIGTERM; ``nukiflow
demo`` starts one in memory for a minute. Everything started is stopped in order on exit,
also when starting fails half-way: webhook receiver, worker, fake cloud, Temporal.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from nukiflow.activities.nuki_client import NukiClient
from nukiflow.contracts.wire import DecentralWebhook
from nukiflow.devtools.ports import free_port, port_in_use
from nukiflow.devtools.temporal_binary import TemporalBinaryNotFound, find_temporal_binary
from nukiflow.devtools.temporal_server import (
    DEFAULT_TEMPORAL_PORT,
    DEFAULT_UI_PORT,
    DevError,
    TemporalDevServer,
    connect_when_ready,
)
from nukiflow.nexus.endpoints import ensure_endpoint
from nukiflow.nexus.service import CALLER_NAMESPACE, ENDPOINT_NAME
from nukiflow.settings import Settings
from nukiflow.simulator.server import SimulatorServer
from nukiflow.simulator.settings import SimSettings
from nukiflow.temporal.codec import Keyring
from nukiflow.temporal.codec_server import CodecServer
from nukiflow.temporal.worker import build_worker
from nukiflow.webhooks.server import WebhookServer

DEFAULT_NUKI_PORT = 8080
# The fake cloud's token in dev: not a secret (it opens fake locks on loopback only).
DEV_NUKI_TOKEN = "nukiflow-dev-token"
DEV_LOCKS = 3
DEV_SEED = 0
TEMPORAL_DB = "temporal.db"
TEMPORAL_LOG = "temporal.log"


def _require_free(port: int, what: str, flag: str) -> None:
    if port_in_use(port):
        raise DevError(
            f"port {port} ({what}) is already in use: is another `nukiflow dev` or Temporal "
            f"server running? Stop it, or pick another port with {flag}"
        )


@dataclass
class StackOptions:
    """How to run the embedded stack. ``state_dir=None`` keeps Temporal in memory."""

    state_dir: Path | None
    temporal_port: int = DEFAULT_TEMPORAL_PORT
    ui_port: int | None = DEFAULT_UI_PORT
    nuki_port: int = DEFAULT_NUKI_PORT
    # None: the fake cloud unless NUKIFLOW_NUKI_URL points at a real Nuki API.
    fake_cloud: bool | None = None
    sim_token: str = DEV_NUKI_TOKEN
    sim_locks: int = DEV_LOCKS
    sim_seed: int = DEV_SEED
    sim_settings: SimSettings = field(default_factory=SimSettings)
    # The codec server that lets the Temporal UI show encrypted payloads (None: none; 0: any
    # free port).
    codec_port: int | None = None
    # The webhook receiver (None: none; 0: any free port). Against the fake cloud it is
    # registered there, and the secret the fake cloud answers configures it.
    webhook_port: int | None = None
    graceful_shutdown: timedelta = timedelta(seconds=5)
    worker_options: dict[str, Any] = field(default_factory=dict)
    # The Nexus endpoint routing callers' workflows to the worker (None: none), and the
    # namespace the dev server creates for those callers.
    nexus_endpoint: str | None = ENDPOINT_NAME
    caller_namespace: str = CALLER_NAMESPACE


class EmbeddedStack:
    """Temporal dev server + fake Nuki cloud (or the real API) + one worker, in this process.

    Use as ``async with EmbeddedStack(settings, keys, options) as stack``; everything started
    is stopped on exit, also when starting fails half-way.
    """

    def __init__(self, settings: Settings, keys: Keyring, options: StackOptions) -> None:
        self.options = options
        self.keys = keys
        self.fake_cloud = (
            not settings.is_production if options.fake_cloud is None else options.fake_cloud
        )
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if options.state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="nukiflow-")
            log_dir = Path(self._tmp.name)
        else:
            log_dir = options.state_dir
        self.temporal = TemporalDevServer(
            port=options.temporal_port or free_port(),
            ui_port=None if options.ui_port is None else (options.ui_port or free_port()),
            db_file=None if options.state_dir is None else options.state_dir / TEMPORAL_DB,
            log_file=log_dir / TEMPORAL_LOG,
            namespace=settings.temporal_namespace,
        )
        if options.caller_namespace != settings.temporal_namespace:
            self.temporal.extra_args += ["--namespace", options.caller_namespace]
        self.settings = settings.model_copy(update={"temporal_address": self.temporal.address})
        self.simulator: SimulatorServer | None = None
        self.codec_server: CodecServer | None = None
        self.client: Client | None = None
        self.nuki: NukiClient | None = None
        self.worker: Worker | None = None
        self.webhooks: WebhookServer | None = None
        # The webhook the fake cloud posts to (None: not registered anywhere).
        self.webhook: DecentralWebhook | None = None
        self.nuki_url = ""
        self.nuki_token = ""

    @property
    def ui_url(self) -> str | None:
        return self.temporal.ui_url

    @property
    def locks(self) -> list[int]:
        return [] if self.simulator is None else list(self.simulator.state.locks)

    async def start(self) -> None:
        options = self.options
        if self.temporal.binary is None:
            try:
                self.temporal.binary = find_temporal_binary()
            except TemporalBinaryNotFound as exc:
                raise DevError(str(exc)) from None
        if self.fake_cloud:
            if options.nuki_port:
                _require_free(options.nuki_port, "fake Nuki cloud", "--nuki-port")
            nuki_url, nuki_token = "", options.sim_token
        else:
            try:
                nuki_url, nuki_token = self.settings.require_nuki()
            except RuntimeError as exc:
                raise DevError(str(exc)) from None
        _require_free(self.temporal.port, "Temporal", "--temporal-port")
        ui_port = self.temporal.ui_port
        if ui_port is not None:
            _require_free(ui_port, "Temporal UI", "--ui-port")
        if ui_port is not None and options.codec_port is not None and options.codec_port:
            _require_free(options.codec_port, "codec server", "--codec-port")
        if options.webhook_port:
            _require_free(options.webhook_port, "webhook receiver", "--webhook-port")
        try:
            if ui_port is not None and options.codec_port is not None:
                # The UI decrypts payloads in the browser through this server (loopback only).
                origins = [f"http://localhost:{ui_port}", f"http://127.0.0.1:{ui_port}"]
                self.codec_server = CodecServer(
                    self.keys, host="127.0.0.1", port=options.codec_port, cors_origins=origins
                )
                await self.codec_server.start()
                self.temporal.extra_args += ["--ui-codec-endpoint", self.codec_server.endpoint]
            await self.temporal.start()
            self.client = await connect_when_ready(self.settings, self.keys)
            if self.fake_cloud:
                self.simulator = SimulatorServer(
                    host="127.0.0.1",
                    port=options.nuki_port,
                    token=nuki_token,
                    seed=options.sim_seed,
                    settings=options.sim_settings,
                    locks=options.sim_locks,
                )
                await self.simulator.start()
                nuki_url = self.simulator.base_url
            self.nuki_url, self.nuki_token = nuki_url, nuki_token
            self.nuki = NukiClient(nuki_token, nuki_url)
            self.worker = build_worker(
                self.client,
                self.nuki,
                self.settings.task_queue,
                graceful_shutdown=options.graceful_shutdown,
                webhooks=options.webhook_port is not None,
                **options.worker_options,
            )
            await self.worker.__aenter__()
            if options.nexus_endpoint is not None:
                await ensure_endpoint(
                    self.client,
                    options.nexus_endpoint,
                    target_namespace=self.settings.temporal_namespace,
                    target_task_queue=self.settings.task_queue,
                )
            if options.webhook_port is not None:
                await self._start_webhooks(options.webhook_port)
        except BaseException:
            await self.stop()
            raise

    async def _start_webhooks(self, port: int) -> None:
        """The receiver, forwarding through the stack's client; against the fake cloud it is
        registered there (for the features nukiflow forwards) and verifies with the secret the
        registration answers. Against a real Nuki API it verifies with the configured secrets
        (Nuki cannot reach this machine's loopback: register your public URL yourself)."""
        from nukiflow.webhooks.registration import DEFAULT_FEATURES
        from nukiflow.webhooks.server import receiver_from_settings

        assert self.client is not None and self.nuki is not None
        secrets: list[str] | None = [] if self.fake_cloud else None
        receiver = receiver_from_settings(self.client, self.settings, secrets=secrets)
        self.webhooks = WebhookServer(receiver, "127.0.0.1", port)
        await self.webhooks.start()
        if self.fake_cloud:
            self.webhook = await self.nuki.register_webhook(self.webhooks.url, DEFAULT_FEATURES)
            receiver.set_secrets([self.webhook.secret or ""])

    async def stop(self) -> None:
        """Webhook receiver, worker, then fake cloud, then Temporal; each step runs even if one
        before failed."""
        webhooks, self.webhooks = self.webhooks, None
        if webhooks is not None:
            with contextlib.suppress(Exception):
                await webhooks.stop()
        worker, self.worker = self.worker, None
        if worker is not None:
            with contextlib.suppress(Exception):
                await worker.__aexit__(None, None, None)
        nuki, self.nuki = self.nuki, None
        if nuki is not None:
            with contextlib.suppress(Exception):
                await nuki.aclose()
        simulator, self.simulator = self.simulator, None
        if simulator is not None:
            with contextlib.suppress(Exception):
                await simulator.stop()
        self.client = None
        await self.temporal.stop()
        codec_server, self.codec_server = self.codec_server, None
        if codec_server is not None:
            with contextlib.suppress(Exception):
                await codec_server.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def __aenter__(self) -> EmbeddedStack:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
