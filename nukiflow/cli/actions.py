"""Internal: lock actions: ``nukiflow action ID ACTION`` and its short forms ``lock``, ``unlock``,
``unlatch`` (registered in :mod:`nukiflow.cli`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

import typer
from pydantic import ValidationError

from nukiflow.cli.common import (
    ACCOUNT_OPTION,
    JSON_OPTION,
    REQUEST_ID_OPTION,
    _connect,
    _duration,
    _lock_id,
    _request_id,
    _run,
    _settings,
    _ui_link,
    _warn_without_worker,
)
from nukiflow.cli.console import action_exit_code, print_json, stdout_console, waiting
from nukiflow.cli.render_actions import render_action_outcome
from nukiflow.contracts.action import ActionName, ActionOutcome, ActionRequest, ActionStatus
from nukiflow.contracts.messages import validation_message
from nukiflow.contracts.validation import MAX_ACTION_DEADLINE
from nukiflow.settings import Settings

ACTION_DEADLINE_HELP = (
    "Never send the action after this much time from now (e.g. 30s, 5m; at most 24h), "
    "however long it waits for a worker or its turn; an unlock queued while the lock is "
    "offline must not open the door later. Default: NUKIFLOW_ACTION_DEADLINE_SECONDS (60s)."
)
# Shared by `action` and its short forms (`lock`, `unlock`, `unlatch`).
ACTION_DEADLINE_OPTION = typer.Option(
    None, "--deadline", metavar="DURATION", help=ACTION_DEADLINE_HELP
)
FORCE_OPTION = typer.Option(False, "--force", help="Force the action (Nuki's option).")
FULL_LOCK_OPTION = typer.Option(False, "--full-lock", help="Lock with a full turn.")


def action_command(
    smartlock_id: Annotated[str, typer.Argument(metavar="LOCK", help="The smartlock's id.")],
    action: Annotated[
        ActionName,
        typer.Argument(
            case_sensitive=False,
            help="What to do (Openers: activate-rto, deactivate-rto, open, continuous-on/off).",
        ),
    ],
    force: bool = FORCE_OPTION,
    full_lock: bool = FULL_LOCK_OPTION,
    deadline: str | None = ACTION_DEADLINE_OPTION,
    request_id: str | None = REQUEST_ID_OPTION,
    json_output: bool = JSON_OPTION,
    account: str | None = ACCOUNT_OPTION,
) -> None:
    """Run a lock action and wait until the lock confirms its new state.

    An action not sent before its deadline is never sent. Exit status: 0 confirmed, 1 failed
    or expired, 2 rejected, 3 unknown (it may have run: check the lock before sending it again).
    """
    _action(
        smartlock_id,
        action,
        force=force,
        full_lock=full_lock,
        deadline=deadline,
        request_id=request_id,
        json_output=json_output,
        account=account,
    )


def _action(
    smartlock_id: str,
    action: ActionName,
    *,
    force: bool,
    full_lock: bool,
    deadline: str | None,
    request_id: str | None,
    json_output: bool,
    account: str | None = None,
) -> None:
    # Everything checked before connecting: a bad value exits 2 even without Temporal.
    lock = _lock_id(smartlock_id)
    request_id = _request_id(request_id) or uuid.uuid4().hex
    until_deadline = _duration(deadline, "--deadline", maximum=MAX_ACTION_DEADLINE)
    try:
        ActionRequest(request_id=request_id, action=action, force=force, full_lock=full_lock)
    except ValidationError as exc:
        outcome = ActionOutcome(
            status=ActionStatus.REJECTED,
            request_id=request_id,
            smartlock_id=lock,
            action=action,
            reason=validation_message(exc),
        )
        if json_output:
            print_json(outcome)
        else:
            render_action_outcome(stdout_console(), outcome)
        raise typer.Exit(action_exit_code(outcome.status.value)) from None
    settings = _settings(account)
    _run(
        _run_action(
            settings,
            lock,
            action,
            force=force,
            full_lock=full_lock,
            deadline=until_deadline,
            request_id=request_id,
            json_output=json_output,
        ),
        interrupted="Stopped waiting. The action goes on in Temporal until its deadline.",
    )


async def _run_action(
    settings: Settings,
    smartlock_id: int,
    action: ActionName,
    *,
    force: bool,
    full_lock: bool,
    deadline: timedelta | None,
    request_id: str | None,
    json_output: bool,
) -> int:
    flow = await _connect(settings)
    await _warn_without_worker(flow.client, settings)
    verb = action.value.capitalize().replace("-n-", "'n'")
    async with waiting(f"{verb} smartlock {smartlock_id}", quiet=json_output):
        outcome = await flow.action(
            smartlock_id,
            action,
            force=force,
            full_lock=full_lock,
            deadline=deadline,
            request_id=request_id,
        )
    if json_output:
        print_json(outcome)
    else:
        render_action_outcome(stdout_console(), outcome, ui_link=_ui_link(settings))
    return action_exit_code(outcome.status.value)


def _short_action(action: ActionName, summary: str) -> Callable[..., None]:
    def command(
        smartlock_id: str = typer.Argument(..., metavar="LOCK", help="The smartlock's id."),
        force: bool = FORCE_OPTION,
        full_lock: bool = FULL_LOCK_OPTION,
        deadline: str | None = ACTION_DEADLINE_OPTION,
        request_id: str | None = REQUEST_ID_OPTION,
        json_output: bool = JSON_OPTION,
        account: str | None = ACCOUNT_OPTION,
    ) -> None:
        _action(
            smartlock_id,
            action,
            force=force,
            full_lock=full_lock,
            deadline=deadline,
            request_id=request_id,
            json_output=json_output,
            account=account,
        )

    command.__doc__ = f"{summary} (`nukiflow action ID {action.value}`)."
    return command
