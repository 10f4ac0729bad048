"""How the authorization entity judges what a ``DEVICE_AUTHS`` webhook says about its auth.

Plain functions of their arguments (no Temporal calls), used by
:mod:`nukiflow.workflows.auth_entity`. An event is a hint, not a verdict: deliveries may come
twice (same digest), late or out of order (an ``updateDate`` not newer than the newest state
the entity has taken), or while Nuki still applies an operation (``operationId``); none of
those is judged. What is left is compared with the verified state, field names only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from nukiflow.contracts.auth import AuthFields
from nukiflow.contracts.events import AuthEvent

# The "field" of an auth deleted on the lock while nukiflow manages it.
DELETED_FIELD = "deleted"
# Delivery digests remembered for deduplication.
REMEMBERED_DIGESTS = 100


@dataclass(frozen=True)
class EventJudgement:
    """``taken``: the event is newer than anything the entity knew (its date moves on);
    ``differences``: the field names in which the lock differs from the verified state;
    ``reported``: the lock's state (None if the auth was deleted)."""

    taken: bool
    differences: list[str]
    reported: AuthFields | None
    ignored_because: str | None = None


def judge_event(
    event: AuthEvent,
    verified: AuthFields | None,
    lock_date: datetime | None,
    recent_digests: list[str],
) -> EventJudgement:
    """Whether ``event`` is news, and how the lock differs from ``verified`` if it is."""

    def ignore(why: str) -> EventJudgement:
        return EventJudgement(taken=False, differences=[], reported=None, ignored_because=why)

    if event.digest in recent_digests:
        return ignore("a delivery taken before")
    if event.auth.operation_id is not None and not event.deleted:
        return ignore("an operation is still pending on the lock")
    date = event.auth.update_date
    if date is not None and lock_date is not None and date <= lock_date:
        return ignore("older than the state already known")
    if verified is None:
        return ignore("no verified state to compare with")
    if event.deleted:
        return EventJudgement(taken=True, differences=[DELETED_FIELD], reported=None)
    reported = AuthFields.from_wire(event.auth)
    return EventJudgement(taken=True, differences=verified.differences(reported), reported=reported)


def newer(a: datetime | None, b: datetime | None) -> datetime | None:
    """The later of two dates (None is unknown)."""
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def remember(digests: list[str], digest: str) -> list[str]:
    return [*digests, digest][-REMEMBERED_DIGESTS:]
