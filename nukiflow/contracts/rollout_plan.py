"""A rollout's plan: the items (creates, updates and deletes of auths across many locks), the
options it runs with, its id, and the packing that carries thousands of items in one payload.

Every item goes through its auth's entity workflow (creates through the create workflow), with
the request id ``<rollout id>:<item index>``: a retried or resumed item attaches to the change
it already started instead of making a second one.

Plans of thousands of items travel packed (zlib-compressed JSON, inside the encrypted payload):
20,000 items pack into about 230 KB instead of 5.5 MB of plain JSON, below Temporal's 2 MB
payload limit, and every continue-as-new carries the same packed bytes again.

Items and options are recorded (inside the rollout's input): decoded from history they ignore
fields they do not know; built by a caller (a plan file, the facade) they refuse them
(:mod:`nukiflow.contracts.recorded`). The plan itself is never recorded and stays strict.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from enum import StrEnum
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from nukiflow.contracts.accounts import AccountName
from nukiflow.contracts.auth import (
    REDACTED_CODE,
    AuthFields,
    AuthPatch,
    CreateAuthRequest,
)
from nukiflow.contracts.recorded import RecordedModel
from nukiflow.contracts.validation import (
    MAX_DURATION,
    STORED,
    AuthId,
    InputError,
    Label,
    SmartlockId,
    check_seconds,
    is_stored,
)

ROLLOUT_ID_PREFIX = "nuki-rollout-"
# Plans up to this size keep every payload (packed plan, carried progress, final report) well
# below Temporal's 2 MB payload limit.
MAX_PLAN_ITEMS = 20_000


class RolloutOp(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class RolloutItem(RecordedModel):
    """One desired change: create an auth on a lock, or update/delete an existing auth."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    op: RolloutOp
    smartlock_id: SmartlockId = Field(gt=0)
    # The auth to update or delete (Nuki's 24-hex ``id``); none for a create.
    auth_id: AuthId | None = Field(default=None, min_length=1, max_length=64)
    # The full new auth of a create, and its type (default: keypad code if it has a code).
    create: AuthFields | None = None
    auth_type: int | None = None
    # The fields an update changes.
    patch: AuthPatch | None = None
    # The Nuki account of the lock, by name; None: resolved by the worker, or the default.
    account: AccountName | None = None

    @model_validator(mode="after")
    def _shape(self, info: ValidationInfo) -> Self:
        if self.op is RolloutOp.CREATE:
            if self.create is None:
                raise ValueError("a create needs the new auth's fields (at least a name)")
            if self.auth_id is not None or self.patch is not None:
                raise ValueError("a create takes no auth_id and no patch")
            # The create workflow's own rules (keypad name length, type, code needs type 13);
            # a stored plan is rebuilt under the rules it was accepted with.
            try:
                CreateAuthRequest.model_validate(
                    {
                        "request_id": "plan",
                        "smartlock_id": self.smartlock_id,
                        "auth_type": self.auth_type,
                        **self.create.model_dump(),
                    },
                    context={STORED: is_stored(info)},
                )
            except ValidationError as exc:
                # Re-raised without the input values: they hold the code.
                raise ValueError(
                    "; ".join(
                        str(e["msg"]).removeprefix("Value error, ")
                        for e in exc.errors(include_input=False, include_url=False)
                    )
                ) from None
            return self
        if self.auth_id is None:
            raise ValueError(f"an {self.op.value} needs the auth_id of the auth it changes")
        if self.create is not None or self.auth_type is not None:
            raise ValueError(f"an {self.op.value} takes no create fields or auth_type")
        if self.op is RolloutOp.UPDATE and (self.patch is None or self.patch.is_empty()):
            raise ValueError("an update must change at least one field")
        if self.op is RolloutOp.DELETE and self.patch is not None:
            raise ValueError("a delete carries no fields")
        return self

    @property
    def auth_key(self) -> str | None:
        """The auth this item changes (None for a create): items on one auth never overlap."""
        return None if self.auth_id is None else f"{self.smartlock_id}/{self.auth_id}"

    def label(self) -> str:
        """A short description safe to show anywhere (never the code)."""
        if self.op is RolloutOp.CREATE:
            assert self.create is not None
            return f"create {self.create.name!r} on smartlock {self.smartlock_id}"
        return f"{self.op.value} auth {self.auth_id} on smartlock {self.smartlock_id}"

    def redacted_dump(self) -> dict[str, Any]:
        """The item as JSON data with its keypad code replaced (for ids and digests)."""
        data = self.model_dump(mode="json", exclude_none=True)
        for part in ("create", "patch"):
            if isinstance(data.get(part), dict) and data[part].get("code") is not None:
                data[part]["code"] = REDACTED_CODE
        return data


class FailurePolicy(StrEnum):
    CONTINUE = "continue"  # keep going and report every failure at the end (default)
    STOP = "stop"  # stop starting items at the first failure


