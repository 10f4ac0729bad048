"""Internal: what the command line prints about a lock action's outcome."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console

from nukiflow.cli.console import print_workflow, safe

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
    print_workflow(console, getattr(outcome, "workflow_id", None), ui_link)
