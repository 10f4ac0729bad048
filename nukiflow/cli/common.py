"""Internal: shared plumbing of the command line: settings, connecting, running a command's
coroutine, exit statuses, the UI links, the no-worker warning and the options several commands
share."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from pydantic import ValidationError

from nukiflow.cli.console import EXIT_FAILED, EXIT_REJECTED, error, stderr_console, ui_workflow_url
from nukiflow.contracts.accounts import check_account_name
from nukiflow.contracts.messages import validation_message
from nukiflow.contracts.validation import (
    MAX_CHANGE_DEADLINE,
    InputError,
    check_auth_id,
    check_request_id,
    check_text,
    parse_smartlock_id,
)
from nukiflow.settings import Settings
from nukiflow.times.durations import parse_duration

if TYPE_CHECKING:
    from temporalio.client import Client

    from nukiflow.client import NukiFlow

RUN = "Run it"
OPERATE = "Operate (against the configured Temporal)"


class _Process:
    """Whether this process used the Temporal SDK's runtime (see :func:`main`)."""

    used_temporal = False


class _Abort(Exception):
    """Stop a command with an exit status; the message was already printed."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


# -- shared plumbing -----------------------------------------------------------------------


def _settings(account: str | None = None) -> Settings:
    """The settings; ``account`` (``--account``) overrides ``NUKIFLOW_ACCOUNT``, checked first."""
    try:
        if account is not None:
            return Settings(account=check_account_name(account))
        return Settings()
    except InputError as exc:
        _reject(f"--account: {exc}")
    except ValidationError as exc:
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
    except InputError as exc:  # input only a later step could judge (a plan's rollout id, ...)
        error(str(exc))
        code = EXIT_REJECTED
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
    from nukiflow.temporal.codec import CodecError

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
    """The Temporal UI: ``NUKIFLOW_UI_URL``, else the one ``nukiflow dev`` recorded in the
    state directory for this Temporal address, else the dev server's convention (gRPC port +
    1000) for a Temporal on this machine, else unknown."""
    from nukiflow.devtools.ui_address import recorded_ui_address

    if settings.ui_url:
        return settings.ui_url.strip().rstrip("/")
    recorded = recorded_ui_address(settings.state_dir, settings.temporal_address)
    if recorded is not None:
        return recorded.rstrip("/")
    host, _, port = settings.temporal_address.rpartition(":")
    if host in ("localhost", "127.0.0.1", "[::1]") and port.isdigit():
        return f"http://localhost:{int(port) + 1000}"
    return None


def _ui_link(settings: Settings, *, run_id: str | None = None) -> Callable[[str], str | None]:
    """Links to workflows in the UI; with ``run_id`` (a run just described) to its User
    Metadata tab."""
    base = ui_base_url(settings)

    def link(workflow_id: str) -> str | None:
        if base is None:
            return None
        return ui_workflow_url(base, settings.temporal_namespace, workflow_id, run_id)

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


# -- what was typed: checked before anything connects -------------------------------------


def _reject(message: str) -> NoReturn:
    """Refuse what was typed: one line on stderr that says what to fix, exit status 2.

    Commands check their input before they connect, so a bad value is refused the same way
    whether Temporal is reachable or not, and nothing is sent.
    """
    error(message)
    raise typer.Exit(EXIT_REJECTED)


def _lock_id(text: str, what: str = "LOCK") -> int:
    """A smartlock id argument (``LOCK``), or exit 2."""
    try:
        return parse_smartlock_id(text)
    except InputError as exc:
        _reject(f"{what}: {exc}")


def _auth_id(text: str) -> str:
    """An auth id argument (``AUTH``), or exit 2."""
    try:
        return check_auth_id(text.strip())
    except InputError as exc:
        _reject(f"AUTH: {exc}")


def _request_id(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_request_id(value)
    except InputError as exc:
        _reject(f"--request-id: {exc}")


def _text(value: str | None, flag: str, *, maximum: int = 500) -> str | None:
    """Free text kept and shown (a reason, a rollout's name), or exit 2."""
    if value is None:
        return None
    try:
        return check_text(value, what=flag, maximum=maximum)
    except InputError as exc:
        _reject(str(exc))


def _duration(
    value: str | None, flag: str, *, maximum: timedelta = MAX_CHANGE_DEADLINE
) -> timedelta | None:
    """A duration option (``--deadline 2h``), at most ``maximum``, or exit 2."""
    if value is None:
        return None
    try:
        return parse_duration(value, maximum=maximum)
    except ValueError as exc:
        _reject(f"{flag}: {exc}")


# Options shared by several commands (Typer reads them from the defaults).
JSON_OPTION = typer.Option(False, "--json", help="Print one JSON object (for scripts).")
DEADLINE_HELP = (
    "Nothing is written after this much time from now (e.g. 30s, 10m, 2h, 1d; at most 30d), "
    "and the command is answered by then. Default: NUKIFLOW_AUTH_CHANGE_DEADLINE_SECONDS (24h)."
)
DEADLINE_OPTION = typer.Option(None, "--deadline", metavar="DURATION", help=DEADLINE_HELP)
ACCOUNT_OPTION = typer.Option(
    None,
    "--account",
    metavar="NAME",
    help="The Nuki account that holds the lock (see README, Many accounts). Default: "
    "NUKIFLOW_ACCOUNT, else the default account (NUKIFLOW_NUKI_TOKEN).",
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
UNTIL_OPTION = typer.Option(None, "--until", metavar="DATETIME", help=UNTIL_HELP)
WEEKDAYS_HELP = (
    "Days with access: mon,tue,... or mon-fri, weekdays, weekend, all; `none` removes it."
)
TIMES_HELP = "Daily window of access in the lock's local time, HH:MM-HH:MM; `none` removes it."
NEW_FROM_HELP = "Access starts (ISO date/time, local time zone unless given; `now`, `+2h`)."
NEW_WEEKDAYS_HELP = "Days with access: mon,tue,... or mon-fri, weekdays, weekend, all."
NEW_TIMES_HELP = "Daily window of access in the lock's local time, HH:MM-HH:MM."
