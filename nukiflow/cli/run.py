"""Internal: running things: ``dev``, ``demo``, ``worker`` (production), ``simulator`` and the codec
server and key generator."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from nukiflow.cli.common import _Process, _run, _settings
from nukiflow.cli.console import EXIT_REJECTED, error
from nukiflow.settings import Settings


def dev(
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            help="Where Temporal's SQLite file, its log and the dev encryption key live "
            "(default: NUKIFLOW_STATE_DIR, .nukiflow).",
        ),
    ] = None,
    temporal_port: int = typer.Option(7233, "--temporal-port", help="Temporal's gRPC port."),
    ui_port: int = typer.Option(8233, "--ui-port", help="The Temporal Web UI's port."),
    nuki_port: int = typer.Option(8080, "--nuki-port", help="The fake Nuki cloud's port."),
    codec_port: int | None = typer.Option(
        None,
        "--codec-port",
        help="The codec server's port, which lets the UI decrypt (default: "
        "NUKIFLOW_CODEC_SERVER_PORT, 8081).",
    ),
    webhook_port: int = typer.Option(
        0,
        "--webhook-port",
        help="The webhook receiver's port (0: any free one); the fake cloud is registered "
        "with it and its deliveries become signals.",
    ),
) -> None:
    """Run Temporal (with its Web UI), the fake Nuki cloud, a worker and the webhook receiver.

    Workflows are kept in the state directory across restarts; Ctrl-C (or SIGTERM) stops
    everything. With NUKIFLOW_NUKI_URL (and a token) set, the worker talks to that Nuki API
    instead of the fake cloud.
    """
    from nukiflow.devtools.dev import DevOptions, run_dev

    settings = _settings()
    _quiet_logging(settings)
    _Process.used_temporal = True
    options = DevOptions(
        state_dir=state_dir or settings.state_dir,
        temporal_port=temporal_port,
        ui_port=ui_port,
        nuki_port=nuki_port,
        codec_port=settings.codec_server_port if codec_port is None else codec_port,
        webhook_port=webhook_port,
    )
    _run(run_dev(settings, options))


def demo(
    json_output: bool = typer.Option(
        False, "--json", help="Print one JSON object: {raw: {...}, nukiflow: {...}}."
    ),
    keep_running: bool = typer.Option(
        False,
        "--keep-running",
        help="Keep Temporal and its UI running afterwards (Ctrl-C stops), to open the link.",
    ),
    temporal_port: int = typer.Option(0, "--temporal-port", help="Temporal's port (0: free)."),
    ui_port: int = typer.Option(0, "--ui-port", help="The Temporal UI's port (0: free)."),
) -> None:
    """The forum case end to end: five quick code changes, plain client vs. nukiflow.

    The plain client's changes get 204, 204, 204, 204, 423 and one of the accepted ones is
    silently lost; nukiflow's five changes end verified on the last code sent. Starts what it
    needs (Temporal in memory, the fake cloud, a worker) and stops it afterwards. Exit status 0
    only when nukiflow's verified final code is the last one sent.
    """
    from nukiflow.devtools.demo import DemoOptions, run_demo

    settings = _settings()
    _quiet_logging(settings)
    _Process.used_temporal = True
    options = DemoOptions(
        json_output=json_output,
        keep_running=keep_running,
        temporal_port=temporal_port,
        ui_port=ui_port,
    )
    _run(run_demo(settings, options))


def worker() -> None:
    """Run a worker alone against the configured Temporal and Nuki API (production).

    Settings come from NUKIFLOW_* variables. Runs until SIGINT/SIGTERM, then lets running
    activities finish.
    """
    from nukiflow.temporal.logs import configure_logging
    from nukiflow.temporal.worker import run_worker

    settings = _settings()
    configure_logging(settings.log_format, secrets=settings.secret_values())
    _Process.used_temporal = True
    try:
        asyncio.run(run_worker(settings))
    except RuntimeError as exc:
        error(f"nukiflow worker: {exc}")
        raise typer.Exit(EXIT_REJECTED) from None
    except KeyboardInterrupt:
        pass


def simulator(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8080, help="Port to listen on (0 picks a free one)."),
    # Resolved when the command runs: the default lives with the simulator, which the CLI's
    # help does not load.
    token: str | None = typer.Option(
        None,
        envvar="NUKIFLOW_SIM_TOKEN",
        help="Bearer token it accepts (default: the simulator's well-known dev token, "
        "printed at start).",
        show_default=False,
    ),
    locks: int = typer.Option(3, min=0, help="Locks to seed, each with a paired keypad."),
    seed: int = typer.Option(0, help="Seed of every random decision (ids, faults)."),
    device_delay: float = typer.Option(2.0, min=0, help="Seconds per auth operation."),
    action_time: float = typer.Option(2.0, min=0, help="Seconds per lock action."),
) -> None:
    """Serve the fake Nuki cloud (the Nuki Web API plus a /_sim control surface)."""
    from nukiflow.simulator import SimSettings, run
    from nukiflow.simulator.standalone import DEV_TOKEN

    run(
        host=host,
        port=port,
        token=DEV_TOKEN if token is None else token,
        locks=locks,
        seed=seed,
        settings=SimSettings(device_delay=device_delay, action_time=action_time),
    )


def codec_server(
    host: str | None = typer.Option(
        None, "--host", help="Address (default NUKIFLOW_CODEC_SERVER_HOST, 127.0.0.1)."
    ),
    port: int | None = typer.Option(
        None, "--port", help="Port (default NUKIFLOW_CODEC_SERVER_PORT, 8081)."
    ),
) -> None:
    """Serve the codec server, so the Temporal UI and CLI can show encrypted payloads."""
    from nukiflow.temporal.codec import CodecError
    from nukiflow.temporal.codec_server import serve_from_settings

    try:
        serve_from_settings(_settings(), host=host, port=port)
    except CodecError as exc:
        error(str(exc))
        raise typer.Exit(EXIT_REJECTED) from None


def codec_keygen(
    key_id: str | None = typer.Argument(None, help="Id of the key (default: a random one)."),
) -> None:
    """Print a new payload encryption key as `id:base64`, for NUKIFLOW_CODEC_KEYS or a key file.

    To rotate, put the new key first and keep the old ones after it: new payloads use the first,
    old histories stay readable.
    """
    from nukiflow.temporal.codec import CodecKey

    typer.echo(CodecKey.generate(key_id).to_text())


def _quiet_logging(settings: Settings) -> None:
    """Warnings and errors only: dev and demo print their own account of what happens.

    Masked like the worker's log: the worker runs in this process and logs here.
    """
    from nukiflow.temporal.logs import configure_logging

    configure_logging(
        "text",
        logging.WARNING,
        secrets=settings.secret_values(),
        text_format="%(levelname)s %(name)s: %(message)s",
    )
