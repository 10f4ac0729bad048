"""``nukiflow auth ...``: create, update, delete and show authorizations."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Final

import typer
from pydantic import BaseModel, ValidationError

from nukiflow.cli.common import (
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
    _first_line,
    _lock_id,
    _reject,
    _request_id,
    _run,
    _settings,
    _ui_link,
    _warn_without_worker,
)
from nukiflow.cli.console import (
    EXIT_FAILED,
    EXIT_OK,
    auth_exit_code,
    error,
    print_json,
    safe,
    stdout_console,
    waiting,
)
from nukiflow.cli.render_auth import render_auth_outcome, render_auth_view
from nukiflow.contracts.auth import (
    AuthOutcome,
    AuthPatch,
    ChangeKind,
    CreateAuthRequest,
    OutcomeStatus,
)
from nukiflow.contracts.messages import validation_message
from nukiflow.settings import Settings
from nukiflow.times.daily import parse_times
from nukiflow.times.dates import LOCAL, to_utc
from nukiflow.times.weekdays import parse_weekdays

# Typed instead of a value: remove the restriction (`auth update`).
NONE_WORDS: Final = frozenset({"none", "any", "clear", "-"})

auth_app = typer.Typer(
    help="Create, change, delete and inspect authorizations (keypad codes, app users, fobs).",
    no_args_is_help=True,
)


def is_none_word(text: str) -> bool:
    return text.strip().lower() in NONE_WORDS


def _restrictions(
    *,
    from_: str | None,
    until: str | None,
    weekdays: str | None,
    times: str | None,
    allow_clear: bool,
) -> tuple[dict[str, Any], set[str]]:
    """The time-restriction fields typed on the command line, and those to clear ("none").

    Dates without a zone are this machine's local time; weekdays and daily times are the
    lock's (:mod:`nukiflow.times`: the same rules as plan files and the Python API)."""
    fields: dict[str, Any] = {}
    clear: set[str] = set()

    def cleared(value: str, names: Sequence[str], flag: str) -> bool:
        if not is_none_word(value):
            return False
        if not allow_clear:
            _reject(f"{flag}: leave the option out for no restriction")
        clear.update(names)
        return True

    for value, name, flag in (
        (from_, "allowed_from_date", "--from"),
        (until, "allowed_until_date", "--until"),
    ):
        if value is None or cleared(value, [name], flag):
            continue
        try:
            fields[name] = to_utc(value, LOCAL, what=flag)
        except ValueError as exc:
            _reject(f"{flag}: {exc}" if not str(exc).startswith(flag) else str(exc))
    if weekdays is not None and not cleared(weekdays, ["allowed_week_days"], "--weekdays"):
        try:
            fields["allowed_week_days"] = parse_weekdays(weekdays)
        except ValueError as exc:
            _reject(f"--weekdays: {exc}")
    if times is not None and not cleared(
        times, ["allowed_from_time", "allowed_until_time"], "--times"
    ):
        try:
            fields["allowed_from_time"], fields["allowed_until_time"] = parse_times(times)
        except ValueError as exc:
            _reject(f"--times: {exc}")
    return fields, clear


def _check_fields(
    model: type[BaseModel],
    values: dict[str, Any],
    *,
    kind: ChangeKind,
    smartlock_id: int,
    auth_id: str | None,
    request_id: str,
    json_output: bool,
) -> None:
    """Refuse a change the models refuse, here and before connecting, answered as the facade
    would answer it (a rejected outcome; exit 2)."""
    try:
        model.model_validate(values)
    except ValidationError as exc:
        outcome = AuthOutcome(
            status=OutcomeStatus.REJECTED,
            request_id=request_id,
            smartlock_id=smartlock_id,
            auth_id=auth_id,
            kind=kind,
            reason=validation_message(exc),
        )
        if json_output:
            print_json(outcome)
        else:
            render_auth_outcome(stdout_console(), outcome)
        raise typer.Exit(auth_exit_code(outcome)) from None


