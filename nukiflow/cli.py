"""The `nukiflow` command line."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import typer

from nukiflow.settings import Settings

app = typer.Typer(
    name="nukiflow",
    help="Reliable changes to Nuki smart locks, as durable Temporal workflows.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def simulator(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8080, help="Port to listen on (0 picks a free one)."),
    token: str = typer.Option(
        "nukiflow-dev-token", envvar="NUKIFLOW_SIM_TOKEN", help="Bearer token it accepts."
    ),
    locks: int = typer.Option(3, min=0, help="Locks to seed, each with a paired keypad."),
    seed: int = typer.Option(0, help="Seed of every random decision (ids, faults)."),
    device_delay: float = typer.Option(2.0, min=0, help="Seconds per auth operation."),
    action_time: float = typer.Option(2.0, min=0, help="Seconds per lock action."),
) -> None:
    """Serve the fake Nuki cloud (the Nuki Web API plus a /_sim control surface)."""
    from nukiflow.simulator import SimSettings, run

    run(
        host=host,
        port=port,
        token=token,
        locks=locks,
        seed=seed,
        settings=SimSettings(device_delay=device_delay, action_time=action_time),
    )


@app.command()
def worker() -> None:
    """Run a worker against the configured Temporal and Nuki API (NUKIFLOW_* settings)."""
    from nukiflow.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # httpx logs every request URL at INFO; keep the worker's log about the workflows.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        asyncio.run(run_worker(Settings()))
    except RuntimeError as exc:
        typer.echo(f"nukiflow worker: {exc}", err=True)
        raise typer.Exit(2) from None


def main(argv: Sequence[str] | None = None) -> None:
    app(args=list(argv) if argv is not None else None)
