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
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from nukiflow.contracts.access import GrantStatus, GrantView
from nukiflow.contracts.auth import AuthOutcome, ChangeKind, OutcomeStatus, RedactedAuth
from nukiflow.contracts.entity import AuthEntityView, auth_workflow_id
from nukiflow.contracts.rollout import (
    ItemReport,
    ItemStatus,
    RolloutProgress,
    RolloutReport,
    RolloutState,
    RolloutTotals,
)
from nukiflow.contracts.validation import is_unsafe_character, unsafe_character
from nukiflow.settings import Settings
from nukiflow.times.daily import format_minutes
from nukiflow.times.dates import zone
from nukiflow.times.weekdays import format_weekdays
from nukiflow.times.zones import describe_window

if TYPE_CHECKING:
    from nukiflow.devtools.dev import EmbeddedStack

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REJECTED = 2  # also Click's status for usage errors
# A lock action that may have run: sent (or maybe sent) and its outcome not seen in time.
EXIT_UNKNOWN = 3

# Console width when stdout is not a terminal: wide enough that ids and links stay on one line.
PIPE_WIDTH = 200


def ui_workflow_url(ui_url: str, namespace: str, workflow_id: str) -> str:
    """The Temporal UI page of a workflow (namespace and id percent-encoded)."""
    return (
        f"{ui_url.rstrip('/')}/namespaces/{quote(namespace, safe='')}/workflows/"
        f"{quote(workflow_id, safe='')}"
    )


def _escaped(char: str) -> str:
    if char == "\n":
        return "\\n"
    if char == "\t":
        return "\\t"
    if char == "\r":
        return "\\r"
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def safe(text: object) -> str:
    """``text`` ready to print on a console: control characters (escape sequences, line
    breaks, bidirectional overrides, ...) shown as ``\\x1b``-style escapes, so a name or an
    error detail from Nuki or from input can never drive the operator's terminal; Rich markup
    escaped. Everything the CLI echoes goes through here."""
    value = str(text)
    if unsafe_character(value) is not None:
        value = "".join(_escaped(c) if is_unsafe_character(c) else c for c in value)
    return escape(value)


def stdout_console() -> Console:
    wide = None if sys.stdout.isatty() else PIPE_WIDTH
    return Console(soft_wrap=True, highlight=False, emoji=False, width=wide)


def stderr_console() -> Console:
    wide = None if sys.stderr.isatty() else PIPE_WIDTH
    return Console(stderr=True, soft_wrap=True, highlight=False, emoji=False, width=wide)


def print_json(data: Any) -> None:
    """One JSON document on stdout (pydantic models dumped in JSON mode)."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def error(message: str, hint: str | None = None) -> None:
    console = stderr_console()
    # A message of several lines (a plan's problems) keeps its line breaks; nothing else does.
    shown = "\n".join(safe(line) for line in message.split("\n"))
    console.print(f"[bold red]Error:[/] {shown}", highlight=False)
    if hint:
        console.print(f"[dim]→ {safe(hint)}[/]", highlight=False)


# -- exit statuses -------------------------------------------------------------------------


def auth_exit_code(outcome: AuthOutcome) -> int:
    if outcome.status in (OutcomeStatus.APPLIED, OutcomeStatus.SUPERSEDED):
        return EXIT_OK
    if outcome.status is OutcomeStatus.REJECTED:
        return EXIT_REJECTED
    return EXIT_FAILED


def action_exit_code(status: str) -> int:
    """confirmed 0; failed, expired 1; rejected 2; unknown (it may have run) 3."""
    if status == "confirmed":
        return EXIT_OK
    if status == "rejected":
        return EXIT_REJECTED
    if status == "unknown":
        return EXIT_UNKNOWN
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
        console.print(f"{safe(message)}…", style="dim")
        yield lambda text: None
        return

    def text() -> str:
        return f"{safe(state['message'])}… [dim]{time.monotonic() - started:.0f}s[/]"

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


def echoed_code(console: Console, typed_code: int | None) -> str | None:
    """The code the user typed, to show back; None when there is none.

    Only a terminal gets the digits: output that goes to a pipe or file tends to end up in
    a log (a CI job, a cron mail), and the user already has the code they typed.
    """
    if typed_code is None:
        return None
    if console.is_terminal:
        return f"{typed_code} (as you typed it)"
    return "****** (as you typed it; shown only on a terminal)"


def describe_auth(auth: RedactedAuth, *, typed_code: str | None = None) -> list[str]:
    """Lines describing an auth's state; the code as ``echoed_code`` gave it, else ``******``."""
    code = auth.code
    if code is not None and typed_code is not None:
        code = typed_code
    parts = [f'name "{safe(auth.name)}"']
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
    auth = f"auth {safe(outcome.auth_id)}" if outcome.auth_id else "a new auth"
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
            echoed = echoed_code(console, typed_code)
            for line in describe_auth(outcome.verified, typed_code=echoed):
                console.print(f"    {line}")
        if outcome.kind is ChangeKind.CREATE and outcome.auth_id:
            console.print(f"  New auth id: [bold]{safe(outcome.auth_id)}[/]")
            entity = auth_workflow_id(outcome.smartlock_id, outcome.auth_id)
            console.print(f"  [dim]Its later changes go through workflow {safe(entity)}[/]")
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
        console.print(f"  {safe(outcome.reason or 'the change was refused')}")
        console.print("  [dim]Nothing was sent to the lock. Fix the value and run it again.[/]")
    else:
        console.print(f"  {safe(outcome.reason or 'the change did not land')}")
        if outcome.auth_id:
            console.print(
                f"  [dim]See what nukiflow knows: nukiflow auth show {outcome.smartlock_id} "
                f"{safe(outcome.auth_id)}[/]"
            )
    _print_workflow(console, outcome.workflow_id, ui_link)


