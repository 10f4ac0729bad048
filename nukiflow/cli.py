"""The `nukiflow` command line.

Two commands run things: ``nukiflow dev`` (Temporal dev server + fake Nuki cloud + worker on
this machine) and ``nukiflow worker`` (a worker alone, the production path); ``nukiflow demo``
plays the forum case end to end. The operator commands (``auth ...``, ``action``, ``lock``,
``unlock``, ``unlatch``, ``rollout ...``, ``access ...``, ``status``) talk to the configured
Temporal (``NUKIFLOW_*`` settings; by default the one ``nukiflow dev`` runs).

Exit statuses: 0 applied, superseded or confirmed (a rollout: every item applied; a grant: its
code is on the lock); 1 failed or expired (also: Temporal could not be reached); 2 rejected
(a bad plan, time zone or code), or a usage error. Keypad codes are printed only where the user
typed them (never from a plan file).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.markup import escape

from nukiflow.cli_output import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REJECTED,
    StatusRow,
    action_exit_code,
    auth_exit_code,
    error,
    grant_exit_code,
    print_json,
    render_action_outcome,
    render_auth_outcome,
    render_auth_view,
    render_grant,
    render_rollout_progress,
    render_rollout_report,
    render_status,
    rollout_bar,
    rollout_exit_code,
    status_counts,
    stderr_console,
    stdout_console,
    totals_line,
    ui_workflow_url,
    waiting,
)
from nukiflow.cli_parsing import (
    is_none_word,
    parse_datetime,
    parse_duration,
    parse_time_window,
    parse_weekdays,
)
from nukiflow.models.action import ActionName
from nukiflow.models.rollout import FailurePolicy
from nukiflow.settings import Settings

if TYPE_CHECKING:
    from temporalio.client import Client

    from nukiflow.client import NukiFlow
    from nukiflow.fleet import GrantHandle, RolloutHandle
    from nukiflow.models.access import GrantView
    from nukiflow.models.auth import AuthOutcome
    from nukiflow.models.rollout import RolloutPlan

RUN = "Run it"
OPERATE = "Operate (against the configured Temporal)"

app = typer.Typer(
    name="nukiflow",
    help="Reliable changes to Nuki smart locks, as durable Temporal workflows.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
auth_app = typer.Typer(
    help="Create, change, delete and inspect authorizations (keypad codes, app users, fobs).",
    no_args_is_help=True,
)
app.add_typer(auth_app, name="auth", rich_help_panel=OPERATE)
rollout_app = typer.Typer(
    help="Roll a plan of auth changes out over many locks: apply, status, pause, resume, cancel.",
    no_args_is_help=True,
)
app.add_typer(rollout_app, name="rollout", rich_help_panel=OPERATE)
access_app = typer.Typer(
    help="Time-limited keypad codes, revoked at the window's end: grant, show, extend, revoke.",
    no_args_is_help=True,
)
app.add_typer(access_app, name="access", rich_help_panel=OPERATE)


class _Process:
    """Whether this process used the Temporal SDK's runtime (see :func:`main`)."""

    used_temporal = False


class _Abort(Exception):
    """Stop a command with an exit status; the message was already printed."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


# -- shared plumbing -----------------------------------------------------------------------


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        from nukiflow.client import validation_message

        error(
            f"the NUKIFLOW_* settings are invalid: {validation_message(exc)}",
            "fix the environment variables (or .env); see the README's configuration table",
        )
        raise typer.Exit(EXIT_REJECTED) from None
    except OSError as exc:
        error(f"a file named in the settings cannot be read: {exc}")
        raise typer.Exit(EXIT_REJECTED) from None


def _run(main: Coroutine[Any, Any, int], *, interrupted: str | None = None) -> NoReturn:
    """Run a command's coroutine; exit with its status."""
    from temporalio.service import RPCError

    try:
        code = asyncio.run(main)
    except _Abort as exc:
        code = exc.code
    except RPCError as exc:
        error(
            f"Temporal answered {exc.status.name}: {_first_line(exc)}",
            "check NUKIFLOW_TEMPORAL_ADDRESS / NUKIFLOW_TEMPORAL_NAMESPACE and that the server "
            "runs (`nukiflow dev` on this machine)",
        )
        code = EXIT_FAILED
    except KeyboardInterrupt:
        stderr_console().print(interrupted or "Interrupted.", style="yellow")
        code = 130
    raise typer.Exit(code)


