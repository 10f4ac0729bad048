"""Rollout plans from YAML or JSON files (``nukiflow rollout apply PLAN``).

A plan file::

    name: spring codes            # optional; part of the rollout's identity
    tz: Europe/Berlin             # zone of local date-times below (optional)
    options:                      # optional, see RolloutOptions
      max_in_flight: 20
      per_lock: 1
      on_failure: continue        # or: stop
      item_deadline: 2h           # durations: 90, 90s, 15m, 2h, 1d
    defaults:                     # fields of every create (the item's own keys win)
      remote_allowed: false
    items:
      - op: create
        smartlock_ids: [17, 18]   # one item per lock (or smartlock_id: 17)
        name: cleaner
        code: 555123
        from: 2026-04-01T08:00    # local in tz; or allowed_from_date with an offset
        until: 2026-04-30T18:00
        weekdays: mon-fri
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
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from nukiflow.models.auth import AuthFields, AuthPatch
from nukiflow.models.rollout import RolloutItem, RolloutOp, RolloutOptions, RolloutPlan
from nukiflow.models.wire import AuthType
from nukiflow.timezones import (
    TimeZoneError,
    parse_times,
    parse_weekdays,
    shift_daily_times,
    to_utc,
    zone,
)

MAX_ERRORS_SHOWN = 20
_TOP_LEVEL = {"name", "tz", "lock_tz", "options", "defaults", "items"}
_WINDOW_KEYS = {"from", "until", "tz", "lock_tz", "weekdays", "times"}
_ITEM_KEYS = {"op", "smartlock_id", "smartlock_ids", "auth_id", "type", "auth_type", "clear"}
_TYPES = {"keypad_code": AuthType.KEYPAD_CODE, "app": AuthType.APP, "fob": AuthType.FOB}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class PlanError(ValueError):
    """A plan that cannot be used; the message lists every problem found (up to 20)."""


def load_plan(path: str | Path) -> RolloutPlan:
    """Read a plan from a ``.yaml``/``.yml`` or ``.json`` file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"cannot read the plan {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise PlanError(f"{path} is not valid {_kind(path)}: {_first_line(exc)}") from None
    return parse_plan(data, source=str(path))


