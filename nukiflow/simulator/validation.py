"""Internal: validation of request bodies, answering with Nuki's 400 and 422 bodies."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request

from nukiflow.contracts.wire import AuthRestrictions, AuthType

from .errors import bad_parameter, bad_request, unprocessable

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

# Spec: auth names hold at most 32 characters; a keypad code's name at most 20 (forum: a
# 27-character keypad name got 422).
MAX_NAME = 32
MAX_KEYPAD_NAME = 20
CREATABLE_TYPES = {AuthType.APP, AuthType.FOB, AuthType.KEYPAD_CODE}
MINUTES_PER_DAY = 24 * 60


async def read_json(request: Request) -> Any:
    body = await request.body()
    try:
        return json.loads(body)
    except ValueError:
        raise bad_request("The request body is not valid JSON") from None


def _as_bad_parameter(error: ValidationError) -> Exception:
    first = error.errors()[0]
    names = [part for part in first["loc"] if isinstance(part, str)]
    parameter = names[-1] if names else "body"
    value = "null" if first["type"] == "missing" else first["input"]
    return bad_parameter(parameter, value)


def parse_model(model: type[M], raw: object) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise _as_bad_parameter(error) from None


def parse_value(adapter: TypeAdapter[T], raw: object) -> T:
    try:
        return adapter.validate_python(raw)
    except ValidationError as error:
        raise _as_bad_parameter(error) from None


def check_create_type(auth_type: int, keypad_paired: bool) -> None:
    if auth_type not in CREATABLE_TYPES:
        raise bad_parameter("type", auth_type)
    if auth_type == AuthType.KEYPAD_CODE and not keypad_paired:
        raise bad_parameter("type", auth_type)


def check_code(code: int | None) -> None:
    """A keypad code: exactly 6 digits 1-9, not starting with "12" (Nuki staff)."""
    text = "null" if code is None else str(code)
    if len(text) != 6 or not text.isdigit() or "0" in text or text.startswith("12"):
        raise bad_parameter("code", text)


def check_name(name: str, auth_type: int) -> None:
    if not name.strip():
        raise bad_parameter("name", name)
    if auth_type == AuthType.KEYPAD_CODE and len(name) > MAX_KEYPAD_NAME:
        raise unprocessable(
            f"The name of a keypad code must not exceed {MAX_KEYPAD_NAME} characters"
        )
    if len(name) > MAX_NAME:
        raise unprocessable(f"The name must not exceed {MAX_NAME} characters")


def check_restrictions(restrictions: AuthRestrictions) -> None:
    days = restrictions.allowed_week_days
    if days is not None and not 0 <= days <= 127:
        raise bad_parameter("allowedWeekDays", days)
    for parameter, minutes in (
        ("allowedFromTime", restrictions.allowed_from_time),
        ("allowedUntilTime", restrictions.allowed_until_time),
    ):
        if minutes is not None and not 0 <= minutes < MINUTES_PER_DAY:
            raise bad_parameter(parameter, minutes)