def _print_workflow(
    console: Console, workflow_id: str | None, ui_link: Callable[[str], str | None] | None
) -> None:
    if not workflow_id:
        return
    link = ui_link(workflow_id) if ui_link else None
    console.print(f"  [dim]Workflow {safe(workflow_id)}[/]" + (f"  {safe(link)}" if link else ""))


def render_auth_view(
    console: Console,
    view: AuthEntityView,
    *,
    workflow_id: str,
    running: bool,
    ui_link: Callable[[str], str | None] | None = None,
) -> None:
    console.print(
        f"[bold]Auth {safe(view.auth_id)}[/] on smartlock {view.smartlock_id}: "
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
        reason = f": {safe(outcome.reason)}" if outcome.reason and not outcome.ok else ""
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
    "unknown": ("?", "bold yellow", "Unknown (it may have run)"),
    "rejected": ("✗", "yellow", "Rejected"),
}


def render_action_outcome(
    console: Console, outcome: Any, *, ui_link: Callable[[str], str | None] | None = None
) -> None:
    status = str(outcome.status)
    mark, colour, label = _ACTION_STYLE.get(status, ("?", "white", status))
    action = safe(outcome.action)
    console.print(f"[bold {colour}]{mark} {label}[/]: {action} on smartlock {outcome.smartlock_id}")
    if status == "confirmed":
        state = getattr(outcome, "state_name", None) or getattr(outcome, "state", None)
        seconds = getattr(outcome, "seconds", None)
        took = f" after {seconds:.1f}s" if isinstance(seconds, int | float) else ""
        if state is None:
            console.print("  The lock's log shows it completed.")
        else:
            console.print(f"  The lock reports {safe(state)}{took}.")
    else:
        console.print(f"  {safe(outcome.reason or 'the action did not complete')}")
        if status == "expired":
            console.print(
                "  [dim]It was never sent and will not be: nothing will happen later. "
                "Run it again if it is still wanted.[/]"
            )
        elif status == "unknown":
            console.print(
                "  [dim]nukiflow cannot tell whether the lock ran it. Check the lock (its state "
                "and log) before running it again: an unlatch sent twice opens the door twice.[/]"
            )
    _print_workflow(console, getattr(outcome, "workflow_id", None), ui_link)


# -- status --------------------------------------------------------------------------------

