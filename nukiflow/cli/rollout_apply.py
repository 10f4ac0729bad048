"""Internal: ``nukiflow rollout apply``: start (or attach to) a plan's rollout and watch it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nukiflow.cli.common import (
    JSON_OPTION,
    _connect,
    _first_line,
    _run,
    _settings,
    _text,
    _ui_link,
    _warn_without_worker,
)
from nukiflow.cli.console import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REJECTED,
    error,
    print_json,
    rollout_exit_code,
    safe,
    stderr_console,
    stdout_console,
)
from nukiflow.cli.render_fleet import render_rollout_omissions, render_rollout_report, rollout_bar
from nukiflow.cli.rollout_steer import rollout_id_argument
from nukiflow.contracts.rollout import FailurePolicy
from nukiflow.settings import Settings

if TYPE_CHECKING:
    from nukiflow.contracts.rollout import RolloutPlan, RolloutReport
    from nukiflow.fleet import RolloutHandle


def rollout_apply(
    plan: Annotated[Path, typer.Argument(metavar="PLAN", help="The plan: a YAML or JSON file.")],
    rollout_id: str | None = typer.Option(
        None,
        "--id",
        help="Name the rollout (default: derived from the plan's content, so applying the same "
        "plan again attaches to its rollout).",
    ),
    name: str | None = typer.Option(None, "--name", help="Replaces the plan's name."),
    on_failure: Annotated[
        FailurePolicy | None,
        typer.Option(
            "--on-failure",
            case_sensitive=False,
            help="continue: keep going and report every failure at the end (the default); "
            "stop: start no more items after the first failure. Default: the plan's option.",
        ),
    ] = None,
    max_in_flight: int | None = typer.Option(
        None,
        "--max-in-flight",
        min=1,
        max=1000,
        help="Items in flight at once over all locks (default: the plan's, else 20).",
    ),
    per_lock: int | None = typer.Option(
        None,
        "--per-lock",
        min=1,
        max=20,
        help="Items in flight at once on one lock (default: the plan's, else 1).",
    ),
    no_wait: bool = typer.Option(
        False, "--no-wait", help="Return once the rollout started; do not wait for its end."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Start (or attach to) a plan's rollout and show its progress until it ends.

    The final report names every item that did not end applied, and why. Exit status 0 when
    every item was applied, 1 otherwise, 2 for a plan that cannot be used.
    """
    from nukiflow.fleet.plan import PlanError, load_plan

    # The plan, its id and name are checked before connecting: a bad one exits 2 either way.
    if rollout_id is not None:
        rollout_id = rollout_id_argument(rollout_id, "--id")
    name = _text(name, "--name", maximum=200)
    try:
        loaded = load_plan(plan)
    except PlanError as exc:
        error(str(exc), "fix the plan file and apply it again; nothing was started")
        raise typer.Exit(EXIT_REJECTED) from None
    settings = _settings()
    overrides: dict[str, Any] = {
        key: value
        for key, value in (
            ("on_failure", on_failure),
            ("max_in_flight", max_in_flight),
            ("per_lock", per_lock),
        )
        if value is not None
    }
    _run(
        _rollout_apply(
            settings,
            loaded,
            rollout_id=rollout_id,
            name=name,
            overrides=overrides,
            no_wait=no_wait,
            json_output=json_output,
        ),
        interrupted="Stopped watching. The rollout goes on in Temporal; see `nukiflow rollout "
        "status ID` (pause, resume or cancel it the same way).",
    )


async def _rollout_apply(
    settings: Settings,
    plan: RolloutPlan,
    *,
    rollout_id: str | None,
    name: str | None,
    overrides: dict[str, Any],
    no_wait: bool,
    json_output: bool,
) -> int:
    from temporalio.client import WorkflowFailureError, WorkflowQueryFailedError
    from temporalio.service import RPCError

    from nukiflow.fleet import Fleet, FleetError, RolloutConflictError
    from nukiflow.fleet.plan import PlanError

    flow = await _connect(settings)
    fleet = Fleet(flow)
    try:
        rollout = await fleet.apply_rollout(
            plan, rollout_id=rollout_id, options=overrides or None, name=name
        )
    except RolloutConflictError as exc:
        error(str(exc), "give this plan its own id: nukiflow rollout apply PLAN --id NAME")
        return EXIT_REJECTED
    except PlanError as exc:
        error(str(exc), "fix the plan (or the options given) and apply it again")
        return EXIT_REJECTED
    await _warn_without_worker(flow.client, settings)
    items = len(plan.items)
    if no_wait:
        data = {
            "status": "attached" if rollout.attached else "started",
            "rollout_id": rollout.id,
            "workflow_id": rollout.id,
            "name": name or plan.name,
            "items": items,
        }
        if json_output:
            print_json(data)
            return EXIT_OK
        console = stdout_console()
        what = "Attached to" if rollout.attached else "Started"
        console.print(f"[bold green]{what}[/] rollout [bold]{safe(rollout.id)}[/] ({items} items)")
        console.print(f"  Follow it: nukiflow rollout status {safe(rollout.id)}")
        _print_link(settings, rollout.id)
        return EXIT_OK
    verb = "Attached to" if rollout.attached else "Rolling out"
    try:
        async with rollout_bar(f"{verb} {rollout.id}", quiet=json_output) as show:
            async for progress in rollout.watch(interval=0.5):
                show(progress)
        report = await rollout.result()
    except (RPCError, WorkflowQueryFailedError) as exc:
        error(
            f"no worker answered for rollout {rollout.id} ({_first_line(exc)})",
            "the rollout goes on in Temporal once a worker runs (`nukiflow worker`, or "
            f"`nukiflow dev`); follow it with `nukiflow rollout status {rollout.id}`",
        )
        return EXIT_FAILED
    except (FleetError, WorkflowFailureError) as exc:
        error(
            f"rollout {rollout.id} ended without a report: {_first_line(exc)}",
            "see its history in the Temporal UI; applying the plan again starts it anew "
            "(items attach to the changes they started)",
        )
        return EXIT_FAILED
    report = await _complete_report(rollout, report)
    if json_output:
        data = report.model_dump(mode="json")
        data.update(workflow_id=rollout.id, attached=rollout.attached)
        print_json(data)
    else:
        render_rollout_report(stdout_console(), report, ui_link=_ui_link(settings))
    return rollout_exit_code(report)


async def _complete_report(rollout: RolloutHandle, report: RolloutReport) -> RolloutReport:
    """The report with every item the workflow's result left out (it is bounded) read from
    the rollout's progress query; as it is, with a warning, when that cannot be read."""
    from temporalio.client import WorkflowQueryFailedError
    from temporalio.service import RPCError

    from nukiflow.fleet import FleetError

    if not (report.not_applied_omitted or report.created_omitted):
        return report
    try:
        return await rollout.complete(report)
    except (RPCError, WorkflowQueryFailedError, FleetError) as exc:
        console = stderr_console()
        console.print(
            f"[yellow]The report is incomplete:[/] {safe(render_rollout_omissions(report))}; "
            f"reading the rest failed ({safe(_first_line(exc))}).",
            highlight=False,
        )
        console.print(
            f"[dim]→ `nukiflow rollout report {safe(rollout.id)}` lists every one (it needs "
            "a worker)[/]",
            highlight=False,
        )
        return report


def _print_link(settings: Settings, workflow_id: str) -> None:
    link = _ui_link(settings)(workflow_id)
    if link:
        stdout_console().print(f"  [dim]{safe(link)}[/]")
