"""How the authorization entity merges waiting changes and judges what it reads back.

Plain functions of their arguments (no Temporal calls), used by
:mod:`nukiflow.workflows.auth_entity`: which waiting changes are written together, what their
merged desired state is and which of them the auth cannot take (by the rules of
:mod:`nukiflow.contracts.auth_rules`, which the activities share), and whether the auth read back
after a write is what was written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nukiflow.contracts.auth import AuthFields, AuthPatch, ChangeKind
from nukiflow.contracts.auth_rules import apply_patch, check_type_rules
from nukiflow.contracts.entity import PendingChange
from nukiflow.contracts.messages import error_message
from nukiflow.contracts.wire import SmartlockAuth

__all__ = [
    "STILL_THERE",
    "Merge",
    "ReadBack",
    "check_fits",
    "check_type_rules",
    "compare",
    "merge_segment",
    "next_segment",
]


def next_segment(pending: list[PendingChange]) -> int:
    """How many of the waiting changes are written together: up to and including the first
    delete (a delete ends the auth; what comes after it is answered on its own), else all."""
    return 1 + next(
        (i for i, p in enumerate(pending) if p.change.kind is ChangeKind.DELETE),
        len(pending) - 1,
    )


def check_fits(desired: AuthFields, waiting: list[PendingChange], patch: AuthPatch) -> None:
    """Whether ``patch`` still fits once every waiting change is on top of ``desired`` (raises
    ValueError saying why not)."""
    projected = desired
    try:
        for pending in waiting:
            if pending.change.patch is not None:
                projected = pending.change.patch.apply_to(projected)
        patch.apply_to(projected)
    except ValueError as exc:
        raise ValueError(f"the change does not fit the auth: {error_message(exc)}") from None


@dataclass
class Merge:
    """The desired state after a segment's updates, and the changes it could not take."""

    merged: AuthFields
    rejected: list[tuple[PendingChange, str]] = field(default_factory=list)
    # The walk of runs from before type rules were checked while merging stopped at a rejected
    # last change, deciding nothing else (kept so their histories replay).
    stopped: bool = False


def merge_segment(
    base: AuthFields, segment: list[PendingChange], auth_type: int | None, *, check_types: bool
) -> Merge:
    """``base`` with the segment's patches on top, in order; a patch the auth cannot take is
    left out and listed with the reason (answered rejected; nothing of it is written)."""
    merge = Merge(merged=base)
    for pending in segment:
        patch = pending.change.patch
        if patch is None:
            continue
        try:
            merge.merged = apply_patch(merge.merged, auth_type, patch, check_types=check_types)
        except ValueError as exc:
            merge.rejected.append((pending, error_message(exc)))
            if pending is segment[-1] and not check_types:
                merge.stopped = True
                return merge
    return merge


@dataclass
class ReadBack:
    """What a write's read-back shows: the auth as it now is (None: gone) and the names of the
    fields that differ from what was written (names only: values may be secret)."""

    verified: AuthFields | None
    differences: list[str]

    @property
    def landed(self) -> bool:
        return not self.differences


# The one "difference" of a delete that did not land.
STILL_THERE = "(the auth is still there)"


def compare(target: AuthFields | None, read: SmartlockAuth | None) -> ReadBack:
    """``target`` (None: deleted) against the auth read back after the write (None: gone).

    A write whose auth is gone has no fields to compare: ``verified`` is None with no
    differences; the caller tells a delete that landed from an auth that disappeared.
    """
    if read is None:
        return ReadBack(verified=None, differences=[])
    verified = AuthFields.from_wire(read)
    if target is None:
        return ReadBack(verified=verified, differences=[STILL_THERE])
    return ReadBack(verified=verified, differences=target.differences(verified))
