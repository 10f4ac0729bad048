"""What the command line prints: human output (Rich), JSON for scripts, exit statuses.

Keypad codes are secrets: outcomes and views carry them redacted (``******``), and the human
output shows a code only where the user typed it on the same command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nukiflow.cli_parsing import format_minutes, format_weekdays
from nukiflow.models.auth import AuthOutcome, ChangeKind, OutcomeStatus, RedactedAuth
from nukiflow.models.entity import AuthEntityView, auth_workflow_id
from nukiflow.settings import Settings

if TYPE_CHECKING:
    from nukiflow.dev import EmbeddedStack

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REJECTED = 2  # also Click's status for usage errors

# Console width when stdout is not a terminal: wide enough that ids and links stay on one line.
PIPE_WIDTH = 200


def ui_workflow_url(ui_url: str, namespace: str, workflow_id: str) -> str:
    """The Temporal UI page of a workflow."""
    return f"{ui_url.rstrip('/')}/namespaces/{namespace}/workflows/{workflow_id}"


def stdout_console() -> Console:
    wide = None if sys.stdout.isatty() else PIPE_WIDTH
    return Console(soft_wrap=True, highlight=False, width=wide)


def stderr_console() -> Console:
    wide = None if sys.stderr.isatty() else PIPE_WIDTH
    return Console(stderr=True, soft_wrap=True, highlight=False, width=wide)


def print_json(data: Any) -> None:
    """One JSON document on stdout (pydantic models dumped in JSON mode)."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def error(message: str, hint: str | None = None) -> None:
    console = stderr_console()
    console.print(f"[bold red]Error:[/] {escape(message)}", highlight=False)
    if hint:
        console.print(f"[dim]→ {escape(hint)}[/]", highlight=False)


# -- exit statuses -------------------------------------------------------------------------


def auth_exit_code(outcome: AuthOutcome) -> int:
    if outcome.status in (OutcomeStatus.APPLIED, OutcomeStatus.SUPERSEDED):
        return EXIT_OK
    if outcome.status is OutcomeStatus.REJECTED:
        return EXIT_REJECTED
    return EXIT_FAILED


def action_exit_code(status: str) -> int:
    """confirmed 0; failed, expired 1; rejected 2."""
    if status == "confirmed":
        return EXIT_OK
    if status == "rejected":
        return EXIT_REJECTED
    return EXIT_FAILED


# -- waiting -------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def waiting(message: str, *, quiet: bool = False) -> AsyncIterator[Callable[[str], None]]:
    """A live spinner with the elapsed time on a terminal (stderr); one line otherwise.

    Yields a function that replaces the message (e.g. "waiting for the lock").
    """
    console = stderr_console()
    state = {"message": message}
    started = time.monotonic()
    if quiet:
        yield lambda text: None
        return
    if not console.is_terminal:
        console.print(f"{escape(message)}…", style="dim")
        yield lambda text: None
        return

    def text() -> str:
        return f"{escape(state['message'])}… [dim]{time.monotonic() - started:.0f}s[/]"

    with console.status(text(), spinner="dots") as status:

        async def tick() -> None:
            while True:
                await asyncio.sleep(0.5)
                status.update(text())

        ticker = asyncio.create_task(tick())
        try:

            def update(new: str) -> None:
                state["message"] = new
                status.update(text())

            yield update
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker


# -- authorizations ------------------------------------------------------------------------

_STATUS_STYLE = {
    OutcomeStatus.APPLIED: ("✓", "green", "Applied"),
    OutcomeStatus.SUPERSEDED: ("↷", "cyan", "Superseded"),
    OutcomeStatus.REJECTED: ("✗", "yellow", "Rejected"),
    OutcomeStatus.FAILED: ("✗", "red", "Failed"),
}


def _when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()


def describe_auth(auth: RedactedAuth, *, typed_code: int | None = None) -> list[str]:
    """Lines describing an auth's state; the code only as typed, else ``******``."""
    code = auth.code
    if code is not None and typed_code is not None:
        code = f"{typed_code} (as you typed it)"
    parts = [f'name "{escape(auth.name)}"']
    if code is not None:
        parts.append(f"code {code}")
    parts.append("enabled" if auth.enabled else "disabled")
    parts.append("remote allowed" if auth.remote_allowed else "no remote")
    lines = [" · ".join(parts)]
    limits = []
    if auth.allowed_from_date or auth.allowed_until_date:
        limits.append(
            f"from {_when(auth.allowed_from_date)} until {_when(auth.allowed_until_date)}"
        )
    if auth.allowed_week_days is not None:
        limits.append(format_weekdays(auth.allowed_week_days))
    if auth.allowed_from_time is not None or auth.allowed_until_time is not None:
        start = format_minutes(auth.allowed_from_time or 0)
        end = format_minutes(auth.allowed_until_time or 1439)
        limits.append(f"{start}-{end}")
    lines.append("Access: " + (" · ".join(limits) if limits else "no time restriction"))
    return lines


