"""Internal: Nuki's error answers, with the bodies the real API sends (see BEHAVIOUR.md
section 3)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from nukiflow.contracts.wire import NukiErrorBody, NukiStatusBody

REASON_PHRASES = {
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class NukiError(Exception):
    """Raised anywhere in request handling; becomes the matching Nuki error response."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, body.get("detailMessage") or body.get("description") or "")
        self.status = status
        self.body = body
        self.headers = headers or {}

    def response(self) -> Response:
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


def _error_body(detail: str | None = None) -> dict[str, Any]:
    # `to_wire` leaves out an absent detailMessage, which gives the exact 423 body.
    return NukiErrorBody(detail_message=detail).to_wire()


def _status_body(status: int, description: str) -> dict[str, Any]:
    return NukiStatusBody(
        code=status, reason_phrase=REASON_PHRASES.get(status), description=description
    ).to_wire()


def bad_parameter(parameter: str, value: object) -> NukiError:
    """400 as Nuki words it, e.g. for an invalid keypad code."""
    return NukiError(
        400, _error_body(f"The supplied value '{value}' for parameter '{parameter}' is not valid")
    )


def bad_request(detail: str) -> NukiError:
    return NukiError(400, _error_body(detail))


def unauthorized() -> NukiError:
    return NukiError(401, _error_body("Not authorized"))


def forbidden() -> NukiError:
    """403: the token is valid but may not touch this smartlock (e.g. a shared lock the
    account lost its admin rights on)."""
    return NukiError(403, _error_body("Forbidden"))


def not_found(what: str) -> NukiError:
    return NukiError(404, _error_body(f"{what} not found"))


def not_allowed(detail: str) -> NukiError:
    return NukiError(405, _error_body(detail))


def conflict(detail: str) -> NukiError:
    return NukiError(409, _error_body(detail))


def unprocessable(description: str) -> NukiError:
    return NukiError(422, _status_body(422, description))


def locked() -> NukiError:
    """423: an operation on this item is still pending. Nuki sends no message."""
    return NukiError(423, _error_body())


def rate_limited(retry_after: int | None) -> NukiError:
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return NukiError(429, _status_body(429, "Too many requests (simulated)"), headers)


def server_error(status: int) -> NukiError:
    return NukiError(status, _status_body(status, "Simulated server fault"))


async def handle_nuki_error(request: Request, exc: Exception) -> Response:
    """Starlette exception handler for `NukiError`."""
    assert isinstance(exc, NukiError)
    return exc.response()