class RolloutOptions(RecordedModel):
    """How a rollout runs. The defaults suit the real Nuki cloud; tests shorten the timings."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    # Items in flight at once, over all locks. Each holds a worker activity slot while it
    # waits (at most item_wait_seconds at a time): keep it well below the workers' slots.
    max_in_flight: int = Field(default=20, ge=1, le=1000)
    # Items in flight at once on one lock: its device applies one operation at a time, so
    # more than one in flight only queues on the device (or earns 423s).
    per_lock: int = Field(default=1, ge=1, le=20)
    on_failure: FailurePolicy = FailurePolicy.CONTINUE
    # How long one item may take before it is given up (the change's deadline).
    item_deadline_seconds: float = Field(default=24 * 3600, gt=0, le=30 * 24 * 3600)
    # Heartbeat timeout of an item's activity: how fast a dead worker is noticed.
    heartbeat_seconds: float = Field(default=30.0, ge=1, le=600)
    # An item's activity waits this long for its change's outcome, then frees its worker
    # slot (the auth workflows' activities need slots too) and asks again after a back-off
    # from poll_initial to poll_max seconds; asking again attaches to the same change.
    item_wait_seconds: float = Field(default=60.0, gt=0)
    item_poll_initial_seconds: float = Field(default=5.0, gt=0)
    item_poll_max_seconds: float = Field(default=120.0, gt=0)
    # Continue-as-new after this many items finished in one run (or when Temporal suggests it
    # or the history reaches max_history_events), carrying the progress.
    max_items_per_run: int = Field(default=500, ge=1)
    max_history_events: int = Field(default=10_000, ge=200)
    # Before continuing-as-new, cancelling or stopping: how long to wait for the items in
    # flight. Items still in flight after that are re-sent in the next run (they attach to the
    # change they started) or, when cancelling, reported as abandoned.
    drain_seconds: float = Field(default=60.0, ge=0)

    @model_validator(mode="after")
    def _finite_durations(self, info: ValidationInfo) -> Self:
        """Every timing a person sets is finite and at most 30 days (a stored one as it was)."""
        if is_stored(info):
            return self
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name.endswith("_seconds") and not (name == "drain_seconds" and value == 0):
                check_seconds(value, what=name, maximum=MAX_DURATION)
        return self


class RolloutPlan(BaseModel):
    """What to roll out: items plus options (from a file: :mod:`nukiflow.fleet.plan`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Label | None = Field(default=None, min_length=1, max_length=200)
    items: list[RolloutItem] = Field(min_length=1, max_length=MAX_PLAN_ITEMS)
    options: RolloutOptions = Field(default_factory=RolloutOptions)

    @model_validator(mode="after")
    def _no_duplicate_codes(self) -> Self:
        """Two creates of one keypad code on one lock: the second can only get 409."""
        seen: dict[tuple[int, int], int] = {}
        for index, item in enumerate(self.items):
            if item.create is None or item.create.code is None:
                continue
            key = (item.smartlock_id, item.create.code)
            if key in seen:
                raise ValueError(
                    f"items {seen[key]} and {index} create the same keypad code on smartlock "
                    f"{item.smartlock_id}; a code exists at most once per lock"
                )
            seen[key] = index
        return self

    def digest(self, *, with_codes: bool = True) -> str:
        """SHA-256 of the plan's content (items and options, in order).

        ``with_codes=False`` replaces keypad codes by ``******``: that digest names the
        rollout's workflow id, which Temporal stores in plain text, and a hash of a six-digit
        code would be trivial to reverse. The full digest is kept encrypted (memo) to tell two
        plans apart that differ only in codes.
        """
        if with_codes:
            items: list[Any] = [i.model_dump(mode="json", exclude_none=True) for i in self.items]
        else:
            items = [i.redacted_dump() for i in self.items]
        content = {
            "name": self.name,
            "items": items,
            "options": self.options.model_dump(mode="json"),
        }
        text = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def workflow_id(self, rollout_id: str | None = None) -> str:
        return rollout_workflow_id(rollout_id or self.digest(with_codes=False)[:20])


def describe_plan(name: str | None, items: list[RolloutItem]) -> str:
    """A plan in words, never a code: ``spring-codes: 20 items (12 updates, 5 creates, 3
    deletes) on 7 locks``."""
    per_op = {op: sum(1 for item in items if item.op is op) for op in RolloutOp}
    ops = ", ".join(f"{n} {op.value}s" for op, n in per_op.items() if n)
    locks = len({item.smartlock_id for item in items})
    what = f"{len(items)} items ({ops}) on {locks} lock{'s' if locks != 1 else ''}"
    return f"{name}: {what}" if name else what


def rollout_workflow_id(rollout_id: str) -> str:
    """``nuki-rollout-<id>``; an id that already carries the prefix is kept as it is."""
    if rollout_id.startswith(ROLLOUT_ID_PREFIX):
        return rollout_id
    return ROLLOUT_ID_PREFIX + rollout_id


_ROLLOUT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_rollout_id(rollout_id: object) -> str:
    """A rollout's id (``nuki-rollout-...`` or the part after it) as its workflow id, or
    :class:`~nukiflow.contracts.validation.InputError`."""
    if not isinstance(rollout_id, str) or not _ROLLOUT_ID.fullmatch(
        rollout_id.removeprefix(ROLLOUT_ID_PREFIX)
    ):
        raise InputError(
            "a rollout id is 1-100 letters, digits, '.', '_' or '-', starting with a letter or "
            "digit (`nukiflow rollout apply` prints it)"
        )
    return rollout_workflow_id(rollout_id)


def item_request_id(rollout_id: str, index: int) -> str:
    """The request id of item ``index``: the same on every retry, resume and re-submission."""
    return f"{rollout_id}:{index}"


# -- packing (compact payloads for plans of thousands of items) --------------------------------

_ITEMS = TypeAdapter(list[RolloutItem])


def pack_items(items: list[RolloutItem]) -> bytes:
    return zlib.compress(_ITEMS.dump_json(items, exclude_none=True, exclude_defaults=True), 6)


def unpack_items(blob: bytes) -> list[RolloutItem]:
    """The items of a packed plan, as they were accepted (stored rules; ValueError if the bytes
    are no packed plan)."""
    return _ITEMS.validate_json(_decompress(blob, "plan"))


def _decompress(blob: bytes, what: str) -> bytes:
    try:
        return zlib.decompress(blob)
    except zlib.error:
        raise ValueError(f"the packed {what} is not zlib-compressed JSON") from None
