"""Rollout plans from YAML and JSON: the file format, expansion, local times, clear errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nukiflow.contracts.auth import AuthFields, AuthPatch
from nukiflow.contracts.rollout import (
    FailurePolicy,
    RolloutInput,
    RolloutItem,
    RolloutOp,
    RolloutPlan,
    pack_items,
    unpack_items,
)
from nukiflow.fleet.plan import PlanError, load_plan, parse_plan

PLAN_YAML = """\
name: spring codes
tz: Europe/Berlin
options:
  max_in_flight: 10
  on_failure: stop
  item_deadline: 2h
  drain: 30s
defaults:
  remote_allowed: false
items:
  - op: create
    smartlock_ids: [17, 18]
    name: cleaner
    code: 555123
    from: 2026-03-28T10:00
    until: 2026-03-30T10:00
    weekdays: mon-fri
    times: 08:00-12:00
  - op: update
    smartlock_id: 17
    auth_id: "5f2a0c8e4b1d9a7c3e6f0b12"
    enabled: false
    clear: [allowed_week_days]
  - op: update
    smartlock_id: 17
    auth_id: "000000000000000000000042"
    until: 2026-10-25T01:00
  - op: delete
    smartlock_id: 18
    auth_id: "5f2a0c8e4b1d9a7c3e6f0b13"