def parse_plan(data: Any, *, source: str = "the plan") -> RolloutPlan:
    """Build a :class:`RolloutPlan` from loaded YAML/JSON data (a mapping, or a list of items)."""
    if isinstance(data, list):
        data = {"items": data}
    if not isinstance(data, Mapping):
        raise PlanError(f"{source} must be a mapping with 'items' (or a list of items)")
    unknown = sorted(set(map(str, data)) - _TOP_LEVEL)
    if unknown:
        raise PlanError(
            f"{source}: unknown key(s) {', '.join(unknown)}; "
            f"expected {', '.join(sorted(_TOP_LEVEL))}"
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
    except (PlanError, ValidationError, ValueError) as exc:
        errors.append(f"options: {_message(exc)}")
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
        except (PlanError, ValidationError, ValueError) as exc:
            errors.append(f"items[{position}]{_where(merged)}: {_message(exc)}")
        if len(errors) >= MAX_ERRORS_SHOWN:
            break
    if errors:
        raise PlanError(f"{source} has {len(errors)} problem(s):\n  " + "\n  ".join(errors))
    name = data.get("name")
    try:
        return RolloutPlan(name=None if name is None else str(name), items=items, options=options)
    except ValidationError as exc:
        raise PlanError(f"{source}: {_message(exc)}") from None


def parse_duration(value: Any) -> float:
    """Seconds from 90, "90", "90s", "15m", "2h" or "1d"."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise PlanError(f"{value!r} is not a duration (e.g. 90s, 15m, 2h, 1d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _options(data: Any) -> RolloutOptions:
    if not isinstance(data, Mapping):
        raise PlanError("a mapping of rollout options")
    values: dict[str, Any] = {}
    for key, value in data.items():
        key = str(key)
        field = key if key in RolloutOptions.model_fields else f"{key}_seconds"
        if field.endswith("_seconds") and field in RolloutOptions.model_fields:
            values[field] = parse_duration(value)
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
            raise PlanError(f"smartlock id {lock!r} is not a number")
        items.append(_item(RolloutOp(op), lock, data, fields))
    return items


_ITEMS_AND_WINDOW = _ITEM_KEYS | _WINDOW_KEYS


def _item(op: RolloutOp, lock: int, data: dict[str, Any], fields: dict[str, Any]) -> RolloutItem:
    auth_id = _auth_id(data.get("auth_id"))
    if op is RolloutOp.CREATE:
        if "clear" in data:
            raise PlanError("a create has nothing to clear")
        return RolloutItem(
            op=op,
            smartlock_id=lock,
            auth_id=auth_id,
            create=AuthFields.model_validate(fields),
            auth_type=_auth_type(data.get("type", data.get("auth_type"))),
        )
    if op is RolloutOp.UPDATE:
        patch = dict(fields)
        if "clear" in data:
            clear = data["clear"]
            patch["clear"] = [clear] if isinstance(clear, str) else clear
        return RolloutItem(
            op=op, smartlock_id=lock, auth_id=auth_id, patch=AuthPatch.model_validate(patch)
        )
    if fields or "clear" in data:
        raise PlanError(f"a delete carries no fields (got {', '.join(sorted(fields))})")
    return RolloutItem(op=op, smartlock_id=lock, auth_id=auth_id)


def _auth_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        # YAML reads a digit-only id as a number (with leading zeros even as octal): the id
        # it meant cannot be recovered, so it is refused.
        raise PlanError('auth_id must be a string: quote it in YAML (auth_id: "5f2a...")')
    return value


def _auth_type(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        key = value.strip().lower().replace("-", "_").replace(" ", "_")
        if key in _TYPES:
            return int(_TYPES[key])
        if key.isdigit():
            return int(key)
        raise PlanError(f"unknown auth type {value!r}: keypad_code, app or fob")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise PlanError(f"unknown auth type {value!r}: keypad_code, app or fob")


def _window(data: dict[str, Any]) -> dict[str, Any]:
    """Local-time keys (from, until, tz, lock_tz, weekdays, times) as Nuki's fields."""
    if not any(k in data for k in ("from", "until", "weekdays", "times")):
        return {}
    tz = data.get("tz")
    lock_tz = data.get("lock_tz")
    source = zone(str(tz)) if tz else None
    lock = zone(str(lock_tz)) if lock_tz else source
    out: dict[str, Any] = {}
    start = end = None
    if data.get("from") is not None:
        start = out["allowed_from_date"] = to_utc(_when(data["from"]), source, what="from")
    if data.get("until") is not None:
        end = out["allowed_until_date"] = to_utc(_when(data["until"]), source, what="until")
    mask = parse_weekdays(data.get("weekdays"))
    times = data.get("times")
    daily = parse_times(str(times)) if times is not None else None
    if source is not None and lock is not None and source.key != lock.key:
        if daily is not None:
            if start is None or end is None:
                raise TimeZoneError(
                    "daily times in a zone other than the lock's need both from and until "
                    "(the shift is checked on every day of the window)"
                )
            daily, mask = shift_daily_times(daily, mask, source, lock, start, end)
        elif mask is not None:
            raise TimeZoneError(
                f"weekdays without times are whole days in the lock's zone ({lock.key})"
            )
    if mask is not None:
        out["allowed_week_days"] = mask
    if daily is not None:
        out["allowed_from_time"], out["allowed_until_time"] = daily
    return out


def _when(value: Any) -> str | datetime | date:
    if isinstance(value, datetime | date | str):
        return value
    raise TimeZoneError(f"{value!r} is not a date-time")


def _where(data: Mapping[str, Any]) -> str:
    lock = data.get("smartlock_id", data.get("smartlock_ids"))
    parts = []
    if lock is not None:
        parts.append(f"smartlock {lock}")
    if data.get("auth_id") is not None:
        parts.append(f"auth {data['auth_id']}")
    elif data.get("name") is not None:
        parts.append(repr(str(data["name"])))
    return f" ({', '.join(parts)})" if parts else ""


def _message(exc: BaseException) -> str:
    """One readable line; pydantic errors without the input values (codes stay out)."""
    if isinstance(exc, ValidationError):
        parts = []
        for item in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(p) for p in item["loc"] if p != "__root__")
            message = str(item["msg"]).removeprefix("Value error, ")
            parts.append(f"{where}: {message}" if where else message)
        return "; ".join(parts)
    return str(exc)


def _kind(path: Path) -> str:
    return "JSON" if path.suffix.lower() == ".json" else "YAML"


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
