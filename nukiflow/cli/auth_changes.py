"""Internal: ``nukiflow auth update|create|delete``: a change, waited for until verified."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

import typer

from nukiflow.cli.auth_input import check_fields, restrictions
from nukiflow.cli.common import (
    ACCOUNT_OPTION,
    DEADLINE_OPTION,
    FROM_HELP,
    JSON_OPTION,
    NEW_FROM_HELP,
    NEW_TIMES_HELP,
    NEW_WEEKDAYS_HELP,
    REQUEST_ID_OPTION,
    TIMES_HELP,
    UNTIL_OPTION,
    WEEKDAYS_HELP,
    _auth_id,
    _connect,
    _duration,
    _lock_id,
    _reject,
    _request_id,
    _run,
    _settings,
    _ui_link,
    _warn_without_worker,
)
from nukiflow.cli.console import EXIT_OK, auth_exit_code, print_json, safe, stdout_console, waiting
from nukiflow.cli.render_auth import render_auth_outcome
from nukiflow.contracts.auth import AuthOutcome, AuthPatch, ChangeKind, CreateAuthRequest
from nukiflow.contracts.entity import DriftPolicy, auth_workflow_id
from nukiflow.settings import Settings


def auth_update(
    smartlock_id: str = typer.Argument(
        ..., metavar="LOCK", help="The smartlock's id (Nuki's smartlockId)."
    ),
    auth_id: str = typer.Argument(
        ..., metavar="AUTH", help="The authorization's id (24 hex characters)."
    ),
    code: int | None = typer.Option(
        None, "--code", help="New keypad code: 6 digits 1-9, not starting with 12."
    ),
    name: str | None = typer.Option(None, "--name", help="New name (keypad codes: ≤ 20 chars)."),
    enabled: bool | None = typer.Option(None, "--enable/--disable", help="Switch it on or off."),
    remote: bool | None = typer.Option(
        None, "--remote/--no-remote", help="Allow remote (app) access."
    ),
    from_: str | None = typer.Option(None, "--from", metavar="DATETIME", help=FROM_HELP),
    until: str | None = UNTIL_OPTION,
    weekdays: str | None = typer.Option(None, "--weekdays", metavar="DAYS", help=WEEKDAYS_HELP),
    times: str | None = typer.Option(None, "--times", metavar="HH:MM-HH:MM", help=TIMES_HELP),
    deadline: str | None = DEADLINE_OPTION,
    no_wait: bool = typer.Option(
        False, "--no-wait", help="Return once Temporal accepted the change; do not wait for it."
    ),
    request_id: str | None = REQUEST_ID_OPTION,
    json_output: bool = JSON_OPTION,
    account: str | None = ACCOUNT_OPTION,
) -> None:
    """Change some fields of an auth; the others keep their value.

    Waits until the lock applied the change and nukiflow read it back (or a newer change
    superseded it). `none` as --from/--until/--weekdays/--times removes that restriction.
    """
    lock, auth = _lock_id(smartlock_id), _auth_id(auth_id)
    request_id = _request_id(request_id) or uuid.uuid4().hex
    fields, clear = restrictions(
        from_=from_, until=until, weekdays=weekdays, times=times, allow_clear=True
    )
    for key, value in (
        ("code", code),
        ("name", name),
        ("enabled", enabled),
        ("remote_allowed", remote),
    ):
        if value is not None:
            fields[key] = value
    if clear:
        fields["clear"] = sorted(clear)
    if not fields:
        _reject(
            "nothing to change: give at least one of --code, --name, --enable/--disable, "
            "--remote/--no-remote, --from, --until, --weekdays, --times"
        )
    until_deadline = _duration(deadline, "--deadline")
    check_fields(
        AuthPatch,
        fields,
        kind=ChangeKind.UPDATE,
        smartlock_id=lock,
        auth_id=auth,
        request_id=request_id,
        json_output=json_output,
    )
    settings = _settings(account)
    _run(
        _auth_update(
            settings,
            lock,
            auth,
            fields,
            typed_code=code,
            deadline=until_deadline,
            request_id=request_id,
            no_wait=no_wait,
            json_output=json_output,
        ),
        interrupted="Stopped waiting. The change goes on in Temporal; see `nukiflow auth show "
        f"{lock} {auth}`.",
    )


async def _auth_update(
    settings: Settings,
    smartlock_id: int,
    auth_id: str,
    fields: dict[str, Any],
    *,
    typed_code: int | None,
    deadline: timedelta | None,
    request_id: str,
    no_wait: bool,
    json_output: bool,
) -> int:
    flow = await _connect(settings)
    await _warn_without_worker(flow.client, settings)
    if no_wait:
        started = await flow.start_update_auth(
            smartlock_id, auth_id, fields, request_id=request_id, deadline=deadline
        )
        return _print_accepted(settings, started, smartlock_id, auth_id, request_id, json_output)
    async with waiting(f"Updating auth {auth_id} on smartlock {smartlock_id}", quiet=json_output):
        outcome = await flow.update_auth(
            smartlock_id, auth_id, fields, request_id=request_id, deadline=deadline
        )
    return _print_auth_outcome(settings, outcome, typed_code, json_output)


def auth_create(
    smartlock_id: str = typer.Argument(..., metavar="LOCK", help="The smartlock's id."),
    name: str = typer.Option(..., "--name", help="Name of the auth (keypad codes: ≤ 20 chars)."),
    code: int | None = typer.Option(
        None, "--code", help="Keypad code (makes it a keypad-code auth): 6 digits 1-9."
    ),
    remote: bool = typer.Option(False, "--remote/--no-remote", help="Allow remote (app) access."),
    from_: str | None = typer.Option(None, "--from", metavar="DATETIME", help=NEW_FROM_HELP),
    until: str | None = UNTIL_OPTION,
    weekdays: str | None = typer.Option(None, "--weekdays", metavar="DAYS", help=NEW_WEEKDAYS_HELP),
    times: str | None = typer.Option(None, "--times", metavar="HH:MM-HH:MM", help=NEW_TIMES_HELP),
    deadline: str | None = DEADLINE_OPTION,
    drift_policy: Annotated[
        DriftPolicy | None,
        typer.Option(
            "--drift-policy",
            case_sensitive=False,
            help="What nukiflow does when the lock drifts from it: alert, enforce or adopt "
            "(default: NUKIFLOW_DRIFT_POLICY, alert).",
        ),
    ] = None,
    no_wait: bool = typer.Option(
        False, "--no-wait", help="Return once the create workflow started; do not wait."
    ),
    request_id: str | None = REQUEST_ID_OPTION,
    json_output: bool = JSON_OPTION,
    account: str | None = ACCOUNT_OPTION,
) -> None:
    """Create an auth exactly once (a keypad code with --code, else an app auth).

    Prints the new auth's id once the lock applied it and nukiflow read it back.
    """
    lock = _lock_id(smartlock_id)
    request_id = _request_id(request_id) or uuid.uuid4().hex
    fields, _ = restrictions(
        from_=from_, until=until, weekdays=weekdays, times=times, allow_clear=False
    )
    if code is not None:
        fields["code"] = code
    fields["remote_allowed"] = remote
    until_deadline = _duration(deadline, "--deadline")
    check_fields(
        CreateAuthRequest,
        {"request_id": request_id, "smartlock_id": lock, "name": name, **fields},
        kind=ChangeKind.CREATE,
        smartlock_id=lock,
        auth_id=None,
        request_id=request_id,
        json_output=json_output,
    )
    settings = _settings(account)
    _run(
        _auth_create(
            settings,
            lock,
            name,
            fields,
            typed_code=code,
            deadline=until_deadline,
            drift_policy=drift_policy,
            request_id=request_id,
            no_wait=no_wait,
            json_output=json_output,
        ),
        interrupted="Stopped waiting. The create goes on in Temporal; `nukiflow status` shows it.",
    )


async def _auth_create(
    settings: Settings,
    smartlock_id: int,
    name: str,
    fields: dict[str, Any],
    *,
    typed_code: int | None,
    deadline: timedelta | None,
    drift_policy: DriftPolicy | None,
    request_id: str,
    no_wait: bool,
    json_output: bool,
) -> int:
    flow = await _connect(settings)
    if not no_wait:
        await _warn_without_worker(flow.client, settings)
    async with waiting(f"Creating {name!r} on smartlock {smartlock_id}", quiet=json_output):
        started = await flow.start_create_auth(
            smartlock_id,
            name=name,
            request_id=request_id,
            deadline=deadline,
            drift_policy=drift_policy,
            **fields,
        )
        if isinstance(started, AuthOutcome):  # rejected before anything was started
            rejected = started.model_copy(update={"kind": ChangeKind.CREATE})
            return _print_auth_outcome(settings, rejected, typed_code, json_output)
        if no_wait:
            return _print_started(
                settings,
                {
                    "status": "started",
                    "request_id": request_id,
                    "smartlock_id": smartlock_id,
                    "workflow_id": started.id,
                },
                json_output,
                follow="`nukiflow status --smartlock "
                f"{smartlock_id}` lists it; the UI shows its result",
            )
        outcome = await started.result()
    return _print_auth_outcome(settings, outcome, typed_code, json_output)


def auth_delete(
    smartlock_id: str = typer.Argument(..., metavar="LOCK", help="The smartlock's id."),
    auth_id: str = typer.Argument(..., metavar="AUTH", help="The authorization's id."),
    deadline: str | None = DEADLINE_OPTION,
    no_wait: bool = typer.Option(
        False, "--no-wait", help="Return once Temporal accepted the delete; do not wait for it."
    ),
    request_id: str | None = REQUEST_ID_OPTION,
    json_output: bool = JSON_OPTION,
    account: str | None = ACCOUNT_OPTION,
) -> None:
    """Delete an auth; waits until nukiflow verified it is gone from the lock."""
    lock, auth = _lock_id(smartlock_id), _auth_id(auth_id)
    request_id = _request_id(request_id) or uuid.uuid4().hex
    until_deadline = _duration(deadline, "--deadline")
    settings = _settings(account)
    _run(
        _auth_delete(
            settings,
            lock,
            auth,
            deadline=until_deadline,
            request_id=request_id,
            no_wait=no_wait,
            json_output=json_output,
        ),
        interrupted="Stopped waiting. The delete goes on in Temporal; see `nukiflow auth show "
        f"{lock} {auth}`.",
    )


async def _auth_delete(
    settings: Settings,
    smartlock_id: int,
    auth_id: str,
    *,
    deadline: timedelta | None,
    request_id: str,
    no_wait: bool,
    json_output: bool,
) -> int:
    flow = await _connect(settings)
    await _warn_without_worker(flow.client, settings)
    if no_wait:
        started = await flow.start_delete_auth(
            smartlock_id, auth_id, request_id=request_id, deadline=deadline
        )
        return _print_accepted(settings, started, smartlock_id, auth_id, request_id, json_output)
    async with waiting(f"Deleting auth {auth_id} on smartlock {smartlock_id}", quiet=json_output):
        outcome = await flow.delete_auth(
            smartlock_id, auth_id, request_id=request_id, deadline=deadline
        )
    return _print_auth_outcome(settings, outcome, None, json_output)


def _print_auth_outcome(
    settings: Settings, outcome: AuthOutcome, typed_code: int | None, json_output: bool
) -> int:
    if json_output:
        print_json(outcome)
    else:
        render_auth_outcome(
            stdout_console(), outcome, typed_code=typed_code, ui_link=_ui_link(settings)
        )
    return auth_exit_code(outcome)


def _print_started(
    settings: Settings, data: dict[str, Any], json_output: bool, *, follow: str
) -> int:
    if json_output:
        print_json(data)
        return EXIT_OK
    console = stdout_console()
    what = "Accepted" if data["status"] == "accepted" else "Started"
    console.print(
        f"[bold green]{what}[/]: request {data['request_id']}; nukiflow carries it out in the "
        "background."
    )
    console.print(f"  Follow it: {safe(follow)}.")
    link = _ui_link(settings)(data["workflow_id"])
    console.print(
        f"  [dim]Workflow {safe(data['workflow_id'])}[/]" + (f"  {safe(link)}" if link else "")
    )
    return EXIT_OK


def _print_accepted(
    settings: Settings,
    started: Any,
    smartlock_id: int,
    auth_id: str,
    request_id: str,
    json_output: bool,
) -> int:
    """For --no-wait: the change's refusal, or that the auth's workflow accepted it."""
    if isinstance(started, AuthOutcome):
        return _print_auth_outcome(settings, started, None, json_output)
    return _print_started(
        settings,
        {
            "status": "accepted",
            "request_id": request_id,
            "smartlock_id": smartlock_id,
            "auth_id": auth_id,
            "workflow_id": auth_workflow_id(smartlock_id, auth_id),
        },
        json_output,
        follow=f"`nukiflow auth show {smartlock_id} {auth_id}`",
    )