def _what(outcome: AuthOutcome) -> str:
    auth = f"auth {escape(outcome.auth_id)}" if outcome.auth_id else "a new auth"
    verb = {ChangeKind.CREATE: "create", ChangeKind.UPDATE: "update", ChangeKind.DELETE: "delete"}
    return f"{verb[outcome.kind]} of {auth} on smartlock {outcome.smartlock_id}"


def render_auth_outcome(
    console: Console,
    outcome: AuthOutcome,
    *,
    typed_code: int | None = None,
    ui_link: Callable[[str], str | None] | None = None,
) -> None:
    mark, colour, label = _STATUS_STYLE[outcome.status]
    number = f" (change #{outcome.change_number})" if outcome.change_number else ""
    console.print(f"[bold {colour}]{mark} {label}[/]: {_what(outcome)}{number}")
    if outcome.status is OutcomeStatus.APPLIED:
        if outcome.kind is ChangeKind.DELETE:
            console.print("  The auth is gone from the lock (verified by reading it back).")
        elif outcome.verified is not None:
            console.print("  Verified on the lock:")
            for line in describe_auth(outcome.verified, typed_code=typed_code):
                console.print(f"    {line}")
        if outcome.kind is ChangeKind.CREATE and outcome.auth_id:
            console.print(f"  New auth id: [bold]{outcome.auth_id}[/]")
            entity = auth_workflow_id(outcome.smartlock_id, outcome.auth_id)
            console.print(f"  [dim]Its later changes go through workflow {entity}[/]")
        if outcome.writes > 1:
            console.print(
                f"  [dim]{outcome.writes} writes: Nuki lost an accepted write and nukiflow "
                "sent it again.[/]"
            )
    elif outcome.status is OutcomeStatus.SUPERSEDED:
        by = (
            f"change #{outcome.superseded_by_change}"
            if outcome.superseded_by_change
            else "a newer change"
        )
        console.print(
            f"  A newer change ({by}) replaced this one before it was written; the newer one "
            "carries this change's fields unless it overrides them."
        )
    elif outcome.status is OutcomeStatus.REJECTED:
        console.print(f"  {escape(outcome.reason or 'the change was refused')}")
        console.print("  [dim]Nothing was sent to the lock. Fix the value and run it again.[/]")
    else:
        console.print(f"  {escape(outcome.reason or 'the change did not land')}")
        if outcome.auth_id:
            console.print(
                f"  [dim]See what nukiflow knows: nukiflow auth show {outcome.smartlock_id} "
                f"{escape(outcome.auth_id)}[/]"
            )
    _print_workflow(console, outcome.workflow_id, ui_link)


def _print_workflow(
    console: Console, workflow_id: str | None, ui_link: Callable[[str], str | None] | None
) -> None:
    if not workflow_id:
        return
    link = ui_link(workflow_id) if ui_link else None
    console.print(
        f"  [dim]Workflow {escape(workflow_id)}[/]" + (f"  {escape(link)}" if link else "")
    )


def render_auth_view(
    console: Console,
    view: AuthEntityView,
    *,
    workflow_id: str,
    running: bool,
    ui_link: Callable[[str], str | None] | None = None,
) -> None:
    console.print(
        f"[bold]Auth {escape(view.auth_id)}[/] on smartlock {view.smartlock_id}: "
        f"[bold]{view.status.value.replace('_', ' ')}[/]"
        + ("" if running else " [dim](workflow closed)[/]")
    )
    if view.verified is not None:
        console.print("  Verified on the lock:")
        for line in describe_auth(view.verified):
            console.print(f"    {line}")
    else:
        console.print("  Not verified yet (nukiflow reads the auth with its first change).")
    if view.desired is not None and view.verified is not None and view.desired != view.verified:
        console.print("  Desired (not on the lock yet):")
        for line in describe_auth(view.desired):
            console.print(f"    {line}")
    console.print(f"  Changes: {view.change_counter} accepted, {view.pending_changes} pending")
    for outcome in view.last_outcomes[-5:]:
        mark, colour, label = _STATUS_STYLE[outcome.status]
        reason = f": {escape(outcome.reason)}" if outcome.reason and not outcome.ok else ""
        console.print(
            f"    [{colour}]{mark}[/] #{outcome.change_number} {outcome.kind.value} "
            f"{label.lower()}{reason}"
        )
    _print_workflow(console, workflow_id, ui_link)


# -- actions -------------------------------------------------------------------------------

_ACTION_STYLE = {
    "confirmed": ("✓", "green", "Confirmed"),
    "expired": ("⏱", "red", "Expired"),
    "failed": ("✗", "red", "Failed"),
    "rejected": ("✗", "yellow", "Rejected"),
}


