"""Internal: what the command line prints about rollouts (reports, progress, the live bar)
and access grants."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, tzinfo

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from nukiflow.cli.console import (
    echoed_code,
    local_time,
    print_workflow,
    safe,
    stderr_console,
)
from nukiflow.contracts.access import GrantStatus, GrantView
from nukiflow.contracts.rollout import (
    ItemReport,
    ItemStatus,
    RolloutProgress,
    RolloutReport,
    RolloutState,
    RolloutTotals,
)
from nukiflow.times.dates import zone
from nukiflow.times.zones import describe_window

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
    print_workflow(console, report.rollout_id, ui_link)


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
        console.print(f"  [dim]Started {local_time(progress.started_at)}{runs}[/]")
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
    print_workflow(console, progress.rollout_id, ui_link)


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
    moved = ""
    if view.granted_until is not None:
        granted = _in_zone(view.granted_until, view.window.tz)
        moved = f" (end moved by an extension; granted until {granted})"
    console.print(f"  Window: {safe(describe_window(view.window))}{moved}")
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
    print_workflow(console, view.workflow_id, ui_link)
