"""What the authorization entity says: the reasons of its outcomes and the current details the
Temporal UI shows. Plain functions of their arguments (no Temporal calls); never a code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from nukiflow.contracts.auth import (
    MINUTES_PER_DAY,
    AuthFields,
    AuthOutcome,
    ChangeKind,
    RedactedAuth,
)
from nukiflow.contracts.deadline import clock
from nukiflow.contracts.entity import EntityStatus
from nukiflow.contracts.wire import AuthType
from nukiflow.times.daily import format_minutes
from nukiflow.times.weekdays import format_weekday_ranges
from nukiflow.workflows.auth_watch import WaitNotes
from nukiflow.workflows.markdown import md

# Changes waiting in line listed one by one; the rest are counted.
WAITING_SHOWN = 10


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


def expired_after_unclear_write(deadline: datetime) -> str:
    return (
        f"its deadline ({clock(deadline, date=True)}) passed before it landed; a write of it "
        "went unanswered, so Nuki may have taken it (the next change starts from what the lock "
        "holds)"
    )


# Added to the reason of a change whose write failed after an attempt that went unanswered.
MAY_HAVE_BEEN_TAKEN = (
    "; an earlier attempt went unanswered, so Nuki may have taken the write (the next change "
    "starts from what the lock holds)"
)

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


@dataclass(frozen=True)
class ChangeUnderWay:
    """The change the entity is writing now, as the details show it."""

    number: int
    kind: ChangeKind
    # Names of the fields it sets or clears (never values).
    fields: tuple[str, ...]
    step: str
    since: datetime
    deadline: datetime
    notes: WaitNotes


@dataclass(frozen=True)
class EntityPicture:
    """Everything the entity's current details say, as plain values."""

    smartlock_id: int
    auth_id: str
    status: EntityStatus
    changes: int
    auth_type: int | None = None
    desired: AuthFields | None = None
    verified: AuthFields | None = None
    verified_at: datetime | None = None
    under_way: ChangeUnderWay | None = None
    waiting: tuple[tuple[int, ChangeKind, datetime], ...] = ()
    last: AuthOutcome | None = None
    drift: tuple[str, ...] = ()
    policy: str | None = None


AUTH_TYPES = {
    AuthType.APP: "app",
    AuthType.BRIDGE: "bridge",
    AuthType.FOB: "fob",
    AuthType.KEYPAD: "keypad",
    AuthType.KEYPAD_CODE: "keypad code",
    AuthType.Z_KEY: "Z-key",
    AuthType.VIRTUAL: "virtual",
}


def type_name(auth_type: int | None) -> str:
    if auth_type is None:
        return "auth"
    try:
        return AUTH_TYPES[AuthType(auth_type)]
    except ValueError:
        return f"auth type {auth_type}"


