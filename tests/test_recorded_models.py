"""Rolling deploys: a payload a newer worker wrote, with fields this version does not know,
decodes through nukiflow's data converter into the model this version has; what a caller builds
at the edge (the facade's mappings, plan files) still refuses an unknown field.

Every input Temporal records is covered (workflow, update, query, signal and activity inputs,
continue-as-new inputs with their carried memory), plus the packed plan and progress a rollout
carries inside its input, and the results and views callers decode.
"""

from __future__ import annotations

import base64
import json
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from temporalio.api.common.v1 import Payload

from nukiflow.contracts.access import (
    AccessWindow,
    ExtendRequest,
    GrantInput,
    GrantMemory,
    GrantRequest,
    GrantStatus,
    GrantTiming,
    GrantView,
    RevokeRequest,
    WaitRequest,
    pack_grant_memory,
    unpack_grant_memory,
)
from nukiflow.contracts.action import (
    ActionName,
    ActionOutcome,
    ActionRequest,
    ActionStatus,
    LockActionsInput,
    LockActionsMemory,
)
from nukiflow.contracts.auth import (
    AuthChange,
    AuthFields,
    AuthOutcome,
    AuthPatch,
    ChangeKind,
    CreateAuthRequest,
    OutcomeRequest,
    OutcomeStatus,
)
from nukiflow.contracts.auth_io import (
    AwaitAuthInput,
    AwaitAuthResult,
    CreateAuthInput,
    CreateAuthResult,
    ListAuthIdsInput,
    ReadAuthInput,
    ReadAuthResult,
    WriteAuthInput,
)
from nukiflow.contracts.drift import DriftLedgerInput, UnmanagedAuth
from nukiflow.contracts.entity import (
    AuthCreateInput,
    AuthEntityInput,
    AuthEntityResult,
    EntityMemory,
    EntityStatus,
)
from nukiflow.contracts.events import AuthEvent, UnmanagedAuthSighting
from nukiflow.contracts.fleet_io import ApplyItemInput, FindAuthInput, RevokeAuthInput
from nukiflow.contracts.rollout import (
    ControlRequest,
    ItemStatus,
    ProgressQuery,
    RolloutCarry,
    RolloutInput,
    RolloutItem,
    RolloutOp,
    RolloutOptions,
    RolloutPlan,
    RolloutState,
    pack_carry,
    unpack_carry,
    unpack_items,
)
from nukiflow.contracts.timing import PollTiming
from nukiflow.contracts.wire import SmartlockAuth
from nukiflow.fleet.plan import PlanError, parse_plan
from nukiflow.temporal.converter import data_converter
from tests.conftest import CODEC_KEYS

LOCK = 18834485182
AUTH = "5f2a0c8e4b1d9a7c3e6f0b12"
CODE = 535353
NOW = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
UNKNOWN = "added_by_a_newer_worker"

FIELDS = AuthFields(
    name="guest",
    code=CODE,
    allowed_from_date=NOW,
    allowed_until_date=NOW + timedelta(days=1),
    allowed_week_days=31,
)
PATCH = AuthPatch(code=545454, allowed_until_date=NOW + timedelta(days=2))
CHANGE = AuthChange(request_id="r1", patch=PATCH, deadline_at=NOW + timedelta(hours=1))
WIRE = SmartlockAuth(
    id=AUTH, smartlock_id=LOCK, code=CODE, type=13, name="guest", enabled=True, remote_allowed=False
)
OUTCOME = AuthOutcome(
    status=OutcomeStatus.APPLIED,
    request_id="r1",
    smartlock_id=LOCK,
    auth_id=AUTH,
    kind=ChangeKind.UPDATE,
    verified=FIELDS.redacted(),
)
WINDOW = AccessWindow(
    allowed_from_date=NOW, allowed_until_date=NOW + timedelta(days=3), allowed_week_days=31
)
GRANT = GrantRequest(
    request_id="stay-4711", smartlock_id=LOCK, name="cleaner", code=CODE, window=WINDOW
)
GRANT_MEMORY = GrantMemory(
    until=NOW + timedelta(days=5), auth_id=AUTH, status=GrantStatus.ACTIVE, runs=2
)
ITEMS = [
    RolloutItem(op=RolloutOp.CREATE, smartlock_id=LOCK, create=FIELDS),
    RolloutItem(op=RolloutOp.UPDATE, smartlock_id=LOCK, auth_id=AUTH, patch=PATCH),
    RolloutItem(op=RolloutOp.DELETE, smartlock_id=LOCK, auth_id=AUTH),
]
OPTIONS = RolloutOptions(max_in_flight=5, drain_seconds=0)
CARRY = RolloutCarry(
    statuses="arf", reasons={2: "no such auth"}, auth_ids={0: AUTH}, runs=2, started_at=NOW
)
SIGHTING = UnmanagedAuthSighting(
    smartlock_id=LOCK,
    auth_id=AUTH,
    name="app",
    type=0,
    enabled=True,
    deleted=False,
    received_at=NOW,
    digest="ab" * 32,
)

