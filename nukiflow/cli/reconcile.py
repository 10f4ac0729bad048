"""Internal: ``nukiflow reconcile plan|apply``: what nukiflow wants against what the locks hold,
and the rollout that fixes it (see :mod:`nukiflow.fleet.reconcile` and the README's
"Reconcile")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from nukiflow.cli.common import (
    JSON_OPTION,
    _connect,
    _first_line,
    _lock_id,
    _run,
    _settings,
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
    stdout_console,
)
from nukiflow.cli.rollout_steer import rollout_id_argument
from nukiflow.settings import Settings

if TYPE_CHECKING:
    from temporalio.client import Client

    from nukiflow.contracts.reconcile import ReconcilePlan

# `reconcile plan`: differences found (0: none, 1: could not read, 2: usage).
EXIT_DIFFERENCES = 4

reconcile_app = typer.Typer(
    help="Compare what nukiflow wants with what the locks hold (plan), and fix it (apply).",
    no_args_is_help=True,
)

SMARTLOCK_OPTION = typer.Option(
    None,
    "--smartlock",
    metavar="ID",
    help="Only this lock (repeat the option for several); default: every lock of the account.",
)


def _lock_ids(values: list[str] | None) -> list[int] | None:
    return [_lock_id(v, "--smartlock") for v in values] if values else None


def plan_json(plan: ReconcilePlan) -> dict[str, Any]:
    """The plan as the command line shows it: field names, never values."""
    data = plan.model_dump(mode="json", exclude={"drifted": {"__all__": {"rewrite_enabled"}}})
    data["differences"] = plan.differences
    return data


def render_plan(console: Console, plan: ReconcilePlan) -> None:
    locks = len(plan.smartlocks)
    console.print(
        f"[bold]Reconcile plan[/]: {locks} lock{'s' * (locks != 1)}, {plan.auths_listed} auths "
        f"on them, {plan.managed} managed by nukiflow"
    )
    for d in plan.drifted:
        console.print(
            f"  [yellow]~ drifted[/]      {d.smartlock_id} {safe(d.auth_id)}  "
            f"{safe(', '.join(d.fields))}"
        )
    for u in plan.unmanaged:
        kind = "keypad code" if u.deletable else f"type {u.type}"
        console.print(
            f"  [cyan]+ unmanaged[/]    {u.smartlock_id} {safe(u.auth_id)}  {safe(u.name)!r} "
            f"({kind}{'' if u.enabled else ', disabled'})"
        )
    for g in plan.disappeared:
        console.print(f"  [red]- disappeared[/]  {g.smartlock_id} {safe(g.auth_id)}")
    for s in plan.skipped:
        console.print(
            f"  [dim]? not judged   {s.smartlock_id} {safe(s.auth_id)}  {safe(s.reason)}[/]"
        )
    if plan.omitted:
        console.print(f"  [dim]… and {plan.omitted} more differences not listed[/]")
    if plan.differences:
        console.print(
            f"{plan.differences} difference{'s' * (plan.differences != 1)} "
            f"({len(plan.drifted)} drifted, {len(plan.unmanaged)} unmanaged, "
            f"{len(plan.disappeared)} disappeared)."
        )
    else:
        console.print("[green]No differences.[/]")


async def _read_plan(client: Client, settings: Settings, locks: list[int] | None) -> Any:
    """The plan, or an exit status after saying why it could not be read."""
    from temporalio.client import WorkflowFailureError

    from nukiflow.fleet.reconcile import plan_reconcile

    await _warn_without_worker(client, settings)
    try:
        plan = await plan_reconcile(client, settings.task_queue, locks)
    except WorkflowFailureError as exc:
        error(
            f"the plan could not be read: {_first_line(exc.cause or exc)}",
            "check the worker's Nuki token and that Nuki answers; nothing was changed",
        )
        return EXIT_FAILED
    if plan.unknown_smartlocks:
        error(
            "not a lock of this account: " + ", ".join(map(str, plan.unknown_smartlocks)),
            "check the --smartlock ids (`nukiflow status` lists the locks nukiflow knows)",
        )
        return EXIT_FAILED
    return plan


@reconcile_app.command("plan")
def reconcile_plan(
    smartlock: list[str] | None = SMARTLOCK_OPTION, json_output: bool = JSON_OPTION
) -> None:
    """Show what differs (a dry run: nothing is written). Exit status 0 no differences, 4
    differences found, 1 could not read, 2 usage."""
    locks = _lock_ids(smartlock)
    settings = _settings()
    _run(_plan(settings, locks, json_output))


async def _plan(settings: Settings, locks: list[int] | None, json_output: bool) -> int:
    flow = await _connect(settings)
    plan = await _read_plan(flow.client, settings, locks)
    if isinstance(plan, int):
        return plan
    if json_output:
        print_json(plan_json(plan))
    else:
        render_plan(stdout_console(), plan)
    return EXIT_DIFFERENCES if plan.differences else EXIT_OK


@reconcile_app.command("apply")
def reconcile_apply(
    smartlock: list[str] | None = SMARTLOCK_OPTION,
    delete_unmanaged: bool = typer.Option(
        False,
        "--delete-unmanaged",
        help="Also delete the unmanaged keypad codes (other unmanaged auths are only listed).",
    ),
    rollout_id: str | None = typer.Option(
        None,
        "--id",
        help="Name the rollout (default: a new one per apply; the same id again attaches).",
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Fix the differences through a rollout: drifted auths get their desired state written
    again; unmanaged keypad codes are deleted only with --delete-unmanaged; disappeared auths
    are listed. Exit status 0 every fix applied (or nothing to fix), 1 a fix not applied or
    the plan not read, 2 usage."""
    locks = _lock_ids(smartlock)
    if rollout_id is not None:
        rollout_id = rollout_id_argument(rollout_id, "--id")
    settings = _settings()
    _run(
        _apply(settings, locks, delete_unmanaged, rollout_id, json_output),
        interrupted="Stopped watching. The rollout goes on in Temporal; see `nukiflow rollout "
        "status ID`.",
    )