def render_action_outcome(
    console: Console, outcome: Any, *, ui_link: Callable[[str], str | None] | None = None
) -> None:
    status = str(outcome.status)
    mark, colour, label = _ACTION_STYLE.get(status, ("?", "white", status))
    action = str(outcome.action)
    console.print(f"[bold {colour}]{mark} {label}[/]: {action} on smartlock {outcome.smartlock_id}")
    if status == "confirmed":
        state = getattr(outcome, "state_name", None) or getattr(outcome, "state", None)
        seconds = getattr(outcome, "seconds", None)
        took = f" after {seconds:.1f}s" if isinstance(seconds, int | float) else ""
        console.print(f"  The lock reports {state}{took}.")
    else:
        console.print(f"  {escape(outcome.reason or 'the action did not complete')}")
        if status == "expired":
            console.print(
                "  [dim]It was not sent after its deadline: nothing will happen later. "
                "Run it again if it is still wanted.[/]"
            )
    _print_workflow(console, getattr(outcome, "workflow_id", None), ui_link)


# -- status --------------------------------------------------------------------------------

# Auth workflows: applying, in_sync, failed, idle, deleted; lock workflows: acting, confirmed,
# expired, failed, idle.
STATUS_ORDER = (
    "failed",
    "expired",
    "applying",
    "acting",
    "idle",
    "in_sync",
    "confirmed",
    "deleted",
)
_STATUS_COLOUR = {
    "failed": "red",
    "expired": "red",
    "applying": "yellow",
    "acting": "yellow",
    "in_sync": "green",
    "confirmed": "green",
    "deleted": "dim",
}
_STATUS_WORDS = {
    "failed": "failing",
    "expired": "expired",
    "applying": "pending",
    "acting": "acting",
    "in_sync": "in sync",
    "confirmed": "confirmed",
}


class StatusRow(BaseModel):
    workflow_id: str
    kind: str | None = None
    smartlock_id: int | None = None
    auth_id: str | None = None
    status: str | None = None
    started: datetime | None = None


def status_counts(rows: Sequence[StatusRow]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        key = row.status or "unknown"
        counts[key] = counts.get(key, 0) + 1
    return counts


def render_status(console: Console, rows: Sequence[StatusRow], *, scope: str) -> None:
    if not rows:
        console.print(f"No nukiflow workflows are running {scope}.")
        return
    counts = status_counts(rows)
    summary = ", ".join(
        f"[{_STATUS_COLOUR.get(key, 'white')}]{counts[key]} {_STATUS_WORDS.get(key, key)}[/]"
        for key in sorted(counts, key=lambda k: STATUS_ORDER.index(k) if k in STATUS_ORDER else 99)
    )
    console.print(f"{len(rows)} nukiflow workflows {scope}: {summary}")
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("STATUS", "KIND", "SMARTLOCK", "AUTH", "WORKFLOW ID"):
        table.add_column(column, overflow="fold")
    ordered = sorted(
        rows,
        key=lambda r: (
            STATUS_ORDER.index(r.status) if r.status in STATUS_ORDER else 99,
            r.smartlock_id or 0,
            r.workflow_id,
        ),
    )
    for row in ordered:
        status = row.status or "-"
        colour = _STATUS_COLOUR.get(status, "white")
        table.add_row(
            f"[{colour}]{_STATUS_WORDS.get(status, status)}[/]",
            row.kind or "-",
            str(row.smartlock_id or "-"),
            row.auth_id or "-",
            row.workflow_id,
        )
    console.print(table)


# -- nukiflow dev --------------------------------------------------------------------------


def print_dev_banner(console: Console, stack: EmbeddedStack, settings: Settings) -> None:
    temporal = stack.temporal
    console.print("[bold green]nukiflow dev is ready[/] (Ctrl-C stops everything)")
    console.print(
        f"  Temporal   [bold]{temporal.address}[/]  namespace {settings.temporal_namespace}, "
        f"task queue {settings.task_queue}"
    )
    if temporal.ui_url:
        console.print(f"  Web UI     [link={temporal.ui_url}]{temporal.ui_url}[/link]")
    if stack.fake_cloud:
        console.print(
            f"  Nuki API   {stack.nuki_url}  token {stack.nuki_token}  [dim](the fake Nuki "
            "cloud; it starts empty each time)[/]"
        )
        locks = ", ".join(str(lock) for lock in stack.locks) or "none"
        console.print(f"  Locks      {locks}")
    else:
        console.print(
            f"  Nuki API   {stack.nuki_url}  token ****** [dim](the real Nuki Web API)[/]"
        )
    if stack.codec_server is not None:
        console.print(f"  Codec      {stack.codec_server.endpoint}  [dim](lets the UI decrypt)[/]")
    state_dir = stack.options.state_dir
    if state_dir is not None:
        console.print(f"  State      {state_dir}  [dim](temporal.db, temporal.log, codec-keys)[/]")
    exports = []
    if temporal.address != Settings.model_fields["temporal_address"].default:
        exports.append(f"NUKIFLOW_TEMPORAL_ADDRESS={temporal.address}")
    if state_dir is not None and state_dir != Settings.model_fields["state_dir"].default.resolve():
        exports.append(f"NUKIFLOW_STATE_DIR={state_dir}")
    if exports:
        console.print(f"  In another terminal first: [bold]export {' '.join(exports)}[/]")
    if stack.locks:
        lock = stack.locks[0]
        console.print(
            f"  Try:       nukiflow auth create {lock} --name guest --code 535353"
            f"   ·   nukiflow unlock {lock}   ·   nukiflow status"
        )