async def _connect(settings: Settings) -> NukiFlow:
    from nukiflow.client import NukiFlow
    from nukiflow.codec import CodecError

    _Process.used_temporal = True
    try:
        return await NukiFlow.connect(settings)
    except CodecError as exc:
        error(str(exc))
        raise _Abort(EXIT_REJECTED) from None
    except RuntimeError as exc:
        error(
            f"cannot reach Temporal at {settings.temporal_address} "
            f"(namespace {settings.temporal_namespace}): {_first_line(exc)}",
            "start everything on this machine with `nukiflow dev`, or point "
            "NUKIFLOW_TEMPORAL_ADDRESS / NUKIFLOW_TEMPORAL_NAMESPACE at your Temporal",
        )
        raise _Abort(EXIT_FAILED) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def ui_base_url(settings: Settings) -> str | None:
    """The Temporal UI: ``NUKIFLOW_UI_URL``, else the dev server's convention (gRPC port +
    1000) for a Temporal on this machine, else unknown."""
    if settings.ui_url:
        return settings.ui_url.strip().rstrip("/")
    host, _, port = settings.temporal_address.rpartition(":")
    if host in ("localhost", "127.0.0.1", "[::1]") and port.isdigit():
        return f"http://localhost:{int(port) + 1000}"
    return None


def _ui_link(settings: Settings) -> Callable[[str], str | None]:
    base = ui_base_url(settings)

    def link(workflow_id: str) -> str | None:
        if base is None:
            return None
        return ui_workflow_url(base, settings.temporal_namespace, workflow_id)

    return link


async def _warn_without_worker(client: Client, settings: Settings) -> None:
    """Say so when no worker polls the task queue: the change would wait for one."""
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
    from temporalio.service import RPCError

    try:
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=settings.task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            ),
            timeout=timedelta(seconds=5),
        )
    except RPCError:
        return
    if not response.pollers:
        stderr_console().print(
            f"[yellow]No worker polls task queue {settings.task_queue!r}:[/] the request waits "
            "in Temporal until one runs (`nukiflow worker`, or `nukiflow dev`).",
            highlight=False,
        )


def _duration(value: str | None, flag: str) -> timedelta | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=flag) from None


def _restrictions(
    *,
    from_: str | None,
    until: str | None,
    weekdays: str | None,
    times: str | None,
    allow_clear: bool,
) -> tuple[dict[str, Any], set[str]]:
    """The time-restriction fields typed on the command line, and those to clear ("none")."""
    fields: dict[str, Any] = {}
    clear: set[str] = set()

    def cleared(value: str, names: Sequence[str], flag: str) -> bool:
        if not is_none_word(value):
            return False
        if not allow_clear:
            raise typer.BadParameter("leave the option out for no restriction", param_hint=flag)
        clear.update(names)
        return True

    for value, name, flag in (
        (from_, "allowed_from_date", "--from"),
        (until, "allowed_until_date", "--until"),
    ):
        if value is None or cleared(value, [name], flag):
            continue
        try:
            fields[name] = parse_datetime(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=flag) from None
    if weekdays is not None and not cleared(weekdays, ["allowed_week_days"], "--weekdays"):
        try:
            fields["allowed_week_days"] = parse_weekdays(weekdays)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--weekdays") from None
    if times is not None and not cleared(
        times, ["allowed_from_time", "allowed_until_time"], "--times"
    ):
        try:
            fields["allowed_from_time"], fields["allowed_until_time"] = parse_time_window(times)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--times") from None
    return fields, clear


# Options shared by several commands (Typer reads them from the defaults).
JSON_OPTION = typer.Option(False, "--json", help="Print one JSON object (for scripts).")
DEADLINE_HELP = (
    "How long the change may take before nukiflow gives up (e.g. 30s, 10m, 2h, 1d). "
    "Default: NUKIFLOW_AUTH_CHANGE_DEADLINE_SECONDS (24h)."
)
REQUEST_ID_OPTION = typer.Option(
    None,
    "--request-id",
    help="Idempotency key: sending the same request again returns the first outcome.",
)
FROM_HELP = (
    "Access starts (ISO date/time, local time zone unless given; `now`, `+2h`; `none` removes it)."
)
UNTIL_HELP = "Access ends (same forms as --from)."
WEEKDAYS_HELP = (
    "Days with access: mon,tue,... or mon-fri, weekdays, weekend, all; `none` removes it."
)
TIMES_HELP = "Daily window of access in the lock's local time, HH:MM-HH:MM; `none` removes it."
NEW_FROM_HELP = "Access starts (ISO date/time, local time zone unless given; `now`, `+2h`)."
NEW_WEEKDAYS_HELP = "Days with access: mon,tue,... or mon-fri, weekdays, weekend, all."
NEW_TIMES_HELP = "Daily window of access in the lock's local time, HH:MM-HH:MM."


# -- running things ------------------------------------------------------------------------


@app.command(rich_help_panel=RUN)
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
) -> None:
    """Run Temporal (with its Web UI), the fake Nuki cloud and a worker on this machine.

    Workflows are kept in the state directory across restarts; Ctrl-C (or SIGTERM) stops
    everything. With NUKIFLOW_NUKI_URL (and a token) set, the worker talks to that Nuki API
    instead of the fake cloud.
    """
    from nukiflow.dev import DevOptions, run_dev

    settings = _settings()
    _quiet_logging()
    _Process.used_temporal = True
    options = DevOptions(
        state_dir=state_dir or settings.state_dir,
        temporal_port=temporal_port,
        ui_port=ui_port,
        nuki_port=nuki_port,
        codec_port=settings.codec_server_port if codec_port is None else codec_port,
    )
    _run(run_dev(settings, options))