"""


def test_yaml_plan(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN_YAML)
    plan = load_plan(path)
    assert plan.name == "spring codes"
    assert plan.options.max_in_flight == 10
    assert plan.options.on_failure is FailurePolicy.STOP
    assert plan.options.item_deadline_seconds == 7200
    assert plan.options.drain_seconds == 30
    ops = [(i.op, i.smartlock_id) for i in plan.items]
    assert ops == [
        (RolloutOp.CREATE, 17),
        (RolloutOp.CREATE, 18),
        (RolloutOp.UPDATE, 17),
        (RolloutOp.UPDATE, 17),
        (RolloutOp.DELETE, 18),
    ]
    create = plan.items[0].create
    assert create is not None and create.code == 555123 and create.remote_allowed is False
    # Local times in Berlin, across the spring DST change.
    assert create.allowed_from_date == datetime(2026, 3, 28, 9, tzinfo=UTC)
    assert create.allowed_until_date == datetime(2026, 3, 30, 8, tzinfo=UTC)
    assert create.allowed_week_days == 124
    assert (create.allowed_from_time, create.allowed_until_time) == (480, 720)
    update = plan.items[2].patch
    assert update is not None and update.enabled is False
    assert update.clear == frozenset({"allowed_week_days"})
    assert plan.items[3].auth_id == "000000000000000000000042"
    assert plan.items[3].patch is not None
    assert plan.items[3].patch.allowed_until_date == datetime(2026, 10, 24, 23, tzinfo=UTC)
    assert plan.items[4].patch is None and plan.items[4].create is None


def test_json_plan_as_a_bare_list(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(
        json.dumps(
            [
                {"op": "create", "smartlock_id": 5, "name": "fob", "type": "fob"},
                {"op": "update", "smartlock_id": 5, "auth_id": "a" * 24, "name": "x"},
            ]
        )
    )
    plan = load_plan(path)
    assert plan.items[0].auth_type == 2 and plan.items[0].create is not None
    assert plan.items[0].create.code is None
    assert plan.name is None and plan.options.max_in_flight == 20


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"op": "upsert", "smartlock_id": 1}, "op must be create, update or delete"),
        ({"op": "create", "name": "x"}, "smartlock_id is missing"),
        ({"op": "create", "smartlock_id": 1, "name": "x", "code": 555505}, "1-9"),
        ({"op": "create", "smartlock_id": 1, "name": "x" * 21, "code": 555555}, "at most 20"),
        ({"op": "create", "smartlock_id": 1, "code": 555555}, "name"),
        ({"op": "create", "smartlock_id": 1, "name": "x", "colour": "red"}, "Extra inputs"),
        ({"op": "update", "smartlock_id": 1, "name": "x"}, "needs the auth_id"),
        ({"op": "update", "smartlock_id": 1, "auth_id": "a" * 24}, "at least one field"),
        (
            {"op": "delete", "smartlock_id": 1, "auth_id": "a" * 24, "name": "x"},
            "carries no fields",
        ),
        ({"op": "create", "smartlock_ids": [], "name": "x"}, "non-empty list"),
        ({"op": "create", "smartlock_id": "front", "name": "x"}, "not a number"),
        (
            {"op": "create", "smartlock_id": 1, "name": "x", "from": "2026-03-29T02:30"},
            "does not exist",
        ),
        ({"op": "create", "smartlock_id": 1, "name": "x", "from": "2026-03-29T10:00"}, "no time"),
        ({"op": "create", "smartlock_id": 1, "name": "x", "type": "car"}, "unknown auth type"),
    ],
)
def test_item_errors_name_the_item_and_never_the_code(
    item: dict[str, object], message: str
) -> None:
    data = (
        {"tz": "Europe/Berlin", "items": [item]}
        if "from" in item and "02:30" in str(item["from"])
        else {"items": [item]}
    )
    with pytest.raises(PlanError, match="has 1 problem") as error:
        parse_plan(data)
    text = str(error.value)
    assert "items[0]" in text and message in text
    if "code" in item:
        assert str(item["code"]) not in text


def test_an_unquoted_numeric_auth_id_is_refused() -> None:
    # YAML reads 000000000000000000000042 as the octal number 34: the id is lost.
    with pytest.raises(PlanError, match="quote it in YAML"):
        parse_plan({"items": [{"op": "delete", "smartlock_id": 1, "auth_id": 34}]})


def test_every_problem_is_listed() -> None:
    items = [{"op": "delete", "smartlock_id": 1}] * 3 + [{"op": "create", "smartlock_id": 2}]
    with pytest.raises(PlanError, match="has 4 problem") as error:
        parse_plan({"items": items})
    assert "items[3] (smartlock 2)" in str(error.value)


def test_plan_level_errors(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="no items"):
        parse_plan({"items": []})
    with pytest.raises(PlanError, match="unknown key"):
        parse_plan({"itmes": [{"op": "delete"}]})
    with pytest.raises(PlanError, match="options"):
        parse_plan(
            {
                "items": [{"op": "delete", "smartlock_id": 1, "auth_id": "a"}],
                "options": {"per_lock": 0},
            }
        )
    with pytest.raises(PlanError, match="same keypad code on smartlock 3"):
        parse_plan(
            [
                {"op": "create", "smartlock_id": 3, "name": "a", "code": 555555},
                {"op": "create", "smartlock_id": 3, "name": "b", "code": 555555},
            ]
        )
    broken = tmp_path / "broken.yaml"
    broken.write_text("items: [\n")
    with pytest.raises(PlanError, match="not valid YAML"):
        load_plan(broken)
    with pytest.raises(PlanError, match="cannot read"):
        load_plan(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(90, 90), ("90s", 90), ("15m", 900), ("1.5h", 5400), ("1h30m", 5400), ("1d", 86400)],
)
def test_durations(value: str | int, seconds: float) -> None:
    plan = parse_plan({"options": {"item_deadline": value}, "items": [_DELETE]})
    assert plan.options.item_deadline_seconds == seconds


def test_bad_durations_name_the_option() -> None:
    with pytest.raises(PlanError, match="options: 'soon' is not a duration"):
        parse_plan({"options": {"item_deadline": "soon"}, "items": [_DELETE]})


_DELETE = {"op": "delete", "smartlock_id": 1, "auth_id": "a" * 24}


def _create(code: int, lock: int = 1) -> RolloutItem:
    return RolloutItem(
        op=RolloutOp.CREATE, smartlock_id=lock, create=AuthFields(name="guest", code=code)
    )


def test_ids_leave_codes_out_and_digests_do_not() -> None:
    one = RolloutPlan(items=[_create(555551)])
    other = RolloutPlan(items=[_create(555552)])
    assert one.workflow_id() == other.workflow_id()
    assert one.workflow_id().startswith("nuki-rollout-")
    assert one.digest() != other.digest()
    assert one.digest() == RolloutPlan(items=[_create(555551)]).digest()
    assert RolloutPlan(name="x", items=[_create(555551)]).workflow_id() != one.workflow_id()
    assert one.workflow_id("mine") == "nuki-rollout-mine"
    assert one.workflow_id("nuki-rollout-mine") == "nuki-rollout-mine"


def test_thousands_of_items_pack_small() -> None:
    items = [
        RolloutItem(
            op=RolloutOp.UPDATE,
            smartlock_id=1000 + i % 100,
            auth_id=f"{i:024x}",
            patch=AuthPatch(name=f"guest {i}", enabled=bool(i % 2)),
        )
        for i in range(5000)
    ]
    packed = pack_items(items)
    assert unpack_items(packed) == items
    plan = RolloutPlan(items=items)
    payload = RolloutInput.of(plan, plan.workflow_id()).model_dump_json()
    assert len(payload) < 200_000, "far below Temporal's 2 MB payload limit"
    assert RolloutInput.model_validate_json(payload).items_packed == packed
