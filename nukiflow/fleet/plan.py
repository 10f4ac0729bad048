"""Rollout plans from YAML or JSON files (``nukiflow rollout apply PLAN``).

A plan file::

    name: spring codes            # optional; part of the rollout's identity
    tz: Europe/Berlin             # zone of local date-times below (optional)
    options:                      # optional, see RolloutOptions
      max_in_flight: 20
      per_lock: 1
      on_failure: continue        # or: stop
      item_deadline: 2h           # durations: 90, 90s, 15m, 2h, 1h30m, 1d
    defaults:                     # fields of every create (the item's own keys win)
      remote_allowed: false
    items:
      - op: create
        smartlock_ids: [17, 18]   # one item per lock (or smartlock_id: 17)
        name: cleaner
        code: 555123
        from: 2026-04-01T08:00    # local in tz; or allowed_from_date with an offset
        until: 2026-04-30T18:00
        weekdays: mon-fri         # or sat-mon, weekend, [mon, wed]
        times: 08:00-12:00        # daily, the lock's local time
      - op: update
        smartlock_id: 17
        auth_id: "5f2a0c8e4b1d9a7c3e6f0b12"   # quote ids: YAML reads digit-only ids as numbers
        enabled: false
        clear: [allowed_week_days]
      - op: delete
        smartlock_id: 18
        auth_id: "5f2a0c8e4b1d9a7c3e6f0b13"

A JSON file has the same shape (or is just the list of items). Item fields are those of an auth
(``name``, ``code``, ``enabled``, ``remote_allowed``, ``account_user_id``, the ``allowed_*``
fields) plus ``type`` (``keypad_code``, ``app``, ``fob`` or Nuki's number) for creates and
``clear`` for updates. Errors name the item and the field, never a code's value.

Dates, durations, weekdays and daily times follow the same rules as on the command line and
in the Python API (:mod:`nukiflow.times`), with one difference: dates are absolute (ISO 8601),
never ``now`` or ``+2h``, so that a plan means the same whenever it is applied (applying it
again attaches to its rollout). A plan file is untrusted input: see
:mod:`nukiflow.fleet.plan_files` for the bounds it is read within; errors list at most 20
problems.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from nukiflow.contracts.auth import AuthFields, AuthPatch
from nukiflow.contracts.messages import error_message, shown
from nukiflow.contracts.rollout import (
    MAX_PLAN_ITEMS,
    RolloutItem,
    RolloutOp,
    RolloutOptions,
    RolloutPlan,
)
from nukiflow.contracts.validation import InputError, check_auth_id, check_smartlock_id
from nukiflow.contracts.wire import AuthType
from nukiflow.fleet.plan_files import (
    MAX_PLAN_BYTES,
    PlanError,
    check_shape,
    line,
    read_plan_file,
)
from nukiflow.times.durations import parse_duration
from nukiflow.times.zones import local_window

__all__ = ["MAX_PLAN_BYTES", "PlanError", "load_plan", "parse_plan"]

MAX_ERRORS_SHOWN = 20
_TOP_LEVEL = {"name", "tz", "lock_tz", "options", "defaults", "items"}
_WINDOW_KEYS = {"from", "until", "tz", "lock_tz", "weekdays", "times"}
_ITEM_KEYS = {
    "op",
    "smartlock_id",
    "smartlock_ids",
    "auth_id",
    "type",
    "auth_type",
    "clear",
    "account",
}
_ITEMS_AND_WINDOW = _ITEM_KEYS | _WINDOW_KEYS
_TYPES = {"keypad_code": AuthType.KEYPAD_CODE, "app": AuthType.APP, "fob": AuthType.FOB}
_ZONE_HINT = "tz: Europe/Berlin"


def load_plan(path: str | Path) -> RolloutPlan:
    """Read a plan from a ``.yaml``/``.yml`` or ``.json`` file.

    Refused with a :class:`PlanError`: a file that is not a regular file or is larger than
    8 MiB, YAML aliases and anchors (``&a``/``*a``: they let a few bytes expand to gigabytes),
    nesting deeper than 16 levels, scalars longer than 1,000 characters, numbers of more than
    30 digits and non-finite numbers.
    """
    data, source = read_plan_file(Path(path))
    return parse_plan(data, source=source)


def parse_plan(data: Any, *, source: str = "the plan") -> RolloutPlan:
    """Build a :class:`RolloutPlan` from loaded YAML/JSON data (a mapping, or a list of items)."""
    try:
        check_shape(data)
    except PlanError as exc:
        raise PlanError(f"{source} {exc}") from None
    if isinstance(data, list):
        data = {"items": data}
    if not isinstance(data, Mapping):
        raise PlanError(f"{source} must be a mapping with 'items' (or a list of items)")
    unknown = sorted(set(map(str, data)) - _TOP_LEVEL)
    if unknown:
        raise PlanError(
            line(
                f"{source}: unknown key(s) {', '.join(shown(k, 30) for k in unknown[:5])}; "
                f"expected {', '.join(sorted(_TOP_LEVEL))}"
            )
        )
    items_data = data.get("items")
    if not isinstance(items_data, list) or not items_data:
        raise PlanError(f"{source} has no items (a non-empty list under 'items')")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, Mapping):
        raise PlanError(f"{source}: 'defaults' must be a mapping of item fields")
    errors: list[str] = []
    try:
        options = _options(data.get("options") or {})
    except (ValidationError, ValueError) as exc:
        errors.append(line(f"options: {error_message(exc)}"))
        options = RolloutOptions()
    zones = {"tz": data.get("tz"), "lock_tz": data.get("lock_tz")}
    items: list[RolloutItem] = []
    for position, raw in enumerate(items_data):
        if not isinstance(raw, Mapping):
            errors.append(f"items[{position}]: an item is a mapping (op, smartlock_id, ...)")
            continue
        merged: dict[str, Any] = {
            **{k: v for k, v in zones.items() if v is not None},
            **(defaults if raw.get("op") == RolloutOp.CREATE.value else {}),
            **raw,
        }
        try:
            items.extend(_items(merged))
        except (ValidationError, ValueError) as exc:
            errors.append(line(f"items[{position}]{_where(merged)}: {error_message(exc)}"))
        if len(errors) >= MAX_ERRORS_SHOWN:
            break
        if len(items) > MAX_PLAN_ITEMS:
            raise PlanError(
                f"{source} has more than {MAX_PLAN_ITEMS} items (after items[{position}]); "
                "split it into several plans"
            )
    if errors:
        raise PlanError(f"{source} has {len(errors)} problem(s):\n  " + "\n  ".join(errors))
    name = data.get("name")
    try:
        if name is not None and not isinstance(name, str | int | float):
            raise PlanError("the plan's name is text")
        return RolloutPlan(name=None if name is None else str(name), items=items, options=options)
    except (PlanError, ValidationError) as exc:
        raise PlanError(line(f"{source}: {error_message(exc)}")) from None


def _options(data: Any) -> RolloutOptions:
    """The options mapping; timings (``item_deadline: 1h30m``) become ``*_seconds`` fields."""
    if not isinstance(data, Mapping):
        raise PlanError("a mapping of rollout options")
    values: dict[str, Any] = {}
    for key, value in data.items():
        key = str(key)
        field = key if key in RolloutOptions.model_fields else f"{key}_seconds"
        if field.endswith("_seconds") and field in RolloutOptions.model_fields:
            values[field] = parse_duration(value, what=key).total_seconds()
        else:
            values[key] = value
    return RolloutOptions.model_validate(values)


def _items(data: dict[str, Any]) -> list[RolloutItem]:
    """One entry of the file: one item, or one per lock with ``smartlock_ids``."""
    op = data.get("op")
    if op not in {o.value for o in RolloutOp}:
        raise PlanError("op must be create, update or delete")
    if "smartlock_ids" in data:
        if "smartlock_id" in data:
            raise PlanError("give smartlock_id or smartlock_ids, not both")
        locks = data["smartlock_ids"]
        if not isinstance(locks, list) or not locks:
            raise PlanError("smartlock_ids must be a non-empty list of smartlock ids")
    elif "smartlock_id" in data:
        locks = [data["smartlock_id"]]
    else:
        raise PlanError("smartlock_id is missing")
    fields = {k: v for k, v in data.items() if k not in _ITEMS_AND_WINDOW}
    fields.update(_window(data))
    items = []
    for lock in locks:
        if isinstance(lock, bool) or not isinstance(lock, int):
            raise PlanError(f"smartlock id {shown(lock)} is not a number")
        try:
            check_smartlock_id(lock)
        except InputError as exc:
            raise PlanError(f"smartlock id {lock}: {exc}") from None
        items.append(_item(RolloutOp(op), lock, data, fields))
    return items


def _item(op: RolloutOp, lock: int, data: dict[str, Any], fields: dict[str, Any]) -> RolloutItem:
    auth_id = _auth_id(data.get("auth_id"))
    # The Nuki account of the lock (see README, Many accounts); absent: the worker resolves it.
    account = data.get("account")
    if op is RolloutOp.CREATE:
        if "clear" in data:
            raise PlanError("a create has nothing to clear")
        return RolloutItem(
            op=op,
            smartlock_id=lock,
            auth_id=auth_id,
            create=AuthFields.model_validate(fields),
            auth_type=_auth_type(data.get("type", data.get("auth_type"))),
            account=account,
        )
    if op is RolloutOp.UPDATE:
        patch = dict(fields)
        if "clear" in data:
            clear = data["clear"]
            patch["clear"] = [clear] if isinstance(clear, str) else clear
        return RolloutItem(
            op=op,
            smartlock_id=lock,
            auth_id=auth_id,
            patch=AuthPatch.model_validate(patch),
            account=account,
        )
    if fields or "clear" in data:
        raise PlanError(f"a delete carries no fields (got {', '.join(sorted(fields))})")
    return RolloutItem(op=op, smartlock_id=lock, auth_id=auth_id, account=account)


def _auth_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        # YAML reads a digit-only id as a number (with leading zeros even as octal): the id
        # it meant cannot be recovered, so it is refused.
        raise PlanError('auth_id must be a string: quote it in YAML (auth_id: "5f2a...")')
    try:
        return check_auth_id(value)
    except InputError as exc:
        raise PlanError(f"auth_id: {exc}") from None


def _auth_type(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        key = value.strip().lower().replace("-", "_").replace(" ", "_")
        if key in _TYPES:
            return int(_TYPES[key])
        if key.isdigit() and len(key) <= 3:
            return int(key)
        raise PlanError(f"unknown auth type {shown(value)}: keypad_code, app or fob")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise PlanError(f"unknown auth type {shown(value)}: keypad_code, app or fob")


def _window(data: dict[str, Any]) -> dict[str, Any]:
    """Local-time keys (from, until, tz, lock_tz, weekdays, times) as Nuki's fields."""
    if not any(k in data for k in ("from", "until", "weekdays", "times")):
        return {}
    window = local_window(
        data.get("from"),
        data.get("until"),
        tz=_zone_key(data.get("tz"), "tz"),
        lock_tz=_zone_key(data.get("lock_tz"), "lock_tz"),
        weekdays=data.get("weekdays"),
        times=data.get("times"),
        names=("from", "until"),
        relative=False,
        zone_hint=_ZONE_HINT,
    )
    return window.auth_fields()


def _zone_key(value: Any, key: str) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    raise PlanError(f"{key} is a time zone name such as Europe/Berlin, not {shown(value)}")


def _where(data: Mapping[str, Any]) -> str:
    """Which item: its lock and auth id, or its name (each cut short, control characters
    escaped)."""
    lock = data.get("smartlock_id", data.get("smartlock_ids"))
    parts = []
    if isinstance(lock, int) and not isinstance(lock, bool):
        parts.append(f"smartlock {shown(lock)}")
    elif isinstance(lock, list) and lock:
        more = f" (+{len(lock) - 1})" if len(lock) > 1 else ""
        parts.append(f"smartlock {shown(lock[0])}{more}")
    if data.get("auth_id") is not None:
        parts.append(f"auth {shown(data['auth_id'])}")
    elif isinstance(data.get("name"), str):
        parts.append(shown(data["name"]))
    return f" ({', '.join(parts)})" if parts else ""
