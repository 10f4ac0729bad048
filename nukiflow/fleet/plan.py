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

A plan file is untrusted input: it is read only if it is a regular UTF-8 file of at most 8 MiB,
YAML anchors and aliases are refused (a few hundred bytes of aliases expand to gigabytes),
nesting is bounded (16 levels), and so are values (1,000 characters), numbers (30 digits,
finite) and error messages (20 problems, 300 characters a line).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from nukiflow.contracts.auth import AuthFields, AuthPatch
from nukiflow.contracts.rollout import (
    MAX_PLAN_ITEMS,
    RolloutItem,
    RolloutOp,
    RolloutOptions,
    RolloutPlan,
)
from nukiflow.contracts.validation import (
    MAX_DURATION,
    InputError,
    check_auth_id,
    check_seconds,
    check_smartlock_id,
)
from nukiflow.contracts.wire import AuthType
from nukiflow.times.zones import (
    TimeZoneError,
    parse_times,
    parse_weekdays,
    shift_daily_times,
    to_utc,
    zone,
)

MAX_ERRORS_SHOWN = 20
# What a plan file may hold: a plan of MAX_PLAN_ITEMS items fits well within these, and a hostile
# file cannot make loading it expensive (no YAML aliases, so no expansion either).
MAX_PLAN_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 16
MAX_NODES = 2_000_000
MAX_SCALAR_CHARS = 1_000
MAX_NUMBER_DIGITS = 30
# One line of an error message: enough to point at the item and say what to fix.
MAX_ERROR_LINE = 300
_TOP_LEVEL = {"name", "tz", "lock_tz", "options", "defaults", "items"}
_WINDOW_KEYS = {"from", "until", "tz", "lock_tz", "weekdays", "times"}
_ITEM_KEYS = {"op", "smartlock_id", "smartlock_ids", "auth_id", "type", "auth_type", "clear"}
_TYPES = {"keypad_code": AuthType.KEYPAD_CODE, "app": AuthType.APP, "fob": AuthType.FOB}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class PlanError(ValueError):
    """A plan that cannot be used; the message lists every problem found (up to 20)."""