@app.command(rich_help_panel=RUN)
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
    from nukiflow.demo import DemoOptions, run_demo

    settings = _settings()
    _quiet_logging()
    _Process.used_temporal = True
    options = DemoOptions(
        json_output=json_output,
        keep_running=keep_running,
        temporal_port=temporal_port,
        ui_port=ui_port,
    )
    _run(run_demo(settings, options))


@app.command(rich_help_panel=RUN)
def worker() -> None:
    """Run a worker alone against the configured Temporal and Nuki API (production).

    Settings come from NUKIFLOW_* variables. Runs until SIGINT/SIGTERM, then lets running
    activities finish.
    """
    from nukiflow.logs import configure_logging
    from nukiflow.worker import run_worker

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


@app.command(rich_help_panel=RUN)
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


@app.command("codec-server", rich_help_panel=RUN)
def codec_server(
    host: str | None = typer.Option(
        None, "--host", help="Address (default NUKIFLOW_CODEC_SERVER_HOST, 127.0.0.1)."
    ),
    port: int | None = typer.Option(
        None, "--port", help="Port (default NUKIFLOW_CODEC_SERVER_PORT, 8081)."
    ),
) -> None:
    """Serve the codec server, so the Temporal UI and CLI can show encrypted payloads."""
    from nukiflow.codec import CodecError
    from nukiflow.codec_server import serve_from_settings

    try:
        serve_from_settings(_settings(), host=host, port=port)
    except CodecError as exc:
        error(str(exc))
        raise typer.Exit(EXIT_REJECTED) from None


@app.command("codec-keygen", rich_help_panel=RUN)
def codec_keygen(
    key_id: str | None = typer.Argument(None, help="Id of the key (default: a random one)."),
) -> None:
    """Print a new payload encryption key as `id:base64`, for NUKIFLOW_CODEC_KEYS or a key file.

    To rotate, put the new key first and keep the old ones after it: new payloads use the first,
    old histories stay readable.
    """
    from nukiflow.codec import CodecKey

    typer.echo(CodecKey.generate(key_id).to_text())


# -- auth ----------------------------------------------------------------------------------