@auth_app.command("update")
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
) -> None:
    """Change some fields of an auth; the others keep their value.

    Waits until the lock applied the change and nukiflow read it back (or a newer change
    superseded it). `none` as --from/--until/--weekdays/--times removes that restriction.
    """
    lock, auth = _lock_id(smartlock_id), _auth_id(auth_id)
    request_id = _request_id(request_id) or uuid.uuid4().hex
    fields, clear = _restrictions(
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
    _check_fields(
        AuthPatch,
        fields,
        kind=ChangeKind.UPDATE,
        smartlock_id=lock,
        auth_id=auth,
        request_id=request_id,
        json_output=json_output,
    )
    settings = _settings()
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


@auth_app.command("create")
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
    no_wait: bool = typer.Option(
        False, "--no-wait", help="Return once the create workflow started; do not wait."
    ),
    request_id: str | None = REQUEST_ID_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Create an auth exactly once (a keypad code with --code, else an app auth).

    Prints the new auth's id once the lock applied it and nukiflow read it back.
    """
    lock = _lock_id(smartlock_id)
    request_id = _request_id(request_id) or uuid.uuid4().hex
    fields, _ = _restrictions(
        from_=from_, until=until, weekdays=weekdays, times=times, allow_clear=False
    )
    if code is not None:
        fields["code"] = code
    fields["remote_allowed"] = remote
    until_deadline = _duration(deadline, "--deadline")
    _check_fields(
        CreateAuthRequest,
        {"request_id": request_id, "smartlock_id": lock, "name": name, **fields},
        kind=ChangeKind.CREATE,
        smartlock_id=lock,
        auth_id=None,
        request_id=request_id,
        json_output=json_output,
    )
    settings = _settings()
    _run(
        _auth_create(
            settings,
            lock,
            name,
            fields,
            typed_code=code,
            deadline=until_deadline,
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
    request_id: str,
    no_wait: bool,
    json_output: bool,
) -> int:
    flow = await _connect(settings)
    if not no_wait:
        await _warn_without_worker(flow.client, settings)
    async with waiting(f"Creating {name!r} on smartlock {smartlock_id}", quiet=json_output):
        started = await flow.start_create_auth(
            smartlock_id, name=name, request_id=request_id, deadline=deadline, **fields
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


@auth_app.command("delete")
def auth_delete(
    smartlock_id: str = typer.Argument(..., metavar="LOCK", help="The smartlock's id."),
    auth_id: str = typer.Argument(..., metavar="AUTH", help="The authorization's id."),
    deadline: str | None = DEADLINE_OPTION,
    no_wait: bool = typer.Option(
        False, "--no-wait", help="Return once Temporal accepted the delete; do not wait for it."
    ),
    request_id: str | None = REQUEST_ID_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Delete an auth; waits until nukiflow verified it is gone from the lock."""
    lock, auth = _lock_id(smartlock_id), _auth_id(auth_id)
    request_id = _request_id(request_id) or uuid.uuid4().hex
    until_deadline = _duration(deadline, "--deadline")
    settings = _settings()
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


@auth_app.command("show")
def auth_show(
    smartlock_id: str = typer.Argument(..., metavar="LOCK", help="The smartlock's id."),
    auth_id: str = typer.Argument(..., metavar="AUTH", help="The authorization's id."),
    json_output: bool = JSON_OPTION,
) -> None:
    """What nukiflow knows about an auth: verified state, pending changes, last outcomes."""
    lock, auth = _lock_id(smartlock_id), _auth_id(auth_id)
    settings = _settings()
    _run(_auth_show(settings, lock, auth, json_output))


async def _auth_show(settings: Settings, smartlock_id: int, auth_id: str, json_output: bool) -> int:
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.service import RPCError, RPCStatusCode

    from nukiflow.contracts import search_attributes as sa
    from nukiflow.contracts.entity import auth_workflow_id
    from nukiflow.workflows.auth_entity import AuthEntityWorkflow

    flow = await _connect(settings)
    workflow_id = auth_workflow_id(smartlock_id, auth_id)
    handle = flow.client.get_workflow_handle(workflow_id)
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
        error(
            f"nukiflow does not manage auth {auth_id} on smartlock {smartlock_id} "
            f"(there is no workflow {workflow_id})",
            "check both ids; nukiflow takes an auth over with its first change "
            f"(`nukiflow auth update {smartlock_id} {auth_id} ...`)",
        )
        return EXIT_FAILED
    running = description.status is WorkflowExecutionStatus.RUNNING
    try:
        view = await handle.query(AuthEntityWorkflow.state, rpc_timeout=timedelta(seconds=10))
    except RPCError as exc:
        status = description.typed_search_attributes.get(sa.STATUS)
        error(
            f"no worker answered for auth {auth_id} ({_first_line(exc)}); its last recorded "
            f"status is {status or 'unknown'}",
            "start a worker (`nukiflow worker`, or `nukiflow dev`) to see its details",
        )
        return EXIT_FAILED
    if json_output:
        data = view.model_dump(mode="json")
        data.update(workflow_id=workflow_id, running=running)
        print_json(data)
    else:
        render_auth_view(
            stdout_console(),
            view,
            workflow_id=workflow_id,
            running=running,
            ui_link=_ui_link(settings),
        )
    return EXIT_OK


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
    from nukiflow.contracts.auth import AuthOutcome
    from nukiflow.contracts.entity import auth_workflow_id

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