# One sample of every model Temporal records: inputs first, then results and views.
STORED: list[BaseModel] = [
    AuthEntityInput(
        smartlock_id=LOCK,
        auth_id=AUTH,
        memory=EntityMemory(desired=FIELDS, verified=FIELDS, auth_type=13, outcomes=[OUTCOME]),
    ),
    AuthCreateInput(
        request=CreateAuthRequest(
            request_id="c1", smartlock_id=LOCK, name="guest", code=CODE, deadline_at=NOW
        )
    ),
    CHANGE,
    AuthChange(request_id="d1", kind=ChangeKind.DELETE),
    OutcomeRequest(request_id="r1"),
    ReadAuthInput(smartlock_id=LOCK, auth_id=AUTH),
    WriteAuthInput(smartlock_id=LOCK, auth_id=AUTH, desired=FIELDS, not_after=NOW),
    AwaitAuthInput(smartlock_id=LOCK, auth_id=AUTH, timing=PollTiming()),
    ListAuthIdsInput(smartlock_id=LOCK),
    CreateAuthInput(
        smartlock_id=LOCK,
        auth_type=13,
        desired=FIELDS,
        not_after=NOW,
        timing=PollTiming(),
        existing_ids=[AUTH],
    ),
    RolloutInput.of(RolloutPlan(name="spring", items=ITEMS, options=OPTIONS), "spring"),
    ControlRequest(reason="lunch"),
    ProgressQuery(statuses=[ItemStatus.FAILED], ops=[RolloutOp.CREATE]),
    ApplyItemInput(
        request_id="spring:1", item=ITEMS[1], deadline_at=NOW, wait_seconds=60, heartbeat_seconds=30
    ),
    GrantInput(started_with=GRANT, grant_timing=GrantTiming(max_history_events=500)),
    GrantInput(
        started_with=GRANT,
        memory=GrantMemory(
            until=NOW + timedelta(days=4), auth_id=AUTH, status=GrantStatus.ACTIVE, runs=3
        ),
    ),
    GrantInput(started_with=GRANT, carried_memory=pack_grant_memory(GRANT_MEMORY)),
    ExtendRequest(request_id="e1", until=NOW + timedelta(days=4)),
    RevokeRequest(reason="left early"),
    WaitRequest(),
    RevokeAuthInput(
        smartlock_id=LOCK,
        auth_id=AUTH,
        request_prefix="p",
        attempt_seconds=1,
        wait_seconds=1,
        heartbeat_seconds=1,
    ),
    FindAuthInput(smartlock_id=LOCK, name="cleaner", code=CODE, auth_type=13),
    ActionRequest(request_id="a1", action=ActionName.UNLOCK, deadline_at=NOW),
    LockActionsInput(
        smartlock_id=LOCK,
        memory=LockActionsMemory(
            counter=2,
            outcomes=[
                ActionOutcome(
                    status=ActionStatus.CONFIRMED,
                    request_id="a1",
                    smartlock_id=LOCK,
                    action=ActionName.UNLOCK,
                )
            ],
        ),
    ),
    DriftLedgerInput(
        smartlock_id=LOCK, entries=[UnmanagedAuth.first(SIGHTING)], recent_digests=["ab"]
    ),
    SIGHTING,
    AuthEvent(
        smartlock_id=LOCK, auth_id=AUTH, deleted=False, auth=WIRE, received_at=NOW, digest="cd"
    ),
    # Results, update answers and views.
    OUTCOME,
    AuthEntityResult(
        smartlock_id=LOCK, auth_id=AUTH, status=EntityStatus.DELETED, change_counter=3
    ),
    ReadAuthResult(auth=WIRE),
    AwaitAuthResult(auth=WIRE, reads=2),
    CreateAuthResult(auth_id=AUTH, adopted=False, writes=1, reads=3),
    GrantView(
        workflow_id="nuki-access-1-x",
        smartlock_id=LOCK,
        name="cleaner",
        status=GrantStatus.ACTIVE,
        window=WINDOW,
    ),
]


