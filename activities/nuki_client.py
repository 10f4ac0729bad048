"""Async client for the Nuki Web API, used by the activities (and by the demo's plain baseline).

One instance owns one ``httpx.AsyncClient`` (connection pool, explicit timeouts); pass
``transport=`` to put a test transport underneath. Every failure surfaces as one of the
exceptions in :mod:`activities.nuki_errors`. The API token never appears in ``repr``, logs or
error messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from activities.nuki_errors import NukiError, NukiTransportError, error_from_response, redact
from nukiflow.models.wire import (
    NukiModel,
    Smartlock,
    SmartlockAction,
    SmartlockAuth,
    SmartlockAuthCreate,
    SmartlockAuthMultiUpdate,
    SmartlockAuthUpdate,
    SmartlockLog,
    SmartlocksAuthCreate,
)

DEFAULT_BASE_URL = "https://api.nuki.io"

# Nuki answers in well under a second; a slow answer is a fault worth retrying, not waiting for.
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=15.0, write=15.0, pool=5.0)

M = TypeVar("M", bound=BaseModel)

_SMARTLOCKS = TypeAdapter(list[Smartlock])
_AUTHS = TypeAdapter(list[SmartlockAuth])
_LOGS = TypeAdapter(list[SmartlockLog])


class NukiClient:
    """Typed async access to the Nuki Web API endpoints nukiflow needs."""

    def __init__(
        self,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        user_agent: str = "nukiflow",
    ) -> None:
        self._token = token
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "User-Agent": user_agent,
            },
        )

    def __repr__(self) -> str:
        return f"NukiClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> NukiClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- smartlocks -----------------------------------------------------------------------

    async def list_smartlocks(self) -> list[Smartlock]:
        return _SMARTLOCKS.validate_python(await self._get_json("/smartlock"))

    async def get_smartlock(self, smartlock_id: int) -> Smartlock:
        return Smartlock.model_validate(await self._get_json(f"/smartlock/{smartlock_id}"))

    async def sync(self, smartlock_id: int) -> None:
        """Ask the cloud to sync the lock's state and authorizations from the device."""
        await self._send("POST", f"/smartlock/{smartlock_id}/sync")

    # -- authorizations of one lock -------------------------------------------------------

    async def list_auths(
        self, smartlock_id: int, *, types: Sequence[int] | None = None
    ) -> list[SmartlockAuth]:
        params = {"types": ",".join(map(str, types))} if types else None
        return _AUTHS.validate_python(
            await self._get_json(f"/smartlock/{smartlock_id}/auth", params=params)
        )

    async def get_auth(self, smartlock_id: int, auth_id: str) -> SmartlockAuth:
        return SmartlockAuth.model_validate(
            await self._get_json(f"/smartlock/{smartlock_id}/auth/{auth_id}")
        )

    async def create_auth(self, smartlock_id: int, auth: SmartlockAuthCreate) -> None:
        """Queue a new auth. Nuki answers 204 without an id: find it by listing afterwards."""
        await self._send("PUT", f"/smartlock/{smartlock_id}/auth", body=auth)

    async def update_auth(self, smartlock_id: int, auth_id: str, auth: SmartlockAuthUpdate) -> None:
        """Queue an update. Nuki replaces the auth with the body: always send every field."""
        await self._send("POST", f"/smartlock/{smartlock_id}/auth/{auth_id}", body=auth)

    async def delete_auth(self, smartlock_id: int, auth_id: str) -> None:
        await self._send("DELETE", f"/smartlock/{smartlock_id}/auth/{auth_id}")

    # -- authorizations across locks (bulk) -----------------------------------------------

    async def list_all_auths(
        self, *, account_user_id: int | None = None, types: Sequence[int] | None = None
    ) -> list[SmartlockAuth]:
        params: dict[str, str] = {}
        if account_user_id is not None:
            params["accountUserId"] = str(account_user_id)
        if types:
            params["types"] = ",".join(map(str, types))
        return _AUTHS.validate_python(await self._get_json("/smartlock/auth", params=params))

    async def create_auths(self, auth: SmartlocksAuthCreate) -> None:
        await self._send("PUT", "/smartlock/auth", body=auth)

    async def update_auths(self, updates: Sequence[SmartlockAuthMultiUpdate]) -> None:
        await self._send(
            "POST",
            "/smartlock/auth",
            json_body=[u.to_wire() for u in updates],
            secrets=[str(u.code) for u in updates if u.code is not None],
        )

    async def delete_auths(self, auth_ids: Sequence[str]) -> None:
        await self._send("DELETE", "/smartlock/auth", json_body=list(auth_ids))

    # -- actions and logs -----------------------------------------------------------------

    async def action(self, smartlock_id: int, action: SmartlockAction) -> None:
        """Queue an action (unlock, lock, unlatch, ...). 204 means queued, not done."""
        await self._send("POST", f"/smartlock/{smartlock_id}/action", body=action)

    async def lock(self, smartlock_id: int) -> None:
        await self._send("POST", f"/smartlock/{smartlock_id}/action/lock")

    async def unlock(self, smartlock_id: int) -> None:
        await self._send("POST", f"/smartlock/{smartlock_id}/action/unlock")

    async def logs(
        self,
        smartlock_id: int,
        *,
        auth_id: str | None = None,
        action: int | None = None,
        from_date: datetime | None = None,
        to_date: datetime | None = None,
        limit: int = 20,
    ) -> list[SmartlockLog]:
        """The lock's log, newest first (Nuki serves at most 50 entries per call)."""
        params: dict[str, str] = {"limit": str(min(max(limit, 1), 50))}
        if auth_id is not None:
            params["authId"] = auth_id
        if action is not None:
            params["action"] = str(action)
        if from_date is not None:
            params["fromDate"] = from_date.isoformat()
        if to_date is not None:
            params["toDate"] = to_date.isoformat()
        return _LOGS.validate_python(
            await self._get_json(f"/smartlock/{smartlock_id}/log", params=params)
        )

    # -- plumbing -------------------------------------------------------------------------

    async def _get_json(self, path: str, *, params: dict[str, str] | None = None) -> Any:
        response = await self._request("GET", path, params=params)
        return response.json()

    async def _send(
        self,
        method: str,
        path: str,
        *,
        body: NukiModel | None = None,
        json_body: Any = None,
        secrets: Iterable[str] = (),
    ) -> None:
        secrets = list(secrets)
        if body is not None:
            json_body = body.to_wire()
            code = getattr(body, "code", None)
            if code is not None:
                secrets.append(str(code))
        await self._request(method, path, json_body=json_body, secrets=secrets)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: Any = None,
        secrets: Iterable[str] = (),
    ) -> httpx.Response:
        secrets = [self._token, *secrets]
        try:
            response = await self._http.request(method, path, params=params, json=json_body)
        except httpx.TimeoutException as exc:
            raise NukiTransportError(
                f"Nuki did not answer {method} {path} in time ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            reason = redact(str(exc) or type(exc).__name__, secrets)
            raise NukiTransportError(
                f"could not reach Nuki at {self.base_url} for {method} {path}: {reason}"
            ) from None
        if response.is_success:
            return response
        raise error_from_response(response, secrets=secrets)


__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "NukiClient", "NukiError"]