def load_plan(path: str | Path) -> RolloutPlan:
    """Read a plan from a ``.yaml``/``.yml`` or ``.json`` file.

    Refused with a :class:`PlanError`: a file that is not a regular file or is larger than
    8 MiB, YAML aliases and anchors (``&a``/``*a``: they let a few bytes expand to gigabytes),
    nesting deeper than 16 levels, scalars longer than 1,000 characters, numbers of more than
    30 digits and non-finite numbers.
    """
    path = Path(path)
    source = _shown(str(path), 120)
    try:
        if path.exists() and not path.is_file():
            raise PlanError(f"{source} is not a regular file (a plan is a YAML or JSON file)")
        with path.open("rb") as stream:
            raw = stream.read(MAX_PLAN_BYTES + 1)
    except OSError as exc:
        raise PlanError(f"cannot read the plan {source}: {exc.strerror or exc}") from None
    if len(raw) > MAX_PLAN_BYTES:
        raise PlanError(f"{source} is larger than {MAX_PLAN_BYTES // (1024 * 1024)} MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PlanError(f"{source} is not UTF-8 text") from None
    try:
        data = _load_json(text) if path.suffix.lower() == ".json" else _load_yaml(text)
    except PlanError as exc:
        raise PlanError(_line(f"{source}: {exc}")) from None
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise PlanError(_line(f"{source} is not valid {_kind(path)}: {_first_line(exc)}")) from None
    except RecursionError:
        raise PlanError(f"{source} nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, OverflowError, TypeError) as exc:
        # A scalar the loader cannot build (a date such as 0000-01-01, say).
        raise PlanError(_line(f"{source} holds a value that cannot be read: {exc}")) from None
    return parse_plan(data, source=source)


def _load_json(text: str) -> Any:
    def number(digits: str) -> int:
        if len(digits.lstrip("-")) > MAX_NUMBER_DIGITS:
            raise PlanError(f"a number has more than {MAX_NUMBER_DIGITS} digits")
        return int(digits)

    def constant(name: str) -> Any:
        raise PlanError(f"{name} is not a number a plan can hold")

    return json.loads(text, parse_int=number, parse_constant=constant)


def _load_yaml(text: str) -> Any:
    """YAML without aliases or anchors, nesting and scalar sizes bounded, checked on the
    parser's events before anything is built."""
    depth = 0
    for event in yaml.parse(text, Loader=_YAML_LOADER):
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, yaml.AliasEvent):
            raise PlanError(
                f"line {line}: YAML aliases (*{_shown(str(event.anchor), 20)[1:-1]}) are not "
                "accepted in plans; write the values out"
            )
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
            raise PlanError(
                f"line {line}: YAML anchors (&{_shown(str(event.anchor), 20)[1:-1]}) are not "
                "accepted in plans; write the values out"
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise PlanError(f"line {line}: nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.ScalarEvent) and len(event.value) > MAX_SCALAR_CHARS:
            raise PlanError(f"line {line}: a value longer than {MAX_SCALAR_CHARS} characters")
    return yaml.load(text, Loader=_YAML_LOADER)


def check_shape(data: Any) -> None:
    """Bounds of loaded plan data (also data handed over from Python): nesting depth, number
    of values, string lengths, integer sizes and finite floats. Walks without recursion."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise PlanError(f"holds more than {MAX_NODES} values")
        if isinstance(value, Mapping | list | tuple):
            if depth > MAX_DEPTH:
                raise PlanError(f"nests deeper than {MAX_DEPTH} levels")
            children = (
                [*value.keys(), *value.values()] if isinstance(value, Mapping) else list(value)
            )
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if abs(value) >= 10**MAX_NUMBER_DIGITS:
                raise PlanError(f"holds a number of more than {MAX_NUMBER_DIGITS} digits")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise PlanError("holds a number that is not finite (inf or nan)")
        elif isinstance(value, str) and len(value) > MAX_SCALAR_CHARS:
            raise PlanError(f"holds a value longer than {MAX_SCALAR_CHARS} characters")


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
            _line(
                f"{source}: unknown key(s) {', '.join(_shown(k, 30) for k in unknown[:5])}; "
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
    except (PlanError, ValidationError, ValueError) as exc:
        errors.append(_line(f"options: {_message(exc)}"))
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
            errors.append(_line(f"items[{position}]{_where(merged)}: {_message(exc)}"))
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
        raise PlanError(_line(f"{source}: {_message(exc)}")) from None


def parse_duration(value: Any, *, what: str = "a duration") -> float:
    """Seconds from 90, "90", "90s", "15m", "2h" or "1d": finite, above zero, at most 30 days."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value)) if isinstance(value, str) else None
        if not match:
            raise PlanError(f"{_shown(value)} is not a duration (e.g. 90s, 15m, 2h, 1d)")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    return check_seconds(seconds, what=what, maximum=MAX_DURATION)


def _options(data: Any) -> RolloutOptions:
    if not isinstance(data, Mapping):
        raise PlanError("a mapping of rollout options")
    values: dict[str, Any] = {}
    for key, value in data.items():
        key = str(key)
        field = key if key in RolloutOptions.model_fields else f"{key}_seconds"
        if field.endswith("_seconds") and field in RolloutOptions.model_fields:
            values[field] = parse_duration(value, what=key)
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
            raise PlanError(f"smartlock id {_shown(lock)} is not a number")
        try:
            check_smartlock_id(lock)
        except InputError as exc:
            raise PlanError(f"smartlock id {lock}: {exc}") from None
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
        raise PlanError(f"unknown auth type {_shown(value)}: keypad_code, app or fob")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise PlanError(f"unknown auth type {_shown(value)}: keypad_code, app or fob")


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
    raise TimeZoneError(f"{_shown(value)} is not a date-time")


def _where(data: Mapping[str, Any]) -> str:
    """Which item: its lock and auth id, or its name (each cut short, control characters
    escaped)."""
    lock = data.get("smartlock_id", data.get("smartlock_ids"))
    parts = []
    if isinstance(lock, int) and not isinstance(lock, bool):
        parts.append(f"smartlock {_shown(lock)}")
    elif isinstance(lock, list) and lock:
        more = f" (+{len(lock) - 1})" if len(lock) > 1 else ""
        parts.append(f"smartlock {_shown(lock[0])}{more}")
    if data.get("auth_id") is not None:
        parts.append(f"auth {_shown(data['auth_id'])}")
    elif isinstance(data.get("name"), str):
        parts.append(_shown(data["name"]))
    return f" ({', '.join(parts)})" if parts else ""


def _shown(value: Any, limit: int = 40) -> str:
    """A value as a message shows it: numbers as they are, text quoted with control
    characters escaped, anything else by its type; cut short."""
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str):
        text = repr(value)
    else:
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _line(text: str) -> str:
    """One line of an error message, cut at MAX_ERROR_LINE characters."""
    return text if len(text) <= MAX_ERROR_LINE else text[: MAX_ERROR_LINE - 3] + "..."


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
    return _line(" ".join(str(exc).split()))
