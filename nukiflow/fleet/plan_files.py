"""Internal: reading a plan file, which is untrusted input, and bounding what it may hold.

A plan is read only if it is a regular UTF-8 file of at most 8 MiB; YAML anchors and aliases
are refused (a few hundred bytes of aliases expand to gigabytes), nesting is bounded (16
levels), and so are values (1,000 characters), numbers (30 digits, finite) and error messages
(300 characters a line). :func:`check_shape` applies the same bounds to data handed over from
Python. :class:`PlanError` is public as ``nukiflow.PlanError``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from nukiflow.contracts.messages import shown

# What a plan file may hold: a plan of MAX_PLAN_ITEMS items fits well within these, and a hostile
# file cannot make loading it expensive (no YAML aliases, so no expansion either).
MAX_PLAN_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 16
MAX_NODES = 2_000_000
MAX_SCALAR_CHARS = 1_000
MAX_NUMBER_DIGITS = 30
# One line of an error message: enough to point at the item and say what to fix.
MAX_ERROR_LINE = 300
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class PlanError(ValueError):
    """A plan that cannot be used; the message lists every problem found (up to 20)."""


def read_plan_file(path: Path) -> tuple[Any, str]:
    """The data of a ``.yaml``/``.yml`` or ``.json`` plan file, and how messages name the
    file; :class:`PlanError` for a file that breaks a bound or cannot be read."""
    source = shown(str(path), 120)
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
    kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
    try:
        data = _load_json(text) if kind == "JSON" else _load_yaml(text)
    except PlanError as exc:
        raise PlanError(line(f"{source}: {exc}")) from None
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise PlanError(line(f"{source} is not valid {kind}: {_one_line(exc)}")) from None
    except RecursionError:
        raise PlanError(f"{source} nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, OverflowError, TypeError) as exc:
        # A scalar the loader cannot build (a date such as 0000-01-01, say).
        raise PlanError(line(f"{source} holds a value that cannot be read: {exc}")) from None
    return data, source


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
        at = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, yaml.AliasEvent):
            raise PlanError(
                f"line {at}: YAML aliases (*{shown(str(event.anchor), 20)[1:-1]}) are not "
                "accepted in plans; write the values out"
            )
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
            raise PlanError(
                f"line {at}: YAML anchors (&{shown(str(event.anchor), 20)[1:-1]}) are not "
                "accepted in plans; write the values out"
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise PlanError(f"line {at}: nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.ScalarEvent) and len(event.value) > MAX_SCALAR_CHARS:
            raise PlanError(f"line {at}: a value longer than {MAX_SCALAR_CHARS} characters")
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


def line(text: str) -> str:
    """One line of an error message, cut at MAX_ERROR_LINE characters."""
    return text if len(text) <= MAX_ERROR_LINE else text[: MAX_ERROR_LINE - 3] + "..."


def _one_line(exc: BaseException) -> str:
    return line(" ".join(str(exc).split()))
