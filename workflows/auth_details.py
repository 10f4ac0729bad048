"""What the authorization entity says: the reasons of its outcomes and the current details the
Temporal UI shows. Plain functions of their arguments (no Temporal calls); never a code."""

from __future__ import annotations

from datetime import datetime

from nukiflow.contracts.auth import AuthFields, AuthOutcome
from nukiflow.contracts.deadline import clock
from nukiflow.contracts.entity import EntityStatus


def not_found(smartlock_id: int, auth_id: str) -> str:
    return f"auth {auth_id} was not found on smartlock {smartlock_id}; check both ids"


def deleted_by(auth_id: str, change_number: int) -> str:
    return f"auth {auth_id} was deleted by change #{change_number}"


def disappeared(smartlock_id: int, auth_id: str) -> str:
    return f"auth {auth_id} disappeared from smartlock {smartlock_id} (deleted outside nukiflow?)"


def taken_up_late(deadline: datetime, accepted_at: datetime) -> str:
    return (
        f"its deadline ({clock(deadline, date=True)}) had passed when the auth's workflow took "
        f"it up at {clock(accepted_at)}; it was never written"
    )


def expired_in_line(deadline: datetime, behind: int | None) -> str:
    after = "" if behind is None else f" behind change #{behind}"
    return (
        f"its deadline ({clock(deadline, date=True)}) passed while it waited{after}; it was "
        "never written"
    )


def expired_before_read(deadline: datetime) -> str:
    return (
        f"its deadline ({clock(deadline, date=True)}) passed before the auth could be read; it "
        "was never written"
    )


def expired_before_landing(deadline: datetime, writes: int) -> str:
    if writes == 0:
        return (
            f"its deadline ({clock(deadline, date=True)}) passed before it could be written; it "
            "was never written"
        )
    return "the change's deadline passed before it landed"


# Added to the reason of a change whose write Nuki accepted but whose wait failed.
ACCEPTED_BUT_PENDING = (
    "; Nuki accepted the write, so the lock may still take it when it is online again (the "
    "next change starts from what the lock holds)"
)


def superseded(by_number: int) -> str:
    return (
        f"replaced by change #{by_number} before it landed; that change includes this one's "
        "fields unless it overrides them"
    )


def did_not_land(writes: int, differences: list[str]) -> str:
    return (
        f"the change did not land after {writes} writes; the lock still differs in "
        f"{', '.join(differences)}"
    )


def entity_details(
    smartlock_id: int,
    auth_id: str,
    status: EntityStatus,
    *,
    changes: int,
    pending: int,
    verified: AuthFields | None,
    last: AuthOutcome | None,
    drift: list[str] | None = None,
    policy: str | None = None,
) -> str:
    """The current details of an entity (Markdown, code redacted)."""
    lines = [
        f"**Auth** `{auth_id}` on smartlock `{smartlock_id}`",
        f"**Status:** {status.value} · changes: {changes} · pending: {pending}",
    ]
    if verified is not None:
        v = verified.redacted()
        lines.append(
            f"**Verified:** name={v.name!r} code={v.code or '-'} enabled={v.enabled} "
            f"remote={v.remote_allowed}"
        )
    if drift:
        # Names only: a value may be a code.
        lines.append(f"**Drift** (policy {policy}): lock differed in {', '.join(drift)}")
    if last is not None:
        lines.append(f"**Last outcome:** #{last.change_number} {last.status.value}")
        if last.reason:
            lines.append(f"> {last.reason}")
    return "\n\n".join(lines)
