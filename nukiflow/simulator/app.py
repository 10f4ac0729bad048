"""Internal: the ASGI app of the fake cloud: bearer check, request log and request-level faults
around the Nuki API routes, plus the control surface."""

from __future__ import annotations

import asyncio
import re
import secrets
import time

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from . import errors
from .accounts import TOKEN_PATH
from .api import build_routes
from .control_api import CONTROL_PREFIX, build_control_routes
from .state import SimState
from .state_base import RequestFaults
from .webhook_api import build_webhook_control_routes, build_webhook_routes

WRITE_METHODS = {"PUT", "POST", "DELETE"}
# Request-level faults of a request on one lock follow that lock's faults.
_LOCK_PATH = re.compile(r"^/smartlock/(\d+)(?:/|$)")


def _bearer(request: Request) -> str | None:
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    return presented.strip() if scheme.lower() == "bearer" else None


def _bearer_ok(request: Request, token: str) -> bool:
    presented = _bearer(request)
    return presented is not None and secrets.compare_digest(presented.encode(), token.encode())


def _smartlock_id(path: str) -> int | None:
    match = _LOCK_PATH.match(path)
    return int(match.group(1)) if match else None


class NukiFrontMiddleware(BaseHTTPMiddleware):
    """What sits in front of every request: the token check; for Nuki API requests also the
    request log and the faults that strike before (5xx, 429), after (502 after commit) or
    around (slow response) the real handling."""

    def __init__(self, app: ASGIApp, state: SimState, token: str) -> None:
        super().__init__(app)
        self.state = state
        self.token = token

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        arrived = time.monotonic()
        path = request.url.path
        control = path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")
        if path == TOKEN_PATH:
            # The token endpoint authenticates the OAuth client, not a bearer.
            response = await call_next(request)
            self.state.record(request.method, path, response.status_code, arrived)
            return response
        presented = _bearer(request)
        account = None if presented is None else self.state.accounts.authenticate(presented)
        if account is None or (control and not _bearer_ok(request, self.token)):
            response = errors.unauthorized().response()
            self.state.record(request.method, path, response.status_code, arrived)
            return response
        if control:
            return await call_next(request)
        # The routes serve the account this token reaches, and only its locks.
        request.state.account_id = account.account_id
        write = request.method in WRITE_METHODS
        faults = self.state.draw_request_faults(_smartlock_id(path), write)
        response = await self._serve_api(request, call_next, faults)
        # Recorded before a slow answer is held back: a client that gives up waiting has
        # still reached the cloud (and, for a write, changed it).
        self.state.record(request.method, path, response.status_code, arrived)
        if faults.slow:
            await asyncio.sleep(faults.slow)
        return response

    async def _serve_api(
        self, request: Request, call_next: RequestResponseEndpoint, faults: RequestFaults
    ) -> Response:
        if faults.forbidden:
            response = errors.forbidden().response()
        elif faults.error_status is not None:
            response = errors.server_error(faults.error_status).response()
        elif faults.rate_limited:
            response = errors.rate_limited(faults.retry_after).response()
        else:
            response = await call_next(request)
            if faults.fail_after_commit and 200 <= response.status_code < 300:
                # The write took effect; only the answer is lost on its way back.
                response = errors.server_error(502).response()
        return response


def build_app(state: SimState, token: str) -> Starlette:
    return Starlette(
        routes=[
            *build_routes(state),
            *build_webhook_routes(state),
            *build_control_routes(state),
            *build_webhook_control_routes(state),
            Route(TOKEN_PATH, state.accounts.token_endpoint, methods=["POST"]),
        ],
        middleware=[Middleware(NukiFrontMiddleware, state=state, token=token)],
        exception_handlers={errors.NukiError: errors.handle_nuki_error},
    )
