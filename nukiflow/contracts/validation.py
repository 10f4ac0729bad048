"""The one validation layer for what people and programs hand to nukiflow.

Every edge (the command line, the ``NukiFlow`` facade, plan files, access grants, rollouts)
checks its input with the functions and pydantic types below before anything reaches Temporal
or the Nuki API, and refuses what breaks a rule with a message that says what to fix. Nothing
here needs a connection. The rules and ranges:

- a smartlock id is a whole number from 1 to 2^63-1: Nuki's ``smartlockId`` is an int64, and
  so is Temporal's ``Int`` search attribute that carries it;
- an auth id is Nuki's 24 hexadecimal characters (kept in lower case, the form Nuki answers
  with, so one auth has one workflow id however it was typed);
- a name (of an auth or a grant) is not blank, has no control characters (no escape
  sequences, line breaks or bidirectional overrides) and at most 32 characters, 20 for a
  keypad code;
- a request id is 1-200 characters without whitespace or control characters;
- a date lies between 2000-01-01 and 2099-12-31 (UTC), and has a time zone;
- a duration is finite, longer than zero and no longer than its own maximum (30 days for a
  change's deadline, one day for a lock action's).

Stored payloads: the types check what is *constructed* (the CLI, the facade and plan files
build models from Python values). Payloads Temporal decodes from a workflow's history (JSON) are
taken as they are: a change accepted before a rule existed must keep replaying.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BeforeValidator, ValidationInfo

INT64_MAX: Final = 2**63 - 1
INT32_MAX: Final = 2**31 - 1
MAX_NAME: Final = 32
MAX_KEYPAD_NAME: Final = 20
MAX_REQUEST_ID: Final = 200
# Free text that nukiflow keeps and shows (a rollout's name, a reason).
MAX_TEXT: Final = 500
EARLIEST_DATE: Final = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_DATE: Final = datetime(2099, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
# The longest deadline of an auth change (and of a rollout item), and of a lock action.
MAX_CHANGE_DEADLINE: Final = timedelta(days=30)
MAX_ACTION_DEADLINE: Final = timedelta(days=1)
# Any other duration (``+2h`` in a date, a plan's timing options).
MAX_DURATION: Final = timedelta(days=30)
# Set in a validation context when a model is rebuilt from stored data (see the module doc).
STORED: Final = "nukiflow_stored"

_AUTH_ID = re.compile(r"[0-9a-fA-F]{24}")
_DIGITS = re.compile(r"[+]?[0-9]{1,30}")
_EXAMPLE_AUTH_ID = "5f2a0c8e4b1d9a7c3e6f0b12"
# Format characters that change how text is laid out or read (bidirectional overrides and
# isolates, marks); zero-width joiners stay allowed (emoji and some scripts need them).
_ALLOWED_FORMAT = frozenset({"\u200c", "\u200d"})
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


class InputError(ValueError):
    """Input that breaks one of nukiflow's rules; the message says what to fix.

    Raised before anything reaches Temporal or Nuki. A ``ValueError``, so pydantic reports it
    as a validation error of the field it belongs to.
    """


def is_unsafe_character(char: str) -> bool:
    """Whether ``char`` must not be printed raw to a terminal or kept in a name: control
    characters (C0, DEL, C1), lone surrogates, line/paragraph separators and layout-changing
    format characters (bidirectional overrides, ...)."""
    category = unicodedata.category(char)
    if category in _UNSAFE_CATEGORIES:
        return True
    return category == "Cf" and char not in _ALLOWED_FORMAT


def unsafe_character(text: str) -> str | None:
    """The first character of ``text`` that :func:`is_unsafe_character` refuses, or None."""
    for char in text:
        if is_unsafe_character(char):
            return char
    return None


def _codepoint(char: str) -> str:
    return f"U+{ord(char):04X}"


def check_smartlock_id(value: object) -> int:
    """A smartlock id as Nuki and Temporal hold it (an int64 above zero)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(
            f"a smartlock id is a whole number from 1 to {INT64_MAX} (e.g. 18834485182)"
        )
    if not 0 < value <= INT64_MAX:
        raise InputError(f"a smartlock id is a whole number from 1 to {INT64_MAX}")
    return int(value)


def parse_smartlock_id(text: str) -> int:
    """A smartlock id typed as text (the command line)."""
    raw = text.strip()
    if not _DIGITS.fullmatch(raw):
        raise InputError(
            f"a smartlock id is a whole number from 1 to {INT64_MAX} (e.g. 18834485182)"
        )
    return check_smartlock_id(int(raw))


def check_auth_id(value: object) -> str:
    """An auth id as Nuki gives it: 24 hexadecimal characters (returned in lower case)."""
    if not isinstance(value, str) or not _AUTH_ID.fullmatch(value):
        raise InputError(
            f"an auth id is Nuki's 24 hexadecimal characters (e.g. {_EXAMPLE_AUTH_ID})"
        )
    return value.lower()


