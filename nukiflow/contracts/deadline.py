"""Deadlines: instants fixed by the caller when it calls, never counted from a later moment.

A caller gives a deadline as a ``timedelta`` (from now) or as an aware ``datetime``; the entry
point (the facade, and through it the command line, rollouts and grants) turns it into a UTC
instant at once, and that instant travels with the change or action through every retry and
continue-as-new. A workflow that takes the request up late (no worker, a worker killed, a busy
queue) compares the same instant with its own clock, and so does the activity right before it
writes to Nuki.

What a deadline may be is decided here, once: a zero, negative, non-finite or naive value, one
that has passed, or one beyond the kind's maximum is refused with a message a person can act
on (the facade answers ``rejected``, the command line exits 2). There is no "zero means the
default": leaving the deadline out is how a caller asks for the default.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator

# What a caller may pass as a deadline.
Deadline = timedelta | datetime


class DeadlineError(ValueError):
    """A deadline the caller must fix (the message says how)."""


def _span(value: timedelta) -> str:
    seconds = value.total_seconds()
    if seconds > 86400 and seconds % 86400 == 0:
        return f"{seconds / 86400:g} d"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def utc_instant(value: datetime) -> datetime:
    """``value`` in UTC; refuses a date-time without a time zone (it names no instant)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise DeadlineError(
            "give a deadline date-time with a time zone (e.g. 2026-01-31T18:00:00+01:00); "
            "without one it names no instant"
        )
    return value.astimezone(UTC)


# A model field holding a deadline instant: refused without a time zone, kept in UTC.
UtcInstant = Annotated[datetime, AfterValidator(utc_instant)]


def one_deadline(deadline_at: datetime | None, deadline_seconds: float | None) -> None:
    """Refuses a request that names its deadline both ways (models' validators call this)."""
    if deadline_at is not None and deadline_seconds is not None:
        raise ValueError("give deadline_at or deadline_seconds, not both")


def resolve_deadline(
    deadline: object,
    *,
    default: timedelta,
    maximum: timedelta,
    now: datetime | None = None,
) -> datetime:
    """The UTC instant ``deadline`` names, fixed at ``now`` (default: this moment).

    ``None`` takes ``default``. Raises :class:`DeadlineError` for anything else that is not a
    positive, finite ``timedelta`` of at most ``maximum`` or an aware ``datetime`` after ``now``
    and at most ``maximum`` ahead.
    """
    now = datetime.now(UTC) if now is None else now
    if deadline is None:
        deadline = default
    if isinstance(deadline, datetime):
        at = utc_instant(deadline)
        if at <= now:
            raise DeadlineError(
                f"the deadline {at:%Y-%m-%d %H:%M:%S} UTC has passed (it is "
                f"{now:%H:%M:%S} UTC); give one in the future"
            )
        if at - now > maximum:
            raise DeadlineError(
                f"the deadline {at:%Y-%m-%d %H:%M:%S} UTC is more than {_span(maximum)} ahead, "
                "the longest allowed"
            )
        return at
    if isinstance(deadline, timedelta):
        seconds = deadline.total_seconds()
        if not math.isfinite(seconds) or seconds <= 0:
            raise DeadlineError(
                f"a deadline must be longer than zero (got {seconds:g} s); leave it out for "
                "the default"
            )
        if deadline > maximum:
            raise DeadlineError(
                f"a deadline may be at most {_span(maximum)} (got {_span(deadline)})"
            )
        return now + deadline
    raise DeadlineError(
        f"a deadline is a timedelta or a date-time with a time zone, not {type(deadline).__name__}"
    )


def clock(value: datetime, *, date: bool = False) -> str:
    """``08:32:11.2 UTC`` (with ``date``: ``2026-11-30 08:32:11.2 UTC``): to the tenth of a
    second, so a deadline and the moment that missed it read apart."""
    value = value.astimezone(UTC)
    text = f"{value:%H:%M:%S}.{value.microsecond // 100_000} UTC"
    return f"{value:%Y-%m-%d} {text}" if date else text
