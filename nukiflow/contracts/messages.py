"""Turning validation errors into messages a person can act on, without echoing values.

Pydantic's own ``str(error)`` quotes the rejected input, which may be a keypad code; these
messages name the field and the rule only.
"""

from __future__ import annotations

from pydantic import ValidationError


def validation_message(error: ValidationError) -> str:
    """A pydantic error as one readable line, without the input values."""
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in item["loc"] if p != "__root__")
        message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def error_message(error: Exception) -> str:
    """:func:`validation_message` for pydantic errors, the plain message otherwise."""
    if isinstance(error, ValidationError):
        return validation_message(error)
    return str(error)
