"""Fleet rollouts: the rollout workflow's input and what it carries across continue-as-new, and
the one place callers import every rollout model from.

The plan (items, options, ids, item packing) lives in :mod:`nukiflow.contracts.rollout_plan`,
progress and report in :mod:`nukiflow.contracts.rollout_progress`; both are re-exported here.

Progress is carried across continue-as-new as one letter per item plus the reasons of the items
that did not end applied (20,000 failed items with long reasons: about 160 KB packed).
"""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from nukiflow.contracts.fleet_io import ApplyItemInput
from nukiflow.contracts.rollout_plan import (
    MAX_PLAN_ITEMS,
    ROLLOUT_ID_PREFIX,
    FailurePolicy,
    RolloutItem,
    RolloutOp,
    RolloutOptions,
    RolloutPlan,
    check_rollout_id,
    describe_plan,
    item_request_id,
    pack_items,
    rollout_workflow_id,
    unpack_items,
)
from nukiflow.contracts.rollout_progress import (
    MAX_PAGE_ITEMS,
    MAX_REPORTED_CREATES,
    MAX_REPORTED_ITEMS,
    ControlRequest,
    ItemReport,
    ItemStatus,
    ProgressQuery,
    RolloutProgress,
    RolloutReport,
    RolloutState,
    RolloutTotals,
    outcome_reason,
    status_of_letter,
)

__all__ = [
    "MAX_PAGE_ITEMS",
    "MAX_PLAN_ITEMS",
    "MAX_REPORTED_CREATES",
    "MAX_REPORTED_ITEMS",
    "ROLLOUT_ID_PREFIX",
    "ROLLOUT_INPUT_INVALID",
    "ApplyItemInput",
    "ControlRequest",
    "FailurePolicy",
    "ItemReport",
    "ItemStatus",
    "ProgressQuery",
    "ReportLimits",
    "RolloutCarry",
    "RolloutInput",
    "RolloutItem",
    "RolloutOp",
    "RolloutOptions",
    "RolloutPlan",
    "RolloutProgress",
    "RolloutReport",
    "RolloutState",
    "RolloutTotals",
    "check_rollout_id",
    "describe_plan",
    "item_request_id",
    "outcome_reason",
    "pack_carry",
    "pack_items",
    "rollout_workflow_id",
    "status_of_letter",
    "unpack_carry",
    "unpack_items",
]


class RolloutCarry(BaseModel):
    """What one run hands to the next across continue-as-new (packed)."""

    statuses: str
    reasons: dict[int, str] = Field(default_factory=dict)
    auth_ids: dict[int, str] = Field(default_factory=dict)
    state: RolloutState = RolloutState.RUNNING
    runs: int = 1
    started_at: datetime
    stop_reason: str | None = None


_CARRY = TypeAdapter(RolloutCarry)


def pack_carry(carry: RolloutCarry) -> bytes:
    return zlib.compress(_CARRY.dump_json(carry), 6)


def unpack_carry(blob: bytes) -> RolloutCarry:
    try:
        raw = zlib.decompress(blob)
    except zlib.error:
        raise ValueError("the carried progress is not zlib-compressed JSON") from None
    return _CARRY.validate_json(raw)


class ReportLimits(BaseModel):
    """How much of its lists the final report (the workflow's result) carries itself.

    Not part of the plan (nor of its digest): it shapes only the result's size. Whatever the
    result leaves out stays readable through the progress query, which a closed rollout still
    answers while Temporal retains its history.
    """

    model_config = ConfigDict(frozen=True)

    items: int = Field(default=MAX_REPORTED_ITEMS, ge=0, le=MAX_REPORTED_ITEMS)
    creates: int = Field(default=MAX_REPORTED_CREATES, ge=0, le=MAX_REPORTED_CREATES)


# The type of the failure of a rollout whose input holds no plan it can run (a payload built by
# hand, or damaged): the workflow fails at once, naming what is wrong.
ROLLOUT_INPUT_INVALID: Final = "RolloutInputInvalid"


class RolloutInput(BaseModel):
    """Input of the rollout workflow (first run and every continue-as-new)."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    rollout_id: str
    name: str | None = None
    # The plan in words (name, counts per operation, locks), for people reading the input in
    # the Temporal UI; ``items_packed`` is what runs. Absent from older inputs.
    plan: str | None = None
    count: int = Field(gt=0)
    items_packed: bytes
    options: RolloutOptions = Field(default_factory=RolloutOptions)
    carry: bytes | None = None
    # Absent from the inputs of rollouts started before it existed: the defaults apply.
    report_limits: ReportLimits = Field(default_factory=ReportLimits)

    @classmethod
    def of(
        cls, plan: RolloutPlan, rollout_id: str, *, report_limits: ReportLimits | None = None
    ) -> RolloutInput:
        return cls(
            rollout_id=rollout_id,
            name=plan.name,
            count=len(plan.items),
            items_packed=pack_items(plan.items),
            options=plan.options,
            report_limits=report_limits or ReportLimits(),
            plan=describe_plan(plan.name, plan.items),
        )
