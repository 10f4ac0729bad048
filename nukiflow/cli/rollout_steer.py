"""Internal: ``nukiflow rollout status|report|pause|resume|cancel``: follow and steer a rollout."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

from nukiflow.cli.common import (
    JSON_OPTION,
    _Abort,
    _connect,
    _first_line,
    _reject,
    _run,
    _settings,
    _text,
    _ui_link,
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
from nukiflow.cli.render_fleet import render_rollout_progress, render_rollout_report, totals_line
from nukiflow.settings import Settings

if TYPE_CHECKING:
    from nukiflow.fleet import RolloutHandle

ROLLOUT_ID_ARGUMENT = typer.Argument(
    ..., metavar="ID", help="The rollout's id (nuki-rollout-... or the part after it)."
)


def rollout_id_argument(value: str, what: str = "ID") -> str:
    """A rollout's id (``nuki-rollout-...`` or the part after it), or exit 2."""
    from nukiflow.contracts.rollout import check_rollout_id
    from nukiflow.contracts.validation import InputError

    try:
        check_rollout_id(value)
    except InputError as exc:
        _reject(f"{what}: {exc}")
    return value


async def _rollout_described(settings: Settings, rollout_id: str) -> tuple[RolloutHandle, bool]:
    """The rollout's handle and whether it runs; exit 1 when there is no such rollout."""
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.service import RPCError, RPCStatusCode

    from nukiflow.fleet import Fleet

    flow = await _connect(settings)
    rollout = Fleet(flow).rollout(rollout_id)
    try:
        description = await rollout.handle.describe()
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
        error(
            f"there is no rollout {rollout.id}",
            "check the id: `nukiflow status` lists running rollouts; `nukiflow rollout apply "
            "PLAN` prints the id",
        )
        raise _Abort(EXIT_FAILED) from None
    return rollout, description.status is WorkflowExecutionStatus.RUNNING


def rollout_status(
    rollout_id: str = ROLLOUT_ID_ARGUMENT,
    limit: int | None = typer.Option(
        None,
        "--limit",
        min=0,
        help="List at most this many items not applied (default: 50; with --json, every one).",
    ),
    show_all: bool = typer.Option(
        False, "--all", help="List every item not applied (read page by page)."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """A rollout's state, totals and the items not applied (yet), with their reasons."""
    rollout_id = rollout_id_argument(rollout_id)
    settings = _settings()
    if show_all or (limit is None and json_output):
        limit = None
    elif limit is None:
        limit = 50
    _run(_rollout_status(settings, rollout_id, limit, json_output))


async def _rollout_status(
    settings: Settings, rollout_id: str, limit: int | None, json_output: bool
) -> int:
    from temporalio.client import WorkflowQueryFailedError
    from temporalio.service import RPCError

    from nukiflow.fleet import FleetError

    rollout, running = await _rollout_described(settings, rollout_id)
    try:
        progress = await rollout.status(limit=limit)
    except FleetError as exc:
        error(str(exc), "see its history in the Temporal UI")
        return EXIT_FAILED
    except (RPCError, WorkflowQueryFailedError) as exc:
        error(
            f"no worker answered for rollout {rollout.id} ({_first_line(exc)})",
            "start a worker (`nukiflow worker`, or `nukiflow dev`) to see its progress",
        )
        return EXIT_FAILED
    if json_output:
        data = progress.model_dump(mode="json")
        data.update(workflow_id=rollout.id, running=running)
        print_json(data)
    else:
        render_rollout_progress(
            stdout_console(), progress, running=running, ui_link=_ui_link(settings)
        )
    return EXIT_OK


def rollout_report(rollout_id: str = ROLLOUT_ID_ARGUMENT, json_output: bool = JSON_OPTION) -> None:
    """An ended rollout's final report: every item that did not end applied, and why, and every
    new auth id. Exit status 0 when every item was applied, 1 otherwise."""
    rollout_id = rollout_id_argument(rollout_id)
    settings = _settings()
    _run(_rollout_report(settings, rollout_id, json_output))


async def _rollout_report(settings: Settings, rollout_id: str, json_output: bool) -> int:
    from temporalio.client import WorkflowFailureError, WorkflowQueryFailedError
    from temporalio.service import RPCError

    from nukiflow.fleet import FleetError

    rollout, running = await _rollout_described(settings, rollout_id)
    if running:
        error(
            f"rollout {rollout.id} is still running; its report comes when it ended",
            f"follow it with `nukiflow rollout status {rollout.id}`",
        )
        return EXIT_FAILED
    try:
        report = await rollout.report()
    except (RPCError, WorkflowQueryFailedError) as exc:
        error(
            f"no worker answered for rollout {rollout.id} ({_first_line(exc)})",
            "its report lists the items its result left out through a query, which needs a "
            "worker: start one (`nukiflow worker`, or `nukiflow dev`)",
        )
        return EXIT_FAILED
    except (FleetError, WorkflowFailureError) as exc:
        error(
            f"rollout {rollout.id} has no complete report: {_first_line(exc)}",
            "see its history in the Temporal UI",
        )
        return EXIT_FAILED
    if json_output:
        data = report.model_dump(mode="json")
        data.update(workflow_id=rollout.id)
        print_json(data)
    else:
        render_rollout_report(stdout_console(), report, ui_link=_ui_link(settings))
    return rollout_exit_code(report)


def rollout_control(verb: str, summary: str) -> Callable[..., None]:
    """The command that pauses, resumes or cancels a rollout (``verb``)."""

    def command(
        rollout_id: str = ROLLOUT_ID_ARGUMENT,
        reason: str | None = typer.Option(
            None, "--reason", help="Why (kept in the rollout's log and report)."
        ),
        json_output: bool = JSON_OPTION,
    ) -> None:
        checked = rollout_id_argument(rollout_id)
        why = _text(reason, "--reason")
        settings = _settings()
        _run(_rollout_control_run(settings, verb, checked, why, json_output))

    command.__doc__ = summary
    return command


async def _rollout_control_run(
    settings: Settings, verb: str, rollout_id: str, reason: str | None, json_output: bool
) -> int:
    from nukiflow.fleet import FleetError

    rollout, _ = await _rollout_described(settings, rollout_id)
    control = {"pause": rollout.pause, "resume": rollout.resume, "cancel": rollout.cancel}[verb]
    try:
        progress = await control(reason)
    except FleetError as exc:
        error(
            f"cannot {verb} rollout {rollout.id}: {exc}",
            f"see where it stands: nukiflow rollout status {rollout.id}",
        )
        return EXIT_REJECTED
    if json_output:
        data = progress.model_dump(mode="json")
        data.update(workflow_id=rollout.id)
        print_json(data)
        return EXIT_OK
    console = stdout_console()
    console.print(
        f"Rollout [bold]{safe(rollout.id)}[/] is [bold]{progress.state.value}[/]: "
        f"{totals_line(progress.totals)}"
    )
    follow = {
        "pause": "Items in flight finish; no new ones start until `nukiflow rollout resume "
        f"{rollout.id}`.",
        "resume": "Items start again.",
        "cancel": "Items in flight finish; the others are skipped. The report: `nukiflow "
        f"rollout status {rollout.id}`.",
    }[verb]
    console.print(f"  {safe(follow)}")
    return EXIT_OK
