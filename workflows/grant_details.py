"""What an access grant shows in the Temporal UI: its current details, made from its view.
A plain function (no Temporal calls); never the code."""

from __future__ import annotations

from datetime import UTC

from nukiflow.contracts.access import GrantStatus, GrantView
from nukiflow.times.zones import describe_window
from nukiflow.workflows.markdown import md

# What each status means for the person reading the details.
_NOW = {
    GrantStatus.CREATING: "writing the keypad code with its window onto the lock",
    GrantStatus.SCHEDULED: "the code is on the lock; its window has not started",
    GrantStatus.ACTIVE: "the code is on the lock and its window is open",
    GrantStatus.REVOKING: "deleting the code from the lock (verified by reading it back)",
    GrantStatus.REVOCATION_OVERDUE: (
        "the code is still on the lock past the window's end: the delete is retried until the "
        "lock confirms it (the attempt under way is in Pending Activities)"
    ),
    GrantStatus.REVOKED: "the code was deleted from the lock",
    GrantStatus.FAILED: (
        "the code could not be created; at the window's end the grant looks for a code that "
        "landed late and deletes it"
    ),
}


def _moved(view: GrantView) -> str:
    """Whether the end shown is the one the grant started with (its input's)."""
    if view.granted_until is None:
        return ""
    return f"; end moved by an extension (granted until {view.granted_until:%Y-%m-%d %H:%M} UTC)"


def grant_details(view: GrantView) -> str:
    """The current details of a grant (Markdown; dates in UTC, daily times in lock time)."""
    auth = f" (auth `{view.auth_id}`)" if view.auth_id else ""
    lines = [
        f"**Access** {md(view.name)} · keypad code on smartlock `{view.smartlock_id}`{auth} · "
        f"**status:** {view.status.value}",
        f"**Now:** {_NOW.get(view.status, view.status.value)}",
        f"**Window:** {describe_window(view.window, UTC)}"
        + (f" (given in {view.window.tz})" if view.window.tz else "")
        + _moved(view),
    ]
    if view.revocation_due_at is not None and view.status is not GrantStatus.REVOKED:
        lines.append(f"**Revocation due** {view.revocation_due_at:%Y-%m-%d %H:%M:%S} UTC")
    if view.revoke_requested:
        lines.append(f"**Revocation requested:** {md(view.revoke_reason or 'no reason given')}")
    if view.overdue_since is not None and view.status is not GrantStatus.REVOKED:
        lines.append(f"**Revocation overdue since** {view.overdue_since:%Y-%m-%d %H:%M:%S} UTC")
    if view.revocation_attempts:
        lines.append(f"**Revocation attempts that ended:** {view.revocation_attempts}")
    if view.revoked_at is not None:
        lines.append(f"**Revoked** {view.revoked_at:%Y-%m-%d %H:%M:%S} UTC ({view.verified_by})")
    if view.reason:
        lines.append(f"> {md(view.reason)}")
    return "\n\n".join(lines)