# Auth workflows: applying, in_sync, failed, idle, deleted; lock workflows: acting, confirmed,
# expired, failed, unknown, idle; rollouts: running, paused, cancelling, stopping (then their final
# state); grants: creating, scheduled, active, revoking, revocation_overdue, failed, revoked.
# Most urgent first.
STATUS_ORDER = (
    "revocation_overdue",
    "unknown",
    "failed",
    "expired",
    "stopping",
    "cancelling",
    "paused",
    "revoking",
    "applying",
    "acting",
    "creating",
    "running",
    "idle",
    "scheduled",
    "active",
    "in_sync",
    "confirmed",
    "completed_with_failures",
    "stopped",
    "cancelled",
    "completed",
    "revoked",
    "deleted",
)
_STATUS_COLOUR = {
    "revocation_overdue": "bold red",
    "unknown": "bold yellow",
    "failed": "red",
    "expired": "red",
    "stopping": "red",
    "cancelling": "yellow",
    "paused": "magenta",
    "revoking": "yellow",
    "applying": "yellow",
    "acting": "yellow",
    "creating": "yellow",
    "running": "blue",
    "scheduled": "cyan",
    "active": "green",
    "in_sync": "green",
    "confirmed": "green",
    "completed_with_failures": "red",
    "stopped": "red",
    "cancelled": "yellow",
    "completed": "green",
    "revoked": "dim",
    "deleted": "dim",
}
_STATUS_WORDS = {
    "revocation_overdue": "revocation overdue",
    "unknown": "outcome unknown",
    "failed": "failing",
    "expired": "expired",
    "stopping": "stopping (a failure)",
    "cancelling": "cancelling",
    "paused": "paused",
    "revoking": "revoking",
    "applying": "pending",
    "acting": "acting",
    "creating": "creating",
    "running": "rolling out",
    "scheduled": "scheduled",
    "active": "active",
    "in_sync": "in sync",
    "confirmed": "confirmed",
    "completed_with_failures": "completed with failures",
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
        word = _STATUS_WORDS.get(status, status)
        if row.kind in ("access", "rollout") and status == "failed":
            word = "failed"  # a grant whose code could not be created
        table.add_row(
            f"[{colour}]{safe(word)}[/]",
            safe(row.kind or "-"),
            str(row.smartlock_id or "-"),
            safe(row.auth_id or "-"),
            safe(row.workflow_id),
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


# -- rollouts ------------------------------------------------------------------------------

_ROLLOUT_STYLE = {
    "running": ("▶", "yellow", "Running"),
    "paused": ("⏸", "magenta", "Paused"),
    "cancelling": ("■", "yellow", "Cancelling"),
    "stopping": ("■", "yellow", "Stopping"),
    "completed": ("✓", "green", "Completed"),
    "completed_with_failures": ("✗", "red", "Completed with failures"),
    "cancelled": ("■", "yellow", "Cancelled"),
    "stopped": ("✗", "red", "Stopped"),
}
_ITEM_COLOUR = {
    "pending": "dim",
    "running": "yellow",
    "applied": "green",
    "superseded": "cyan",
    "failed": "red",
    "skipped": "yellow",
    "abandoned": "red",
}


def rollout_exit_code(report: RolloutReport) -> int:
    """0 when every item ended applied; 1 otherwise (failed, superseded, skipped items)."""
    return EXIT_OK if report.state is RolloutState.COMPLETED else EXIT_FAILED


def _state_label(state: RolloutState) -> tuple[str, str, str]:
    return _ROLLOUT_STYLE.get(state.value, ("?", "white", state.value))


def totals_line(totals: RolloutTotals) -> str:
    """``4 items: 3 applied, 1 failed`` (states with no items left out)."""
    parts = [
        f"[{_ITEM_COLOUR[status.value]}]{getattr(totals, status.value)} {status.value}[/]"
        for status in ItemStatus
        if getattr(totals, status.value)
    ]
    noun = "item" if totals.total == 1 else "items"
    return f"{totals.total} {noun}: " + (", ".join(parts) or "none")


def _item_line(item: ItemReport) -> str:
    colour = _ITEM_COLOUR.get(item.status.value, "white")
    auth = f" → auth {safe(item.auth_id)}" if item.auth_id and item.op.value == "create" else ""
    reason = f": {safe(item.reason)}" if item.reason else ""
    return f"#{item.index} {safe(item.label)}{auth} [{colour}]{item.status.value}[/]{reason}"


def _rollout_title(rollout_id: str, name: str | None) -> str:
    return f"rollout {safe(rollout_id)}" + (f" ({safe(name)})" if name else "")


def render_rollout_report(
    console: Console,
    report: RolloutReport,
    *,
    ui_link: Callable[[str], str | None] | None = None,
) -> None:
    """The final report: totals, every item that did not end applied (and why), new auth ids."""
    mark, colour, label = _state_label(report.state)
    console.print(
        f"[bold {colour}]{mark} {label}[/]: {_rollout_title(report.rollout_id, report.name)}"
    )
    console.print(f"  {totals_line(report.totals)}")
    if report.stop_reason:
        console.print(f"  [dim]{safe(report.stop_reason)}[/]")
    if report.not_applied:
        console.print("  Not applied:")
        for item in report.not_applied:
            console.print(f"    {_item_line(item)}")
        if report.not_applied_omitted:
            console.print(
                f"    [dim]… and {report.not_applied_omitted} more: `nukiflow rollout report "
                f"{safe(report.rollout_id)}` lists every one[/]"
            )
    if report.created:
        console.print("  New auths:")
        for index, auth_id in sorted(report.created.items()):
            console.print(f"    #{index} → {safe(auth_id)}")
        if report.created_omitted:
            console.print(
                f"    [dim]… and {report.created_omitted} more: `nukiflow rollout report "
                f"{safe(report.rollout_id)}` lists every one[/]"
            )
    _print_workflow(console, report.rollout_id, ui_link)


def render_rollout_omissions(report: RolloutReport) -> str:
    """What a report's bounded lists leave out: ``it lists 1000 of 1500 items not applied``."""
    parts = []
    if report.not_applied_omitted:
        total = len(report.not_applied) + report.not_applied_omitted
        parts.append(f"{len(report.not_applied)} of {total} items not applied")
    if report.created_omitted:
        total = len(report.created) + report.created_omitted
        parts.append(f"{len(report.created)} of {total} new auth ids")
    return "it lists " + " and ".join(parts) if parts else "it lists everything"


def render_rollout_progress(
    console: Console,
    progress: RolloutProgress,
    *,
    running: bool,
    ui_link: Callable[[str], str | None] | None = None,
) -> None:
    """`rollout status`: state, totals and the items that are not applied (yet)."""
    mark, colour, label = _state_label(progress.state)
    closed = "" if running else " [dim](workflow closed)[/]"
    console.print(
        f"[bold {colour}]{mark} {label}[/]: "
        f"{_rollout_title(progress.rollout_id, progress.name)}{closed}"
    )
    console.print(f"  {totals_line(progress.totals)}")
    if progress.started_at is not None:
        runs = f" · {progress.runs} runs" if progress.runs > 1 else ""
        console.print(f"  [dim]Started {_when(progress.started_at)}{runs}[/]")
    if progress.stop_reason:
        console.print(f"  [dim]{safe(progress.stop_reason)}[/]")
    if progress.items:
        console.print("  Not applied:" if not running else "  Not applied (yet):")
        for item in progress.items:
            console.print(f"    {_item_line(item)}")
        if progress.matched > len(progress.items):
            console.print(
                f"    [dim]… and {progress.matched - len(progress.items)} more: `nukiflow "
                f"rollout status {safe(progress.rollout_id)} --all` lists every one[/]"
            )
    _print_workflow(console, progress.rollout_id, ui_link)


@contextlib.asynccontextmanager
async def rollout_bar(
    title: str, *, quiet: bool = False
) -> AsyncIterator[Callable[[RolloutProgress], None]]:
    """A live progress bar on a terminal (stderr); a line per change of state otherwise.

    Yields a function that shows a new :class:`RolloutProgress`.
    """
    console = stderr_console()
    if quiet:
        yield lambda progress: None
        return
    if not console.is_terminal:
        console.print(f"{safe(title)}…", style="dim")
        seen: dict[str, RolloutState] = {}

        def line(progress: RolloutProgress) -> None:
            if seen.get("state") is not progress.state:
                seen["state"] = progress.state
                console.print(
                    f"  {progress.state.value}: {totals_line(progress.totals)}", style="dim"
                )

        yield line
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[detail]}"),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(safe(title), total=None, detail="")

        def update(progress: RolloutProgress) -> None:
            totals = progress.totals
            detail = totals_line(totals).partition(": ")[2]
            if progress.state is not RolloutState.RUNNING:
                detail = f"[bold]{progress.state.value}[/] · {detail}"
            bar.update(task, total=totals.total, completed=totals.settled, detail=detail)

        yield update


# -- access grants -------------------------------------------------------------------------

_GRANT_STYLE = {
    "creating": ("…", "yellow", "Creating"),
    "scheduled": ("✓", "cyan", "Scheduled"),
    "active": ("✓", "green", "Active"),
    "revoking": ("…", "yellow", "Revoking"),
    "revocation_overdue": ("⚠", "bold red", "Revocation overdue"),
    "revoked": ("✓", "green", "Revoked"),
    "failed": ("✗", "red", "Failed"),
}


def grant_exit_code(view: GrantView) -> int:
    return EXIT_FAILED if view.status is GrantStatus.FAILED else EXIT_OK


def _in_zone(value: datetime, tz: str | None) -> str:
    """A moment in the grant's zone (and in UTC when that differs)."""
    try:
        where: tzinfo = zone(tz) if tz else UTC
    except ValueError:
        where = UTC
    local = value.astimezone(where).strftime("%Y-%m-%d %H:%M %Z")
    if where is UTC:
        return local
    return f"{local} ({value.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"


def render_grant(
    console: Console,
    view: GrantView,
    *,
    typed_code: int | None = None,
    headline: str | None = None,
    running: bool = True,
    ui_link: Callable[[str], str | None] | None = None,
) -> None:
    """A grant: its status, window, the auth it made and when it is (or was) revoked."""
    mark, colour, label = _GRANT_STYLE.get(view.status.value, ("?", "white", view.status.value))
    closed = "" if running else " [dim](workflow closed)[/]"
    console.print(
        f"[bold {colour}]{mark} {headline or label}[/]: access {safe(repr(view.name))} on "
        f"smartlock {view.smartlock_id}{closed}"
    )
    console.print(f"  Grant id: [bold]{safe(view.workflow_id)}[/]")
    echoed = echoed_code(console, typed_code)
    if echoed is not None:
        console.print(f"  Code {echoed}")
    console.print(f"  Window: {safe(describe_window(view.window))}")
    if view.auth_id:
        where = "deleted from the lock" if view.status is GrantStatus.REVOKED else "on the lock"
        console.print(f"  Auth {safe(view.auth_id)} ({where})")
    if view.status is GrantStatus.FAILED:
        console.print(f"  [red]{safe(view.reason or 'the code could not be created')}[/]")
    elif view.reason:
        console.print(f"  [dim]{safe(view.reason)}[/]")
    if view.status is GrantStatus.REVOKED:
        when = _in_zone(view.revoked_at, view.window.tz) if view.revoked_at else "-"
        how = f" (verified: {view.verified_by})" if view.verified_by else ""
        why = f"; {safe(view.revoke_reason)}" if view.revoke_reason else ""
        console.print(f"  Revoked {when}{how}{why}")
    elif view.status is GrantStatus.REVOCATION_OVERDUE:
        since = _in_zone(view.overdue_since, view.window.tz) if view.overdue_since else "-"
        console.print(
            f"  [bold red]The revocation is overdue since {since}[/] "
            f"({view.revocation_attempts} attempts); nukiflow keeps trying until the lock "
            "confirms the code is gone."
        )
    elif view.status is GrantStatus.REVOKING:
        console.print(f"  Revoking now ({view.revocation_attempts} attempts so far)")
    elif view.status is GrantStatus.FAILED:
        if running:
            end = _in_zone(view.window.allowed_until_date, view.window.tz)
            console.print(
                f"  [dim]At the window's end ({end}) nukiflow looks for a code that landed "
                "late and deletes it.[/]"
            )
    else:
        due = view.revocation_due_at or view.window.allowed_until_date
        console.print(f"  Revoked automatically at [bold]{_in_zone(due, view.window.tz)}[/]")
    _print_workflow(console, view.workflow_id, ui_link)