def check_name(value: str, *, maximum: int = MAX_NAME) -> str:
    """An auth's name: not blank, no control characters, at most ``maximum`` characters."""
    if not value.strip():
        raise InputError("a name must not be blank")
    bad = unsafe_character(value)
    if bad is not None:
        raise InputError(
            f"a name must not contain control characters (it has {_codepoint(bad)}); use "
            "letters, digits, spaces and punctuation"
        )
    if len(value) > maximum:
        raise InputError(f"a name has at most {maximum} characters")
    return value


def check_keypad_name(value: str) -> str:
    """A keypad code's name: the rules of :func:`check_name`, at most 20 characters."""
    return check_name(value, maximum=MAX_KEYPAD_NAME)


def check_text(value: str, *, what: str = "the text", maximum: int = MAX_TEXT) -> str:
    """Free text nukiflow keeps and shows: at most ``maximum`` characters, no control ones."""
    bad = unsafe_character(value)
    if bad is not None:
        raise InputError(f"{what} must not contain control characters (it has {_codepoint(bad)})")
    if len(value) > maximum:
        raise InputError(f"{what} has at most {maximum} characters")
    return value


def check_request_id(value: object) -> str:
    """An idempotency key: 1-200 characters, no whitespace or control characters."""
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_REQUEST_ID:
        raise InputError(f"a request id has 1 to {MAX_REQUEST_ID} characters")
    if any(char.isspace() or is_unsafe_character(char) for char in value):
        raise InputError("a request id has no spaces or control characters (e.g. order-4711)")
    return value


def check_date(value: datetime, *, what: str = "a date") -> datetime:
    """``value`` in UTC, if it has a time zone and lies in the supported range."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{what} needs a time zone (e.g. 2026-01-31T18:00+01:00)")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST_DATE <= utc <= LATEST_DATE:
        raise InputError(f"{what} must lie between {date_range()}")
    return utc


def date_range() -> str:
    return f"{EARLIEST_DATE:%Y-%m-%d} and {LATEST_DATE:%Y-%m-%d} (UTC)"


def format_span(seconds: float) -> str:
    """``30d``, ``1d``, ``90s``: a maximum as people type it."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def check_seconds(
    seconds: float, *, what: str = "a duration", maximum: timedelta = MAX_DURATION
) -> float:
    """A duration in seconds: finite, above zero, at most ``maximum``."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise InputError(f"{what} is a number of seconds or a duration such as 90s, 15m or 2h")
    if not math.isfinite(seconds) or seconds <= 0:
        raise InputError(f"{what} must be longer than zero and finite")
    if seconds > maximum.total_seconds():
        raise InputError(f"{what} must be at most {format_span(maximum.total_seconds())}")
    return float(seconds)


def _field(name: str, check: Callable[[Any], Any], value: object) -> Any:
    try:
        return check(value)
    except InputError as exc:
        raise InputError(f"{name}: {exc}") from None


def check_target(smartlock_id: object, *, request_id: object = None) -> int:
    """The smartlock id of a call (and its request id, when given), or :class:`InputError`
    naming the one to fix (``smartlock_id: ...``)."""
    checked: int = _field("smartlock_id", check_smartlock_id, smartlock_id)
    if request_id is not None:
        _field("request_id", check_request_id, request_id)
    return checked


def check_auth_target(
    smartlock_id: object, auth_id: object, *, request_id: object = None
) -> tuple[int, str]:
    """:func:`check_target` for a call on one auth: the smartlock id and the auth id (in the
    lower case Nuki uses)."""
    checked: int = _field("smartlock_id", check_smartlock_id, smartlock_id)
    auth: str = _field("auth_id", check_auth_id, auth_id)
    if request_id is not None:
        _field("request_id", check_request_id, request_id)
    return checked, auth


def is_stored(info: ValidationInfo) -> bool:
    """Whether pydantic is rebuilding a stored payload (JSON, or a context that says so)."""
    context = info.context if isinstance(info.context, dict) else {}
    return info.mode == "json" or bool(context.get(STORED))


def _at_the_edge(check: Callable[[Any], Any]) -> Callable[[Any, ValidationInfo], Any]:
    """``check`` for constructed values; stored payloads pass as they are."""

    def validate(value: Any, info: ValidationInfo) -> Any:
        return value if is_stored(info) else check(value)

    return validate


def _account_user_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT32_MAX:
        raise InputError(f"an account user id is a whole number from 0 to {INT32_MAX}")
    return value


# The pydantic types every model and command-line argument uses for these values.
SmartlockId = Annotated[int, BeforeValidator(_at_the_edge(check_smartlock_id))]
AuthId = Annotated[str, BeforeValidator(_at_the_edge(check_auth_id))]
AuthName = Annotated[str, AfterValidator(_at_the_edge(check_name))]
KeypadName = Annotated[str, AfterValidator(_at_the_edge(check_keypad_name))]
AccountUserId = Annotated[int, BeforeValidator(_at_the_edge(_account_user_id))]
# Free text nukiflow keeps and shows (a rollout's name, the reason of a revocation).
Label = Annotated[str, AfterValidator(_at_the_edge(check_text))]