def when(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def describe_fields(fields: AuthFields | RedactedAuth) -> str:
    """An auth's state in words, the code masked: ``code ****** · enabled · no remote ·
    mon-fri · 08:00-18:00 (lock time) · from 2026-12-01 08:00 UTC``."""
    parts = []
    if fields.code is not None:
        parts.append("code ******")
    parts.append("enabled" if fields.enabled else "disabled")
    parts.append("remote allowed" if fields.remote_allowed else "no remote")
    if fields.allowed_week_days is not None:
        parts.append(format_weekday_ranges(fields.allowed_week_days))
    if fields.allowed_from_time is not None or fields.allowed_until_time is not None:
        start = format_minutes(fields.allowed_from_time or 0)
        end = format_minutes(fields.allowed_until_time or MINUTES_PER_DAY - 1)
        parts.append(f"{start}-{end} (lock time)")
    if fields.allowed_from_date is not None:
        parts.append(f"from {when(fields.allowed_from_date)}")
    if fields.allowed_until_date is not None:
        parts.append(f"until {when(fields.allowed_until_date)}")
    if (
        fields.allowed_week_days is None
        and fields.allowed_from_time is None
        and fields.allowed_until_time is None
        and fields.allowed_from_date is None
        and fields.allowed_until_date is None
    ):
        parts.append("no time restriction")
    return " · ".join(parts)


# Field names as the command line spells them (the details never show values).
FIELD_WORDS = {
    "allowed_week_days": "weekdays",
    "allowed_from_time": "times",
    "allowed_until_time": "times",
    "allowed_from_date": "from",
    "allowed_until_date": "until",
    "remote_allowed": "remote",
    "account_user_id": "account user",
}


def field_words(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    words: list[str] = []
    for name in names:
        word = FIELD_WORDS.get(name, name)
        if word not in words:
            words.append(word)
    return tuple(words)


def why_waiting(change: ChangeUnderWay) -> str | None:
    """Why the change under way waits, from what the entity's watch saw (None: nothing yet)."""
    notes = change.notes
    if notes.checked_at is None:
        return None
    reasons = []
    if notes.offline_since is not None:
        reasons.append(
            f"the lock is offline (seen since {clock(notes.offline_since)}); Nuki holds the "
            "change until it is back, or the deadline ends it"
        )
    if notes.busy_since is not None:
        if change.step.startswith(WRITING):
            reasons.append(
                f"device busy: an operation on this auth has been pending since "
                f"{clock(notes.busy_since)}, so writes get 423 and are retried"
            )
        else:
            reasons.append(
                f"the lock has not applied the operation yet (pending since "
                f"{clock(notes.busy_since)})"
            )
    if notes.look_failed is not None:
        reasons.append(f"the last look failed: {notes.look_failed}")
    if not reasons:
        reasons.append(
            "the lock is online and no operation is pending: the next attempt or read settles it"
        )
    return f"{'; '.join(reasons)} (last checked {clock(notes.checked_at)})"


WRITING = "writing"
WAITING = "waiting for the lock to apply it"
READING = "reading the auth as the base of the change"
READING_LOCK = "listing the lock's auths before creating"
CREATING = "creating the auth"


def entity_details(picture: EntityPicture) -> str:
    """The current details of an entity (Markdown, the code masked): what it is doing now,
    why it waits, the deadline, the changes in line, desired and verified state in words."""
    p = picture
    state = p.desired or p.verified
    title = f"**{md(state.name)}**" if state is not None else "**Auth**"
    lines = [
        f"{title} · {type_name(p.auth_type)} `{p.auth_id}` on smartlock `{p.smartlock_id}` · "
        f"**status:** {p.status.value} · changes: {p.changes}",
    ]
    change = p.under_way
    in_line = len(p.waiting) + (0 if change is None else 1)
    if change is not None:
        fields = f" ({', '.join(change.fields)})" if change.fields else ""
        lines.append(
            f"**Now:** change #{change.number} {change.kind.value}{fields}: {change.step} "
            f"(since {clock(change.since)}) · deadline {clock(change.deadline, date=True)}"
        )
        why = why_waiting(change)
        if why is not None:
            lines.append(f"**Why it waits:** {why}")
    if p.waiting:
        shown_ = ", ".join(
            f"#{number} {kind.value} (deadline {clock(deadline, date=True)})"
            for number, kind, deadline in p.waiting[:WAITING_SHOWN]
        )
        more = (
            f" and {len(p.waiting) - WAITING_SHOWN} more" if len(p.waiting) > WAITING_SHOWN else ""
        )
        lines.append(f"**Waiting in line:** {shown_}{more}")
    lines.append(f"**Pending changes:** {in_line} (including the one under way)")
    if p.desired is not None:
        lines.append(f"**Desired:** {describe_fields(p.desired)}")
    if p.verified is not None:
        at = "" if p.verified_at is None else f" (read back {clock(p.verified_at, date=True)})"
        same = p.desired is not None and not p.desired.differences(p.verified)
        text = "as desired" if same else describe_fields(p.verified)
        lines.append(f"**Verified on the lock{at}:** {text}")
    if p.drift:
        # Names only: a value may be a code.
        lines.append(f"**Drift** (policy {p.policy}): lock differed in {', '.join(p.drift)}")
    if p.last is not None:
        writes = p.last.writes
        sent = "" if not writes else f" after {writes} write{'s' if writes != 1 else ''}"
        lines.append(
            f"**Last outcome:** #{p.last.change_number} {p.last.kind.value} "
            f"{p.last.status.value}{sent}"
        )
        if p.last.reason:
            lines.append(f"> {md(p.last.reason)}")
    return "\n\n".join(lines)


def static_summary(name: str | None, auth_type: int | None, smartlock_id: int, auth_id: str) -> str:
    """The entity's static summary (set by whoever starts it; the name where it is known)."""
    what = type_name(auth_type)
    named = f"{name!r} " if name else ""
    return f"{what} {named}{auth_id} on smartlock {smartlock_id}"


def create_details(
    request_name: str,
    auth_type: int | None,
    smartlock_id: int,
    desired: AuthFields,
    *,
    step: str,
    since: datetime,
    deadline: datetime,
    notes: WaitNotes,
    auth_id: str | None = None,
    outcome: AuthOutcome | None = None,
) -> str:
    """The current details of a create (Markdown, the code masked)."""
    where = f"`{auth_id}` " if auth_id else ""
    lines = [
        f"**{md(request_name)}** · new {type_name(auth_type)} {where}on smartlock `{smartlock_id}`"
    ]
    if outcome is None:
        lines.append(
            f"**Now:** {step} (since {clock(since)}) · deadline {clock(deadline, date=True)}"
        )
        change = ChangeUnderWay(
            number=0,
            kind=ChangeKind.CREATE,
            fields=(),
            step=step,
            since=since,
            deadline=deadline,
            notes=notes,
        )
        why = why_waiting(change)
        if why is not None:
            lines.append(f"**Why it waits:** {why}")
    else:
        lines.append(f"**Outcome:** {outcome.status.value}")
        if outcome.reason:
            lines.append(f"> {md(outcome.reason)}")
    lines.append(f"**Desired:** {describe_fields(desired)}")
    return "\n\n".join(lines)
