"""What an access grant shows in the Temporal UI: its current details, made from its view.
A plain function (no Temporal calls); never the code."""

from __future__ import annotations

from nukiflow.contracts.access import GrantStatus, GrantView


def grant_details(view: GrantView) -> str:
    """The current details of a grant (Markdown; dates in UTC)."""
    w = view.window
    lines = [
        f"**Access** {view.name!r} on smartlock `{view.smartlock_id}`"
        + (f" (auth `{view.auth_id}`)" if view.auth_id else ""),
        f"**Status:** {view.status.value}",
        f"**Window (UTC):** {w.allowed_from_date:%Y-%m-%d %H:%M} to "
        f"{w.allowed_until_date:%Y-%m-%d %H:%M}",
    ]
    if view.revoke_requested:
        lines.append(f"**Revocation requested:** {view.revoke_reason}")
    if view.overdue_since is not None and view.status is not GrantStatus.REVOKED:
        lines.append(f"**Revocation overdue since** {view.overdue_since:%Y-%m-%d %H:%M:%S}")
    if view.revoked_at is not None:
        lines.append(f"**Revoked** {view.revoked_at:%Y-%m-%d %H:%M:%S} ({view.verified_by})")
    if view.reason:
        lines.append(f"> {view.reason}")
    return "\n\n".join(lines)
