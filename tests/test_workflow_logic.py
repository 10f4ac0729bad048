"""The workflows' plain logic, without Temporal: which rollout items start next, how the entity
merges waiting changes, and how it judges what it reads back after a write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nukiflow.contracts.auth import AuthChange, AuthFields, AuthPatch, ChangeKind
from nukiflow.contracts.entity import PendingChange
from nukiflow.contracts.rollout import RolloutItem, RolloutOp
from nukiflow.contracts.wire import AuthType, SmartlockAuth
from nukiflow.workflows.auth_merge import (
    STILL_THERE,
    check_fits,
    compare,
    merge_segment,
    next_segment,
)
from nukiflow.workflows.rollout_schedule import Scheduler

NOW = datetime(2030, 1, 1, tzinfo=UTC)
A1, A2 = "a" * 24, "b" * 24


def _update(lock: int, auth_id: str) -> RolloutItem:
    return RolloutItem(
        op=RolloutOp.UPDATE, smartlock_id=lock, auth_id=auth_id, patch=AuthPatch(enabled=False)
    )


def _create(lock: int, name: str) -> RolloutItem:
    return RolloutItem(op=RolloutOp.CREATE, smartlock_id=lock, create=AuthFields(name=name))


def test_the_busiest_lock_goes_first_and_each_lock_takes_one_at_a_time() -> None:
    items = [_create(1, "x"), _create(2, "y"), _create(2, "z"), _create(3, "w")]
    scheduler = Scheduler(items, range(len(items)), per_lock=1)
    # Lock 2 has the most items left; then the others in plan order.
    assert scheduler.next_items(2) == [1, 0]
    assert scheduler.next_items(5) == [3]
    scheduler.release(1)
    assert scheduler.next_items(5) == [2]
    assert scheduler.next_items(5) == []


def test_items_of_one_auth_never_overlap_and_keep_plan_order() -> None:
    items = [_update(1, A1), _update(1, A1), _update(1, A2)]
    scheduler = Scheduler(items, range(len(items)), per_lock=3)
    # The second change of A1 waits for the first; A2's goes ahead of it.
    assert scheduler.next_items(10) == [0, 2]
    scheduler.release(0)
    assert scheduler.next_items(10) == [1]


def test_nothing_starts_once_cleared() -> None:
    scheduler = Scheduler([_create(1, "x")], [0], per_lock=1)
    scheduler.clear()
    assert scheduler.next_items(1) == []


def _pending(
    number: int, patch: AuthPatch | None, kind: ChangeKind = ChangeKind.UPDATE
) -> PendingChange:
    change = AuthChange(request_id=f"r{number}", kind=kind, patch=patch)
    return PendingChange(number=number, change=change, accepted_at=NOW)


def test_a_segment_ends_at_the_first_delete() -> None:
    waiting = [
        _pending(1, AuthPatch(name="a")),
        _pending(2, None, ChangeKind.DELETE),
        _pending(3, AuthPatch(name="b")),
    ]
    assert next_segment(waiting) == 2
    assert next_segment(waiting[2:]) == 1


def test_merging_leaves_out_what_the_auth_cannot_take_and_keeps_the_rest() -> None:
    base = AuthFields(name="guest")
    segment = [
        _pending(1, AuthPatch(name="first")),
        _pending(2, AuthPatch(code=545454)),  # an app auth carries no code
        _pending(3, AuthPatch(enabled=False)),
    ]
    merge = merge_segment(base, segment, AuthType.APP, check_types=True)
    assert merge.merged == AuthFields(name="first", enabled=False)
    assert [(p.number, reason) for p, reason in merge.rejected] == [
        (2, "only keypad code auths (type 13) carry a code")
    ]
    assert not merge.stopped


def test_a_change_that_no_longer_fits_behind_the_waiting_ones_is_refused() -> None:
    base = AuthFields(name="guest", code=545454, allowed_from_time=600, allowed_until_time=700)
    waiting = [_pending(1, AuthPatch(allowed_from_time=650))]
    with pytest.raises(ValueError, match=r"does not fit the auth: .*before allowed_until_time"):
        check_fits(base, waiting, AuthPatch(allowed_until_time=640))
    check_fits(base, waiting, AuthPatch(allowed_until_time=660))


def _wire(**fields: object) -> SmartlockAuth:
    values: dict[str, object] = {
        "id": A1,
        "smartlock_id": 1,
        "type": 13,
        "name": "guest",
        "code": 545454,
        "enabled": True,
        "remote_allowed": False,
    }
    return SmartlockAuth.model_validate({**values, **fields})


def test_a_read_back_names_the_fields_that_differ_never_their_values() -> None:
    target = AuthFields(name="guest", code=565656)
    back = compare(target, _wire())
    assert back.differences == ["code"] and not back.landed
    assert compare(target, _wire(code=565656)).landed
    # A delete: the auth still there is the one difference; gone is landed.
    assert compare(None, _wire()).differences == [STILL_THERE]
    assert compare(None, None).landed and compare(None, None).verified is None