@auth_app.command("update")
def auth_update(
    smartlock_id: int = typer.Argument(..., help="The smartlock's id (Nuki's smartlockId)."),
    auth_id: str = typer.Argument(..., help="The authorization's id (24 hex characters)."),
    code: int | None = typer.Option(
        None, "--code", help="New keypad code: 6 digits 1-9, not starting with 12."
    ),
    name: str | None = typer.Option(None, "--name", help="New name (keypad codes: ≤ 20 chars)."),
    enabled: bool | None = typer.Option(None, "--enable/--disable", help="Switch it on or off."),
    remote: bool | None = typer.Option(
        None, "--remote/--no-remote", help="Allow remote (app) access."
    ),
    from_: str | None = typer.Option(None, "--from", metavar="DATETIME", help=FROM_HELP),
    until: str | None = typer.Option(None, "--until", metavar="DATETIME", help=UNTIL_HELP),
    weekdays: str | None = typer.Option(None, "--weekdays", metavar="DAYS", help=WEEKDAYS_HELP),
    times: str | None = typer.Option(None, "--times", metavar="HH:MM-HH:MM", help=TIMES_HELP),
    deadline: str | None = typer.Option(None, "--deadline", metavar="DURATION", help=DEADLINE_HELP),
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
        raise typer.BadParameter(
            "nothing to change: give at least one of --code, --name, --enable/--disable, "
            "--remote/--no-remote, --from, --until, --weekdays, --times"
        )
    settings = _settings()
    _run(
        _auth_update(
            settings,
            smartlock_id,
            auth_id,
            fields,
            typed_code=code,
            deadline=_duration(deadline, "--deadline"),
            request_id=request_id,
            no_wait=no_wait,
            json_output=json_output,
        ),
        interrupted="Stopped waiting. The change goes on in Temporal; see `nukiflow auth show "
        f"{smartlock_id} {auth_id}`.",
    )


async def _auth_update(
    settings: Settings,
    smartlock_id: int,
    auth_id: str,
    fields: dict[str, Any],
    *,
    typed_code: int | None,
    deadline: timedelta | None,
    request_id: str | None,
    no_wait: bool,
    json_output: bool,
) -> int:
    flow = await _connect(settings)
    request_id = request_id or uuid.uuid4().hex
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
    smartlock_id: int = typer.Argument(..., help="The smartlock's id."),
    name: str = typer.Option(..., "--name", help="Name of the auth (keypad codes: ≤ 20 chars)."),
    code: int | None = typer.Option(
        None, "--code", help="Keypad code (makes it a keypad-code auth): 6 digits 1-9."
    ),
    remote: bool = typer.Option(False, "--remote/--no-remote", help="Allow remote (app) access."),
    from_: str | None = typer.Option(None, "--from", metavar="DATETIME", help=NEW_FROM_HELP),
    until: str | None = typer.Option(None, "--until", metavar="DATETIME", help=UNTIL_HELP),
    weekdays: str | None = typer.Option(None, "--weekdays", metavar="DAYS", help=NEW_WEEKDAYS_HELP),
    times: str | None = typer.Option(None, "--times", metavar="HH:MM-HH:MM", help=NEW_TIMES_HELP),
    deadline: str | None = typer.Option(None, "--deadline", metavar="DURATION", help=DEADLINE_HELP),
    no_wait: bool = typer.Option(
        False, "--no-wait", help="Return once the create workflow started; do not wait."
    ),
    request_id: str | None = REQUEST_ID_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Create an auth exactly once (a keypad code with --code, else an app auth).

    Prints the new auth's id once the lock applied it and nukiflow read it back.
    """
    fields, _ = _restrictions(
        from_=from_, until=until, weekdays=weekdays, times=times, allow_clear=False
    )
    if code is not None:
        fields["code"] = code
    fields["remote_allowed"] = remote
    settings = _settings()
    _run(
        _auth_create(
            settings,
            smartlock_id,
            name,
            fields,
            typed_code=code,
            deadline=_duration(deadline, "--deadline"),
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
    request_id: str | None,
    no_wait: bool,
    json_output: bool,
) -> int:
    from nukiflow.models.auth import AuthOutcome, ChangeKind

    flow = await _connect(settings)
    request_id = request_id or uuid.uuid4().hex
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
    smartlock_id: int = typer.Argument(..., help="The smartlock's id."),
    auth_id: str = typer.Argument(..., help="The authorization's id."),
    deadline: str | None = typer.Option(None, "--deadline", metavar="DURATION", help=DEADLINE_HELP),
    no_wait: bool = typer.Option(
        False, "--no-wait", help="Return once Temporal accepted the delete; do not wait for it."
    ),
    request_id: str | None = REQUEST_ID_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Delete an auth; waits until nukiflow verified it is gone from the lock."""
    settings = _settings()
    _run(
        _auth_delete(
            settings,
            smartlock_id,
            auth_id,
            deadline=_duration(deadline, "--deadline"),
            request_id=request_id,
            no_wait=no_wait,
            json_output=json_output,
        ),
        interrupted="Stopped waiting. The delete goes on in Temporal; see `nukiflow auth show "
        f"{smartlock_id} {auth_id}`.",
    )


async def _auth_delete(
    settings: Settings,
    smartlock_id: int,
    auth_id: str,
    *,
    deadline: timedelta | None,
    request_id: str | None,
    no_wait: bool,
    json_output: bool,
) -> int:
    flow = await _connect(settings)
    request_id = request_id or uuid.uuid4().hex
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
    smartlock_id: int = typer.Argument(..., help="The smartlock's id."),
    auth_id: str = typer.Argument(..., help="The authorization's id."),
    json_output: bool = JSON_OPTION,
) -> None:
    """What nukiflow knows about an auth: verified state, pending changes, last outcomes."""
    settings = _settings()
    _run(_auth_show(settings, smartlock_id, auth_id, json_output))


