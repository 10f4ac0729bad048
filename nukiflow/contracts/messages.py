"""Turning validation errors into messages a person can act on, without echoing values.

Pydantic's own ``str(error)`` quotes the rejected input, which may be a keypad code; these
messages name the field and the rule only. Where a message does quote what was given (a date
that is not a date, an unknown weekday), :func:`shown` quotes it: control characters escaped,
cut short, so a crafted value can neither flood a message nor drive a terminal.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


def validation_message(error: ValidationError) -> str:
    """A pydantic error as one readable line, without the input values."""
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in item["loc"] if p != "__root__")
        message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def error_message(error: BaseException) -> str:
    """:func:`validation_message` for pydantic errors, the plain message otherwise."""
    if isinstance(error, ValidationError):
        return validation_message(error)
    return str(error)


def shown(value: Any, limit: int = 40) -> str:
    """A value as a message quotes it: whole numbers as they are, text quoted with control
    characters escaped, anything else by its type (``a dict``); at most ``limit`` characters."""
    if isinstance(value, int) and not isinstance(value, bool):
        # Beyond some thousands of digits str() itself refuses: no message needs them.
        text = str(value) if value.bit_length() <= 128 else "a number too large to show"
    elif isinstance(value, str):
        text = repr(value)
    else:
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."
