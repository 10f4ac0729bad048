"""Internal: what the command line prints about authorizations: outcomes and state."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console

from nukiflow.cli.console import echoed_code, local_time, print_workflow, safe
from nukiflow.contracts.auth import AuthOutcome, ChangeKind, OutcomeStatus, RedactedAuth
from nukiflow.contracts.entity import AuthEntityView, auth_workflow_id
from nukiflow.times.daily import format_minutes
from nukiflow.times.weekdays import format_weekdays

_STATUS_STYLE = {
    OutcomeStatus.APPLIED: ("✓", "green", "Applied"),
    OutcomeStatus.SUPERSEDED: ("↷", "cyan", "Superseded"),
    OutcomeStatus.REJECTED: ("✗", "yellow", "Rejected"),
    OutcomeStatus.FAILED: ("✗", "red", "Failed"),
}


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
            f"from {local_time(auth.allowed_from_date)} until {local_time(auth.allowed_until_date)}"
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
    print_workflow(console, outcome.workflow_id, ui_link)


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
    waiting = view.pending_changes + (0 if view.under_way is None else 1)
    console.print(f"  Changes: {view.change_counter} accepted, {waiting} pending")
    if view.under_way is not None:
        console.print(f"  Now: change #{view.under_way}: {safe(view.step or 'starting')}")
        if view.why_waiting:
            console.print(f"  [yellow]Why it waits:[/] {safe(view.why_waiting)}")
    for outcome in view.last_outcomes[-5:]:
        mark, colour, label = _STATUS_STYLE[outcome.status]
        reason = f": {safe(outcome.reason)}" if outcome.reason and not outcome.ok else ""
        console.print(
            f"    [{colour}]{mark}[/] #{outcome.change_number} {outcome.kind.value} "
            f"{label.lower()}{reason}"
        )
    print_workflow(console, workflow_id, ui_link)