def _with_unknown_fields(value: Any, data: Any) -> Any:
    """``data`` (``value`` as JSON) with an unknown field added to every object that is a
    model, at every depth, as a newer version of that model would write it."""
    if isinstance(value, BaseModel) and isinstance(data, dict):
        for name, field in type(value).model_fields.items():
            for key in (field.alias, name):
                if key is not None and key in data:
                    data[key] = _with_unknown_fields(getattr(value, name), data[key])
                    break
        data[UNKNOWN] = {"nested": [1, "two"], "code": None}
        return data
    if isinstance(value, list | tuple) and isinstance(data, list):
        return [_with_unknown_fields(v, d) for v, d in zip(value, data, strict=True)]
    if isinstance(value, dict) and isinstance(data, dict):
        return {k: _with_unknown_fields(value[_key(value, k)], d) for k, d in data.items()}
    return data


def _key(mapping: dict[Any, Any], text: str) -> Any:
    return next(k for k in mapping if str(k) == text)


def _packed(items: list[Any]) -> bytes:
    return zlib.compress(json.dumps(items).encode())


async def _as_a_newer_worker_wrote_it(value: BaseModel) -> list[Payload]:
    converter = data_converter(CODEC_KEYS)
    (payload,) = converter.payload_converter.to_payloads([value])
    data = _with_unknown_fields(value, json.loads(payload.data))
    if isinstance(value, RolloutInput):
        # The plan and carried progress travel packed inside the input: newer items too.
        items = unpack_items(value.items_packed)
        dumped = [i.model_dump(mode="json", exclude_none=True) for i in items]
        newer = _with_unknown_fields(items, dumped)
        data["items_packed"] = _b64(_packed(newer))
        data["carry"] = _b64(_packed(_with_unknown_fields(CARRY, CARRY.model_dump(mode="json"))))
    payload.data = json.dumps(data).encode()
    assert UNKNOWN.encode() in payload.data
    assert converter.payload_codec is not None
    return await converter.payload_codec.encode([payload])


def _b64(blob: bytes) -> str:
    return base64.b64encode(blob).decode()


@pytest.mark.parametrize("value", STORED, ids=lambda v: type(v).__name__)
async def test_a_payload_written_by_a_newer_worker_decodes(value: BaseModel) -> None:
    encrypted = await _as_a_newer_worker_wrote_it(value)
    (decoded,) = await data_converter(CODEC_KEYS).decode(encrypted, [type(value)])
    if isinstance(value, RolloutInput):
        assert isinstance(decoded, RolloutInput)
        assert unpack_items(decoded.items_packed) == ITEMS
        assert decoded.carry is not None and unpack_carry(decoded.carry) == CARRY
        assert decoded.options == value.options and decoded.count == value.count
        return
    assert decoded == value