async def _auth_show(settings: Settings, smartlock_id: int, auth_id: str, json_output: bool) -> int:
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.service import RPCError, RPCStatusCode

    from nukiflow import search_attributes as sa
    from nukiflow.models.entity import auth_workflow_id
    from workflows.auth_entity import AuthEntityWorkflow

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
    console.print(f"  Follow it: {escape(follow)}.")
    link = _ui_link(settings)(data["workflow_id"])
    console.print(
        f"  [dim]Workflow {escape(data['workflow_id'])}[/]" + (f"  {escape(link)}" if link else "")
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
    from nukiflow.models.auth import AuthOutcome
    from nukiflow.models.entity import auth_workflow_id

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


# -- lock actions --------------------------------------------------------------------------

ACTION_DEADLINE_HELP = (
    "Never send the action after this much time (e.g. 30s, 5m); an unlock queued while the "
    "lock is offline must not open the door later. Default: NUKIFLOW_ACTION_DEADLINE_SECONDS "
    "(60s)."
)


@app.command("action", rich_help_panel=OPERATE)
def action_command(
    smartlock_id: Annotated[int, typer.Argument(help="The smartlock's id.")],
    action: Annotated[
        ActionName,
        typer.Argument(
            case_sensitive=False,
            help="What to do (Openers: activate-rto, deactivate-rto, open, continuous-on/off).",
        ),
    ],
    force: bool = typer.Option(False, "--force", help="Force the action (Nuki's option)."),
    full_lock: bool = typer.Option(False, "--full-lock", help="Lock with a full turn."),
    deadline: str | None = typer.Option(
        None, "--deadline", metavar="DURATION", help=ACTION_DEADLINE_HELP
    ),
    request_id: str | None = REQUEST_ID_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Run a lock action and wait until the lock confirms its new state.

    An action not sent before its deadline is never sent.
    """
    _action(
        smartlock_id,
        action,
        force=force,
        full_lock=full_lock,
        deadline=deadline,
        request_id=request_id,
        json_output=json_output,
    )


def _action(
    smartlock_id: int,
    action: ActionName,
    *,
    force: bool,
    full_lock: bool,
    deadline: str | None,
    request_id: str | None,
    json_output: bool,
) -> None:
    settings = _settings()
    _run(
        _run_action(
            settings,
            smartlock_id,
            action,
            force=force,
            full_lock=full_lock,
            deadline=_duration(deadline, "--deadline"),
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


def _short_action(action: ActionName, summary: str) -> None:
    def command(
        smartlock_id: int = typer.Argument(..., help="The smartlock's id."),
        force: bool = typer.Option(False, "--force", help="Force the action (Nuki's option)."),
        full_lock: bool = typer.Option(False, "--full-lock", help="Lock with a full turn."),
        deadline: str | None = typer.Option(
            None, "--deadline", metavar="DURATION", help=ACTION_DEADLINE_HELP
        ),
        request_id: str | None = REQUEST_ID_OPTION,
        json_output: bool = JSON_OPTION,
    ) -> None:
        _action(
            smartlock_id,
            action,
            force=force,
            full_lock=full_lock,
            deadline=deadline,
            request_id=request_id,
            json_output=json_output,
        )

    command.__doc__ = f"{summary} (`nukiflow action ID {action.value}`)."
    app.command(action.value, rich_help_panel=OPERATE)(command)


_short_action(ActionName.LOCK, "Lock, and wait until the lock confirms it")
_short_action(ActionName.UNLOCK, "Unlock, and wait until the lock confirms it")
_short_action(ActionName.UNLATCH, "Unlatch (open the door), and wait until the lock confirms it")


# -- rollouts ------------------------------------------------------------------------------

ROLLOUT_ID_ARGUMENT = typer.Argument(
    ..., metavar="ID", help="The rollout's id (nuki-rollout-... or the part after it)."
)


@rollout_app.command("apply")
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
    from nukiflow.plan import PlanError, load_plan

    settings = _settings()
    try:
        loaded = load_plan(plan)
    except PlanError as exc:
        error(str(exc), "fix the plan file and apply it again; nothing was started")
        raise typer.Exit(EXIT_REJECTED) from None
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
    from nukiflow.plan import PlanError

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
        console.print(
            f"[bold green]{what}[/] rollout [bold]{escape(rollout.id)}[/] ({items} items)"
        )
        console.print(f"  Follow it: nukiflow rollout status {escape(rollout.id)}")
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
    if json_output:
        data = report.model_dump(mode="json")
        data.update(workflow_id=rollout.id, attached=rollout.attached)
        print_json(data)
    else:
        render_rollout_report(stdout_console(), report, ui_link=_ui_link(settings))
    return rollout_exit_code(report)


def _print_link(settings: Settings, workflow_id: str) -> None:
    link = _ui_link(settings)(workflow_id)
    if link:
        stdout_console().print(f"  [dim]{escape(link)}[/]")


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


@rollout_app.command("status")
def rollout_status(
    rollout_id: str = ROLLOUT_ID_ARGUMENT,
    limit: int = typer.Option(
        50, "--limit", min=0, max=1000, help="List at most this many items not applied."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """A rollout's state, totals and the items not applied (yet), with their reasons."""
    settings = _settings()
    _run(_rollout_status(settings, rollout_id, limit, json_output))


async def _rollout_status(
    settings: Settings, rollout_id: str, limit: int, json_output: bool
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


def _rollout_control(verb: str, summary: str) -> None:
    def command(
        rollout_id: str = ROLLOUT_ID_ARGUMENT,
        reason: str | None = typer.Option(
            None, "--reason", help="Why (kept in the rollout's log and report)."
        ),
        json_output: bool = JSON_OPTION,
    ) -> None:
        settings = _settings()
        _run(_rollout_control_run(settings, verb, rollout_id, reason, json_output))

    command.__doc__ = summary
    rollout_app.command(verb)(command)


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
        f"Rollout [bold]{escape(rollout.id)}[/] is [bold]{progress.state.value}[/]: "
        f"{totals_line(progress.totals)}"
    )
    follow = {
        "pause": "Items in flight finish; no new ones start until `nukiflow rollout resume "
        f"{rollout.id}`.",
        "resume": "Items start again.",
        "cancel": "Items in flight finish; the others are skipped. The report: `nukiflow "
        f"rollout status {rollout.id}`.",
    }[verb]
    console.print(f"  {escape(follow)}")
    return EXIT_OK


_rollout_control("pause", "Pause a rollout: no new items start; those in flight finish.")
_rollout_control("resume", "Resume a paused rollout.")
_rollout_control(
    "cancel",
    "Cancel a rollout: no new items start; it ends once those in flight are done, with a "
    "report in which the rest are skipped.",
)


# -- access grants -------------------------------------------------------------------------

GRANT_ID_ARGUMENT = typer.Argument(
    ..., metavar="GRANT_ID", help="The grant's id (nuki-access-<smartlock>-<request>)."
)
TZ_HELP = (
    "Time zone of --from/--until/--times/--weekdays without an offset (IANA, e.g. "
    "Europe/Berlin); also the lock's zone unless --lock-tz is given."
)


def _moment(value: str, flag: str) -> str | datetime:
    """``now`` and ``+DURATION`` as aware date-times; anything else as typed (ISO 8601, read
    in --tz by the facade)."""
    raw = value.strip()
    if raw.lower() == "now" or raw.startswith("+"):
        try:
            return parse_datetime(raw)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=flag) from None
    return raw


def _grant_id(grant_id: str) -> str:
    from nukiflow.models.access import ACCESS_ID_PREFIX

    return grant_id if grant_id.startswith(ACCESS_ID_PREFIX) else ACCESS_ID_PREFIX + grant_id


@access_app.command("grant")
def access_grant(
    smartlock_id: int = typer.Argument(..., help="The smartlock's id."),
    name: str = typer.Option(..., "--name", help="Who the code is for (at most 20 characters)."),
    code: int = typer.Option(..., "--code", help="The keypad code: 6 digits 1-9, not 12..."),
    from_: str = typer.Option(
        ..., "--from", metavar="DATETIME", help="Access starts (ISO 8601, `now`, `+2h`)."
    ),
    until: str = typer.Option(
        ...,
        "--until",
        metavar="DATETIME",
        help="Access ends and the code is deleted (ISO 8601, `+3d`).",
    ),
    tz: str | None = typer.Option(None, "--tz", metavar="ZONE", help=TZ_HELP),
    lock_tz: str | None = typer.Option(
        None, "--lock-tz", metavar="ZONE", help="The lock's zone, when it differs from --tz."
    ),
    weekdays: str | None = typer.Option(None, "--weekdays", help=NEW_WEEKDAYS_HELP),
    times: str | None = typer.Option(
        None, "--times", metavar="HH:MM-HH:MM", help="Daily window of access."
    ),
    no_wait: bool = typer.Option(
        False, "--no-wait", help="Return once the grant started; do not wait for the code."
    ),
    request_id: str | None = REQUEST_ID_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Create a keypad code valid from --from to --until; it is deleted at the end.

    A durable timer in Temporal revokes the code when the window ends (and keeps trying while
    the lock is offline). Prints the grant's id and when it will be revoked. Exit status 0 once
    the code is on the lock, 1 when it could not be created, 2 for rejected input.
    """
    from nukiflow.models.access import GrantRequest
    from nukiflow.timezones import nuki_window

    settings = _settings()
    start, end = _moment(from_, "--from"), _moment(until, "--until")
    # Everything checked here first: bad input never reaches Temporal.
    try:
        window = nuki_window(start, end, tz=tz, lock_tz=lock_tz, weekdays=weekdays, times=times)
        GrantRequest(
            request_id=request_id or "check",
            smartlock_id=smartlock_id,
            name=name,
            code=code,
            window=window,
        )
    except ValidationError as exc:
        from nukiflow.client import validation_message

        error(
            f"the grant cannot be made: {validation_message(exc)}",
            "fix the value and run it again; nothing was sent",
        )
        raise typer.Exit(EXIT_REJECTED) from None
    except ValueError as exc:
        error(str(exc), "fix --from/--until/--tz/--weekdays/--times; nothing was sent")
        raise typer.Exit(EXIT_REJECTED) from None
    _run(
        _access_grant(
            settings,
            smartlock_id,
            name=name,
            code=code,
            start=start,
            end=end,
            tz=tz,
            lock_tz=lock_tz,
            weekdays=weekdays,
            times=times,
            request_id=request_id,
            no_wait=no_wait,
            json_output=json_output,
        ),
        interrupted="Stopped waiting. The grant goes on in Temporal; `nukiflow status "
        f"--smartlock {smartlock_id}` lists it.",
    )


async def _access_grant(
    settings: Settings,
    smartlock_id: int,
    *,
    name: str,
    code: int,
    start: str | datetime,
    end: str | datetime,
    tz: str | None,
    lock_tz: str | None,
    weekdays: str | None,
    times: str | None,
    request_id: str | None,
    no_wait: bool,
    json_output: bool,
) -> int:
    from nukiflow.fleet import Fleet, FleetError
    from workflows.access_grant import AccessGrantWorkflow

    flow = await _connect(settings)
    await _warn_without_worker(flow.client, settings)
    fleet = Fleet(flow)
    try:
        grant = await fleet.grant_access(
            smartlock_id,
            name=name,
            code=code,
            start=start,
            end=end,
            tz=tz,
            lock_tz=lock_tz,
            weekdays=weekdays,
            times=times,
            request_id=request_id,
        )
    except FleetError as exc:
        error(str(exc), "leave --request-id out (or give a new one) for a new grant")
        return EXIT_REJECTED
    except ValueError as exc:  # PlanError, TimeZoneError (checked before; the clock moved)
        error(str(exc), "fix the value and run it again; nothing was sent")
        return EXIT_REJECTED
    if no_wait:
        view = await grant.handle.query(
            AccessGrantWorkflow.state, rpc_timeout=timedelta(seconds=10)
        )
        return _print_grant(
            settings, view, typed_code=code, json_output=json_output, headline="Started"
        )
    async with waiting(
        f"Creating the code {name!r} on smartlock {smartlock_id}", quiet=json_output
    ):
        view = await grant.created()
    headline = {"active": "Granted", "scheduled": "Granted (starts later)"}.get(view.status.value)
    return _print_grant(settings, view, typed_code=code, json_output=json_output, headline=headline)


def _print_grant(
    settings: Settings,
    view: GrantView,
    *,
    typed_code: int | None = None,
    json_output: bool,
    headline: str | None = None,
    running: bool = True,
) -> int:
    if json_output:
        data = view.model_dump(mode="json")
        data.update(
            grant_id=view.workflow_id,
            revoke_at=data["revocation_due_at"] or data["window"]["allowed_until_date"],
            running=running,
        )
        print_json(data)
    else:
        render_grant(
            stdout_console(),
            view,
            typed_code=typed_code,
            headline=headline,
            running=running,
            ui_link=_ui_link(settings),
        )
    return grant_exit_code(view)


async def _grant_described(settings: Settings, grant_id: str) -> tuple[GrantHandle, bool]:
    """The grant's handle and whether it runs; exit 1 when there is no such grant."""
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.service import RPCError, RPCStatusCode

    from nukiflow.fleet import Fleet

    flow = await _connect(settings)
    grant = Fleet(flow).grant(_grant_id(grant_id))
    try:
        description = await grant.handle.describe()
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
        error(
            f"there is no grant {grant.id}",
            "check the id: `nukiflow access grant` prints it; `nukiflow status` lists running "
            "grants",
        )
        raise _Abort(EXIT_FAILED) from None
    return grant, description.status is WorkflowExecutionStatus.RUNNING


async def _grant_view(grant: GrantHandle, running: bool) -> GrantView:
    from temporalio.client import WorkflowQueryFailedError
    from temporalio.service import RPCError

    from workflows.access_grant import AccessGrantWorkflow

    if not running:
        return await grant.result()
    try:
        return await grant.handle.query(
            AccessGrantWorkflow.state, rpc_timeout=timedelta(seconds=10)
        )
    except (RPCError, WorkflowQueryFailedError) as exc:
        error(
            f"no worker answered for grant {grant.id} ({_first_line(exc)})",
            "start a worker (`nukiflow worker`, or `nukiflow dev`) to see its details",
        )
        raise _Abort(EXIT_FAILED) from None


@access_app.command("show")
def access_show(grant_id: str = GRANT_ID_ARGUMENT, json_output: bool = JSON_OPTION) -> None:
    """A grant's status, window, auth on the lock and when it is (or was) revoked."""
    settings = _settings()
    _run(_access_show(settings, grant_id, json_output))


async def _access_show(settings: Settings, grant_id: str, json_output: bool) -> int:
    grant, running = await _grant_described(settings, grant_id)
    view = await _grant_view(grant, running)
    _print_grant(settings, view, json_output=json_output, running=running)
    return EXIT_OK


@access_app.command("revoke")
def access_revoke(
    grant_id: str = GRANT_ID_ARGUMENT,
    reason: str | None = typer.Option(None, "--reason", help="Why (kept in the grant)."),
    no_wait: bool = typer.Option(
        False, "--no-wait", help="Return once the grant took the request; do not wait."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Revoke a grant now; waits until the code is verified gone from the lock."""
    settings = _settings()
    _run(
        _access_revoke(settings, grant_id, reason, no_wait, json_output),
        interrupted="Stopped waiting. The revocation goes on in Temporal (also while the lock "
        "is offline); see `nukiflow access show GRANT_ID`.",
    )


async def _access_revoke(
    settings: Settings, grant_id: str, reason: str | None, no_wait: bool, json_output: bool
) -> int:
    from nukiflow.fleet import FleetError

    grant, running = await _grant_described(settings, grant_id)
    if not running:
        view = await grant.result()
        if not json_output:
            stdout_console().print("[dim]The grant had ended already.[/]")
        return _print_grant(settings, view, json_output=json_output, running=False)
    try:
        async with waiting(f"Revoking {grant.id}", quiet=json_output or no_wait):
            view = await grant.revoke(reason, wait=not no_wait)
    except FleetError as exc:
        error(f"cannot revoke {grant.id}: {exc}", f"see: nukiflow access show {grant.id}")
        return EXIT_REJECTED
    return _print_grant(settings, view, json_output=json_output, running=no_wait)


@access_app.command("extend")
def access_extend(
    grant_id: str = GRANT_ID_ARGUMENT,
    until: str = typer.Option(
        ..., "--until", metavar="DATETIME", help="The new end (ISO 8601, `+2h`); after now."
    ),
    tz: str | None = typer.Option(
        None, "--tz", metavar="ZONE", help="Time zone of --until without an offset."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Move a grant's end (earlier or later): written onto the lock first, then the timer."""
    from nukiflow.timezones import to_utc

    settings = _settings()
    when = _moment(until, "--until")
    try:
        new_end = to_utc(when, tz, what="the new end")
    except ValueError as exc:
        error(str(exc), "fix --until/--tz; nothing was sent")
        raise typer.Exit(EXIT_REJECTED) from None
    _run(
        _access_extend(settings, grant_id, new_end, json_output),
        interrupted="Stopped waiting. The change goes on in Temporal; see `nukiflow access "
        "show GRANT_ID`.",
    )


async def _access_extend(
    settings: Settings, grant_id: str, new_end: datetime, json_output: bool
) -> int:
    from nukiflow.fleet import FleetError, FleetRefusedError

    grant, running = await _grant_described(settings, grant_id)
    if not running:
        error(f"grant {grant.id} has ended; it can no longer be changed", "grant access anew")
        return EXIT_REJECTED
    try:
        async with waiting(f"Writing the new end of {grant.id} onto the lock", quiet=json_output):
            view = await grant.extend(new_end)
    except FleetRefusedError as exc:
        error(
            f"the end of {grant.id} was not moved: {exc}", f"see: nukiflow access show {grant.id}"
        )
        return EXIT_REJECTED
    except FleetError as exc:
        error(
            f"the end of {grant.id} was not moved: {exc}",
            "the old end stays; try again once the lock is online",
        )
        return EXIT_FAILED
    return _print_grant(settings, view, json_output=json_output, headline="Extended")


# -- status --------------------------------------------------------------------------------


@app.command("status", rich_help_panel=OPERATE)
def status_command(
    smartlock: int | None = typer.Option(None, "--smartlock", help="Only this smartlock."),
    json_output: bool = JSON_OPTION,
) -> None:
    """What is pending, failing and in sync (from the workflows' search attributes)."""
    settings = _settings()
    _run(_status(settings, smartlock, json_output))


def status_query(task_queue: str, smartlock_id: int | None) -> str:
    quoted = task_queue.replace("\\", "\\\\").replace("'", "\\'")
    query = f"TaskQueue = '{quoted}' AND ExecutionStatus = 'Running' AND NukiKind IS NOT NULL"
    if smartlock_id is not None:
        query += f" AND NukiSmartlockId = {int(smartlock_id)}"
    return query


async def _status(settings: Settings, smartlock_id: int | None, json_output: bool) -> int:
    from nukiflow import search_attributes as sa

    flow = await _connect(settings)
    rows: list[StatusRow] = []
    async for execution in flow.client.list_workflows(
        status_query(settings.task_queue, smartlock_id)
    ):
        attributes = execution.typed_search_attributes
        rows.append(
            StatusRow(
                workflow_id=execution.id,
                kind=attributes.get(sa.KIND),
                smartlock_id=attributes.get(sa.SMARTLOCK_ID),
                auth_id=attributes.get(sa.AUTH_ID),
                status=attributes.get(sa.STATUS),
                started=execution.start_time,
            )
        )
    scope = f"on smartlock {smartlock_id}" if smartlock_id is not None else "on this task queue"
    if json_output:
        print_json(
            {
                "task_queue": settings.task_queue,
                "smartlock_id": smartlock_id,
                "counts": status_counts(rows),
                "workflows": [row.model_dump(mode="json") for row in rows],
            }
        )
    else:
        render_status(stdout_console(), rows, scope=scope)
    return EXIT_OK


def _quiet_logging() -> None:
    """Warnings and errors only: dev and demo print their own account of what happens."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> None:
    """The console script ``nukiflow`` (and ``python worker.py``)."""
    try:
        app(args=list(argv) if argv is not None else None, prog_name="nukiflow")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if _Process.used_temporal:
        # A process that used the Temporal SDK (a worker, and as seen here also a bare client)
        # can abort while the interpreter finalizes (sdk-python #300: "PyGILState_Release ...
        # finalizing", exit 134) after everything was shut down cleanly. The work is done,
        # every child is stopped and workers are shut down: flush and leave without
        # finalizing, so the exit status is the command's own.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
