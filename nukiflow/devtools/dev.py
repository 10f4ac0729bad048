"""Internal: ``nukiflow dev``: the embedded stack on a state directory until Ctrl-C.

Temporal keeps its SQLite file in the state directory (one ``nukiflow dev`` per directory, held
by an advisory lock), so every workflow survives a restart; the fake Nuki cloud starts empty,
with the same lock ids. The dev encryption key is kept there too, where the command line finds
it. SIGINT, SIGTERM and SIGHUP stop everything in order (see :mod:`nukiflow.devtools.stack`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.markup import escape

from nukiflow.devtools.banner import DevBanner, print_dev_banner
from nukiflow.devtools.stack import (
    DEFAULT_NUKI_PORT,
    TEMPORAL_DB,
    EmbeddedStack,
    StackOptions,
)
from nukiflow.devtools.temporal_server import DEFAULT_TEMPORAL_PORT, DEFAULT_UI_PORT, DevError
from nukiflow.devtools.ui_address import record_ui_address
from nukiflow.nexus.service import CALLER_NAMESPACE, ENDPOINT_NAME
from nukiflow.settings import Settings
from nukiflow.temporal.codec import CodecError, Keyring

LOCK_FILE = "dev.lock"


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


def dev_banner(stack: EmbeddedStack, settings: Settings) -> DevBanner:
    """What the banner shows about a started stack."""
    return DevBanner(
        temporal_address=stack.temporal.address,
        namespace=settings.temporal_namespace,
        task_queue=settings.task_queue,
        ui_url=stack.temporal.ui_url,
        nuki_url=stack.nuki_url,
        nuki_token=stack.nuki_token,
        fake_cloud=stack.fake_cloud,
        locks=tuple(stack.locks),
        codec_endpoint=None if stack.codec_server is None else stack.codec_server.endpoint,
        state_dir=stack.options.state_dir,
        webhook_url=None if stack.webhooks is None else stack.webhooks.url,
        webhook_features=(None if stack.webhook is None else tuple(stack.webhook.webhook_features)),
    )


async def _ensure_sweep(stack: EmbeddedStack, settings: Settings, console: Any) -> None:
    """The drift sweep's schedule, created (or updated) every time dev starts."""
    from datetime import timedelta

    from nukiflow.fleet.sweep import ensure_sweep_schedule

    assert stack.client is not None
    every = timedelta(seconds=settings.sweep_every_seconds)
    await ensure_sweep_schedule(stack.client, settings.task_queue, every)
    console.print(f"[dim]Drift sweep: every {every} (`nukiflow sweep run` sweeps now).[/]")


def _install_stop_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop.set)


async def run_dev(settings: Settings, options: DevOptions, *, out: Any = None) -> int:
    """Run the embedded stack until SIGINT/SIGTERM/SIGHUP. Returns the exit status."""
    # The command line's consoles (escaping, widths); imported here so that the stack's parts
    # can be imported without loading the command line.
    from nukiflow.cli.console import stderr_console, stdout_console

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
                await _ensure_sweep(stack, settings, console)
                if stack.ui_url:
                    record_ui_address(state_dir, stack.temporal.address, stack.ui_url)
                print_dev_banner(console, dev_banner(stack, settings))
                console.print(
                    f"Nexus: endpoint [bold]{ENDPOINT_NAME}[/] → namespace "
                    f"{settings.temporal_namespace}, task queue {settings.task_queue}; callers' "
                    f"namespace [bold]{CALLER_NAMESPACE}[/]",
                    highlight=False,
                )
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
