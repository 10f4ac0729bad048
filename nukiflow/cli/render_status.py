"""Internal: ``nukiflow status``'s table of running workflows, most urgent first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from nukiflow.cli.console import safe

# Auth workflows: applying, in_sync, drifted, failed, idle, deleted; lock workflows: acting,
# confirmed, expired, failed, unknown, idle; rollouts: running, paused, cancelling, stopping (then
# their final state); grants: creating, scheduled, active, revoking, revocation_overdue, failed,
# revoked. Most urgent first.
STATUS_ORDER = (
    "revocation_overdue",
    "unknown",
    "failed",
    "drifted",
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
    "drifted": "bold magenta",
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
    "drifted": "drifted (the lock differs)",
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
    run_id: str | None = None
    # The run's User Metadata tab in the Temporal UI (None: the UI's address is unknown).
    ui_url: str | None = None


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


def render_links(console: Console, links: dict[str, str]) -> None:
    """The Temporal UI's lists for the common questions (nothing when the UI is unknown)."""
    if not links:
        return
    console.print("In the Temporal UI:")
    for question, url in links.items():
        console.print(f"  {question + ':':<21}[link={url}]{url}[/link]", soft_wrap=True)