async def _apply(
    settings: Settings,
    locks: list[int] | None,
    delete_unmanaged: bool,
    rollout_id: str | None,
    json_output: bool,
) -> int:
    from temporalio.client import WorkflowFailureError

    from nukiflow.cli.render_fleet import render_rollout_report, rollout_bar
    from nukiflow.cli.rollout_apply import _complete_report
    from nukiflow.fleet import Fleet, RolloutConflictError
    from nukiflow.fleet.reconcile import apply_reconcile

    flow = await _connect(settings)
    plan = await _read_plan(flow.client, settings, locks)
    if isinstance(plan, int):
        return plan
    console = stdout_console()
    if not json_output:
        render_plan(console, plan)
    try:
        rollout = await apply_reconcile(
            Fleet(flow), plan, delete_unmanaged=delete_unmanaged, rollout_id=rollout_id
        )
    except RolloutConflictError as exc:
        error(str(exc), "give this apply its own --id")
        return EXIT_REJECTED
    if rollout is None:
        if json_output:
            print_json({"plan": plan_json(plan), "rollout": None})
        else:
            console.print("Nothing to apply.")
        return EXIT_OK
    try:
        async with rollout_bar(f"Reconciling {rollout.id}", quiet=json_output) as show:
            async for progress in rollout.watch(interval=0.5):
                show(progress)
        report = await _complete_report(rollout, await rollout.result())
    except WorkflowFailureError as exc:
        error(f"rollout {rollout.id} ended without a report: {_first_line(exc)}")
        return EXIT_FAILED
    if json_output:
        print_json({"plan": plan_json(plan), "rollout": report.model_dump(mode="json")})
    else:
        render_rollout_report(console, report, ui_link=_ui_link(settings))
    return rollout_exit_code(report)
