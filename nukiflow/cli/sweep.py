"""Internal: ``nukiflow sweep schedule|run``: the periodic drift sweep (see the README's "Drift
sweep")."""

from __future__ import annotations

from datetime import timedelta

import typer

from nukiflow.cli.common import (
    JSON_OPTION,
    _connect,
    _first_line,
    _reject,
    _run,
    _settings,
    _warn_without_worker,
)
from nukiflow.cli.console import EXIT_FAILED, EXIT_OK, error, print_json, stdout_console
from nukiflow.contracts.validation import InputError
from nukiflow.settings import Settings

sweep_app = typer.Typer(
    help="The periodic drift sweep: what the locks hold, reported to nukiflow's entities when "
    "webhooks are off or lost.",
    no_args_is_help=True,
)


def _interval(text: str | None, settings: Settings) -> timedelta:
    from nukiflow.fleet.sweep import check_interval
    from nukiflow.times.durations import parse_duration

    try:
        if text is None:
            return check_interval(timedelta(seconds=settings.sweep_every_seconds))
        return check_interval(parse_duration(text, maximum=timedelta(days=7), what="--every"))
    except InputError as exc:
        _reject(f"--every: {exc}")


@sweep_app.command("schedule")
def sweep_schedule(
    every: str | None = typer.Option(
        None,
        "--every",
        metavar="DURATION",
        help="How often (10s to 7d; default NUKIFLOW_SWEEP_EVERY_SECONDS, 15m).",
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Create the sweep's Temporal Schedule, or update it to this interval (idempotent)."""
    settings = _settings()
    interval = _interval(every, settings)
    _run(_schedule(settings, interval, json_output))


async def _schedule(settings: Settings, every: timedelta, json_output: bool) -> int:
    from nukiflow.fleet.sweep import ensure_sweep_schedule

    flow = await _connect(settings)
    made = await ensure_sweep_schedule(flow.client, settings.task_queue, every)
    if json_output:
        print_json(
            {
                "schedule_id": made.schedule_id,
                "every_seconds": every.total_seconds(),
                "created": made.created,
                "task_queue": settings.task_queue,
            }
        )
    else:
        verb = "Created" if made.created else "Updated"
        stdout_console().print(
            f"[bold green]{verb}[/] schedule [bold]{made.schedule_id}[/]: a drift sweep every "
            f"{every} on task queue {settings.task_queue!r}",
            highlight=False,
        )
    await _warn_without_worker(flow.client, settings)
    return EXIT_OK


@sweep_app.command("run")
def sweep_run(json_output: bool = JSON_OPTION) -> None:
    """Sweep now and wait for it: list the account's auths once and report each one."""
    settings = _settings()
    _run(_sweep_now(settings, json_output))


async def _sweep_now(settings: Settings, json_output: bool) -> int:
    import uuid

    from temporalio.client import WorkflowFailureError

    from nukiflow.contracts.sweep import SWEEP_WORKFLOW_ID
    from nukiflow.fleet.sweep import run_sweep

    flow = await _connect(settings)
    await _warn_without_worker(flow.client, settings)
    workflow_id = f"{SWEEP_WORKFLOW_ID}-now-{uuid.uuid4().hex[:12]}"
    try:
        result = await run_sweep(flow.client, settings.task_queue, workflow_id=workflow_id)
    except WorkflowFailureError as exc:
        error(
            f"the sweep failed: {_first_line(exc.cause or exc)}",
            f"see workflow {workflow_id} in the Temporal UI; the schedule sweeps again later",
        )
        return EXIT_FAILED
    if json_output:
        print_json({"workflow_id": workflow_id, **result.model_dump(mode="json")})
        return EXIT_OK
    stdout_console().print(
        f"Swept {result.auths} auths on {result.smartlocks} locks: {result.to_entities} "
        f"reported to their entities, {result.to_ledgers} unmanaged (to the drift ledgers), "
        f"{result.disappeared} managed auths gone from the lock"
        + (f", {result.failed} not delivered (Temporal)" if result.failed else ""),
        highlight=False,
    )
    return EXIT_FAILED if result.failed else EXIT_OK