def test_every_recorded_input_model_is_sampled() -> None:
    sampled = {type(v) for v in STORED}
    recorded_inputs = {
        AuthEntityInput,
        AuthCreateInput,
        AuthChange,
        OutcomeRequest,
        ReadAuthInput,
        WriteAuthInput,
        AwaitAuthInput,
        ListAuthIdsInput,
        CreateAuthInput,
        RolloutInput,
        ControlRequest,
        ProgressQuery,
        ApplyItemInput,
        GrantInput,
        ExtendRequest,
        RevokeRequest,
        WaitRequest,
        RevokeAuthInput,
        FindAuthInput,
        ActionRequest,
        LockActionsInput,
        DriftLedgerInput,
        UnmanagedAuthSighting,
        AuthEvent,
    }
    assert recorded_inputs <= sampled


async def test_a_grant_input_recorded_before_decodes_with_its_memory() -> None:
    """Inputs from before named the request ``request`` and carried ``memory`` in the open."""
    converter = data_converter(CODEC_KEYS)
    (payload,) = converter.payload_converter.to_payloads(
        [GrantInput(started_with=GRANT, memory=GRANT_MEMORY)]
    )
    data = json.loads(payload.data)
    data["request"] = data.pop("started_with")
    del data["carried_memory"]
    payload.data = json.dumps(data).encode()
    assert converter.payload_codec is not None
    encrypted = await converter.payload_codec.encode([payload])
    (decoded,) = await converter.decode(encrypted, [GrantInput])
    assert decoded.request == GRANT and decoded.remembered() == GRANT_MEMORY


def test_the_carried_grant_memory_of_a_newer_worker_unpacks() -> None:
    dumped = GRANT_MEMORY.model_dump(mode="json")
    newer = _with_unknown_fields(GRANT_MEMORY, dumped)
    blob = zlib.compress(json.dumps(newer).encode())
    assert unpack_grant_memory(blob) == GRANT_MEMORY
    with pytest.raises(ValueError, match="not zlib-compressed"):
        unpack_grant_memory(b"{}")


def test_the_carried_rollout_progress_of_a_newer_worker_unpacks() -> None:
    newer = _with_unknown_fields(CARRY, CARRY.model_dump(mode="json"))
    assert unpack_carry(_packed(newer)) == CARRY
    assert unpack_carry(pack_carry(CARRY)).state is RolloutState.RUNNING


# -- the edge stays strict ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (AuthPatch, {"code": CODE}),
        (AuthFields, {"name": "guest", "code": CODE}),
        (AuthChange, {"request_id": "r", "patch": {"name": "x"}}),
        (
            CreateAuthRequest,
            {"request_id": "r", "smartlock_id": LOCK, "name": "guest", "code": CODE},
        ),
        (AccessWindow, {"allowed_from_date": NOW, "allowed_until_date": NOW + timedelta(1)}),
        (GrantRequest, GRANT.model_dump()),
        (RolloutItem, {"op": "delete", "smartlock_id": LOCK, "auth_id": AUTH}),
        (RolloutOptions, {"max_in_flight": 3}),
        (RolloutPlan, {"items": [{"op": "delete", "smartlock_id": LOCK, "auth_id": AUTH}]}),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else "",
)
def test_a_caller_building_a_model_gets_an_unknown_field_refused(
    model: type[BaseModel], values: dict[str, Any]
) -> None:
    assert model.model_validate(values) is not None
    with pytest.raises(ValidationError, match=r"(?s)alowed_until_date.*Extra inputs") as refused:
        model.model_validate({**values, "alowed_until_date": "2030-01-01T00:00:00Z"})
    # Never the values (a keypad code among them).
    assert str(CODE) not in str(refused.value)


def test_a_nested_unknown_field_is_refused_at_the_edge() -> None:
    with pytest.raises(ValidationError, match="colour: Extra inputs"):
        AuthChange.model_validate({"request_id": "r", "patch": {"name": "x", "colour": "red"}})


def test_a_plan_file_with_an_unknown_field_is_refused() -> None:
    item = {"op": "update", "smartlock_id": LOCK, "auth_id": AUTH, "nmae": "guest"}
    with pytest.raises(PlanError, match="nmae: Extra inputs"):
        parse_plan({"items": [item]})
