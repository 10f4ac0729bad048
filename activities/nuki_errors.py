"""The one exception tree of the Nuki client.

Every failure of a Nuki API call is mapped exactly once, in :func:`error_from_response` or by
the client's transport handling, to one of these classes. Each class says whether retrying the
same request can help (``retryable``); the activities turn that into Temporal's retryable or
non-retryable errors without looking at status codes again.

    NukiError
    ├── NukiRequestRefused        the client refused to build the request (a path   not retryable
    │                             segment of the wrong shape): a programming error
    ├── NukiTransportError        timeouts, refused connections, broken streams     retryable
    └── NukiHTTPError             an HTTP answer Nuki gave
        ├── NukiValidationError   400, 422 (carries Nuki's detailMessage)          not retryable
        ├── NukiUnauthorizedError 401 (token missing, wrong or expired)            not retryable
        │   └── NukiCredentialsRefused  Nuki refused to issue an OAuth access token   not retryable
        │                             (revoked refresh token, wrong client secret)
        ├── NukiForbiddenError    403 (token lacks the scope)                      not retryable
        ├── NukiNotFoundError     404 (unknown smartlock or auth)                  not retryable
        ├── NukiConflictError     409 (e.g. keypad code already on the lock)       not retryable
        ├── NukiLockedError       423 (an operation is pending on the item)        retryable
        ├── NukiRateLimitedError  429 (``retry_after`` seconds when sent)          retryable
        ├── NukiServerError       5xx                                              retryable
        └── NukiUnexpectedStatus  any other status (402, 405, 426, ...)            not retryable

Messages never contain the API token, and keypad codes in Nuki's own messages are redacted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

REDACTED = "******"


class NukiError(Exception):
    """Base of every error raised by the Nuki client."""

    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NukiRequestRefused(NukiError):
    """The client refused to send a request whose path would not be the endpoint's own: an id
    of the wrong shape (``..``, ``x?y=1``, an auth id that is not 24 hex characters, a
    smartlock id outside 1..2^63-1). Nothing was sent. Callers validate ids at the edge, so
    this is a programming error; retrying the same request cannot help."""


class NukiTransportError(NukiError):
    """The request did not get an HTTP answer (timeout, connection refused or reset)."""

    retryable = True


class NukiHTTPError(NukiError):
    """Nuki answered with a non-success status."""

    def __init__(
        self, message: str, *, status: int, method: str, path: str, detail: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.method = method
        self.path = path
        self.detail = detail


class NukiValidationError(NukiHTTPError):
    """400 or 422: Nuki refused the values. ``detail`` holds Nuki's explanation."""


class NukiUnauthorizedError(NukiHTTPError):
    """401: the API token is missing, wrong or expired."""


class NukiCredentialsRefused(NukiUnauthorizedError):
    """Nuki's token endpoint refused to issue an access token for an OAuth account: its refresh
    token was revoked or expired (``invalid_grant``), or the client id or secret is wrong
    (``invalid_client``). A person must authorize the account again; retrying cannot help."""


class NukiForbiddenError(NukiHTTPError):
    """403: the token is valid but lacks the scope for this call."""


class NukiNotFoundError(NukiHTTPError):
    """404: the smartlock or authorization does not exist (or is not this account's)."""


class NukiConflictError(NukiHTTPError):
    """409: the change conflicts with the lock's state, e.g. a keypad code already on the lock."""


class NukiLockedError(NukiHTTPError):
    """423: an operation on this item is still pending on the device; try again later."""

    retryable = True


class NukiRateLimitedError(NukiHTTPError):
    """429: Nuki's abuse protection; ``retry_after`` is the advised wait in seconds, if sent."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        status: int,
        method: str,
        path: str,
        detail: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, method=method, path=path, detail=detail)
        self.retry_after = retry_after


class NukiServerError(NukiHTTPError):
    """5xx: a fault on Nuki's side; the request may or may not have taken effect."""

    retryable = True


class NukiUnexpectedStatus(NukiHTTPError):
    """Any status the client has no better class for (402, 405, 426, ...)."""


_HINTS: dict[type[NukiHTTPError], str] = {
    NukiValidationError: "Nuki refused the values; correct the input",
    NukiUnauthorizedError: "check the Nuki API token (NUKIFLOW_NUKI_TOKEN)",
    NukiForbiddenError: "the Nuki API token lacks the scope for this call",
    NukiNotFoundError: "check the smartlock id and auth id",
    NukiConflictError: "the change conflicts with what the lock holds",
    NukiLockedError: "an operation on this item is still pending on the device",
    NukiRateLimitedError: "Nuki is rate limiting this account",
    NukiServerError: "a fault on Nuki's side",
    NukiUnexpectedStatus: "unexpected answer from Nuki",
}


def _class_for(status: int) -> type[NukiHTTPError]:
    if status in (400, 422):
        return NukiValidationError
    if status == 401:
        return NukiUnauthorizedError
    if status == 403:
        return NukiForbiddenError
    if status == 404:
        return NukiNotFoundError
    if status == 409:
        return NukiConflictError
    if status == 423:
        return NukiLockedError
    if status == 429:
        return NukiRateLimitedError
    if 500 <= status <= 599:
        return NukiServerError
    return NukiUnexpectedStatus


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


_CODE_IN_MESSAGE = re.compile(r"(value ')[^']*(' for parameter 'code')")


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret and any keypad code Nuki quotes replaced by ``******``."""
    text = _CODE_IN_MESSAGE.sub(rf"\g<1>{REDACTED}\g<2>", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def _detail_of(response: httpx.Response) -> str | None:
    """Nuki's explanation: ``detailMessage`` (400/409) or a 422 status ``description``."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    for key in ("detailMessage", "description", "reasonPhrase", "message"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def error_from_response(response: httpx.Response, *, secrets: Iterable[str] = ()) -> NukiHTTPError:
    """Map a non-success answer to its error class (the one place status codes are read)."""
    status = response.status_code
    method = response.request.method
    path = response.request.url.path
    secrets = list(secrets)
    detail = _detail_of(response)
    if detail is not None:
        detail = redact(detail, secrets)
    cls = _class_for(status)
    message = f"Nuki answered {status} to {method} {path}: {_HINTS[cls]}"
    if detail:
        message += f" ({detail})"
    if cls is NukiRateLimitedError:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is not None:
            message += f"; retry after {retry_after:g} s"
        return NukiRateLimitedError(
            message, status=status, method=method, path=path, detail=detail, retry_after=retry_after
        )
    return cls(message, status=status, method=method, path=path, detail=detail)
