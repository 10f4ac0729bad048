"""Async client for the Nuki Web API, used by the activities (and by the demo's plain baseline).

One instance owns one ``httpx.AsyncClient`` (connection pool, explicit timeouts); pass
``transport=`` to put a test transport underneath. Every failure surfaces as one of the
exceptions in :mod:`activities.nuki_errors`. The API token never appears in ``repr``, logs or
error messages.

The bearer token comes from a :class:`~nukiflow.accounts.tokens.TokenSource` (a plain string is
an API token): an OAuth account's request answered 401 gets a renewed access token and is sent
once more; a second 401, or a 401 to an API token, stands.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, NewType, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from nukiflow.accounts.tokens import StaticToken, TokenSource
from nukiflow.activities.nuki_errors import (
    NukiError,
    NukiRequestRefused,
    NukiTransportError,
    NukiUnauthorizedError,
    error_from_response,
    redact,
)
from nukiflow.contracts.validation import InputError, check_auth_id, check_smartlock_id
from nukiflow.contracts.wire import (
    DecentralWebhook,
    NukiModel,
    Smartlock,
    SmartlockAction,
    SmartlockAuth,
    SmartlockAuthCreate,
    SmartlockAuthMultiUpdate,
    SmartlockAuthUpdate,
    SmartlockLog,
    SmartlocksAuthCreate,
    WebhookFeature,
)

DEFAULT_BASE_URL = "https://api.nuki.io"

# Nuki answers in well under a second; a slow answer is a fault worth retrying, not waiting for.
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=15.0, write=15.0, pool=5.0)

M = TypeVar("M", bound=BaseModel)

# A request path built by :func:`api_path` (the only way the client makes one).
ApiPath = NewType("ApiPath", str)

# The shape every path parameter must have, by its name in the templates below.
_SEGMENTS: dict[str, Callable[[object], object]] = {
    "smartlock_id": check_smartlock_id,
    "auth_id": check_auth_id,
    "webhook_id": lambda value: _checked_webhook_id(value),
}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def api_path(template: str, **values: object) -> ApiPath:
    """``template`` (``/smartlock/{smartlock_id}/auth/{auth_id}``) with every placeholder
    replaced by its value, checked against the shape of that kind of id and percent-encoded.

    Whatever the caller validated, the path cannot leave its template: ``..``, ``x?y=1``,
    ``../../account`` or a smartlock id of 0 raise :class:`NukiRequestRefused` and nothing is
    sent (an unchecked id once turned ``DELETE /smartlock/1/auth/..`` into
    ``DELETE /smartlock/1``, which removes the lock from the account).
    """
    names = _PLACEHOLDER.findall(template)
    if sorted(names) != sorted(values):
        raise NukiRequestRefused(
            f"refused to build {template}: it takes {', '.join(names) or 'no values'}, "
            f"not {', '.join(sorted(values)) or 'none'}"
        )

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        check = _SEGMENTS.get(name)
        if check is None:
            raise NukiRequestRefused(f"refused to build {template}: no rule for {{{name}}}")
        try:
            segment = str(check(values[name]))
        except InputError as exc:
            raise NukiRequestRefused(
                f"refused to send a request to {template}: {name} has the wrong shape ({exc}); "
                "nothing was sent"
            ) from None
        return quote(segment, safe="")

    path = _PLACEHOLDER.sub(fill, template)
    parts = path.split("/")
    if (
        len(parts) != len(template.split("/"))
        or parts[0] != ""
        or any(part in ("", ".", "..") for part in parts[1:])
    ):
        raise NukiRequestRefused(f"refused to send a request to {template}: the path left it")
    return ApiPath(path)


def _checked_auth_ids(auth_ids: Iterable[object]) -> list[str]:
    try:
        return [check_auth_id(auth_id) for auth_id in auth_ids]
    except InputError as exc:
        raise NukiRequestRefused(f"refused to send auth ids: {exc}; nothing was sent") from None


def _checked_webhook_id(value: object) -> int:
    """Nuki's webhook ids are positive integers (int64)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise InputError(f"a webhook id is a positive integer, not {value!r:.40}")
    return value


def _checked_types(types: Sequence[int]) -> str:
    if any(isinstance(t, bool) or not isinstance(t, int) or not 0 <= t <= 255 for t in types):
        raise NukiRequestRefused("refused to send auth types: they are numbers 0..255")
    return ",".join(map(str, types))


_SMARTLOCKS = TypeAdapter(list[Smartlock])
_AUTHS = TypeAdapter(list[SmartlockAuth])
_LOGS = TypeAdapter(list[SmartlockLog])
_WEBHOOKS = TypeAdapter(list[DecentralWebhook])


class NukiClient:
    """Typed async access to the Nuki Web API endpoints nukiflow needs."""

    def __init__(
        self,
        token: str | TokenSource,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        user_agent: str = "nukiflow",
        account: str | None = None,
    ) -> None:
        self._tokens: TokenSource = StaticToken(token) if isinstance(token, str) else token
        # The account this client serves (None: the default one), named in 401 messages.
        self.account = account
        # Further values never to show in an error message (webhook secrets it was given).
        self._secrets: list[str] = []
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": user_agent},
        )

    def __repr__(self) -> str:
        return f"NukiClient(base_url={self.base_url!r}, account={self.account!r})"

    async def __aenter__(self) -> NukiClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- smartlocks -----------------------------------------------------------------------

    async def list_smartlocks(self) -> list[Smartlock]:
        return _SMARTLOCKS.validate_python(await self._get_json(api_path("/smartlock")))

    async def get_smartlock(self, smartlock_id: int) -> Smartlock:
        return Smartlock.model_validate(
            await self._get_json(api_path("/smartlock/{smartlock_id}", smartlock_id=smartlock_id))
        )

    async def sync(self, smartlock_id: int) -> None:
        """Ask the cloud to sync the lock's state and authorizations from the device."""
        await self._send(
            "POST", api_path("/smartlock/{smartlock_id}/sync", smartlock_id=smartlock_id)
        )

    # -- authorizations of one lock -------------------------------------------------------

    async def list_auths(
        self, smartlock_id: int, *, types: Sequence[int] | None = None
    ) -> list[SmartlockAuth]:
        params = {"types": _checked_types(types)} if types else None
        path = api_path("/smartlock/{smartlock_id}/auth", smartlock_id=smartlock_id)
        return _AUTHS.validate_python(await self._get_json(path, params=params))

    async def get_auth(self, smartlock_id: int, auth_id: str) -> SmartlockAuth:
        path = api_path(
            "/smartlock/{smartlock_id}/auth/{auth_id}", smartlock_id=smartlock_id, auth_id=auth_id
        )
        return SmartlockAuth.model_validate(await self._get_json(path))

    async def create_auth(self, smartlock_id: int, auth: SmartlockAuthCreate) -> None:
        """Queue a new auth. Nuki answers 204 without an id: find it by listing afterwards."""
        path = api_path("/smartlock/{smartlock_id}/auth", smartlock_id=smartlock_id)
        await self._send("PUT", path, body=auth)

    async def update_auth(self, smartlock_id: int, auth_id: str, auth: SmartlockAuthUpdate) -> None:
        """Queue an update. Nuki replaces the auth with the body: always send every field."""
        path = api_path(
            "/smartlock/{smartlock_id}/auth/{auth_id}", smartlock_id=smartlock_id, auth_id=auth_id
        )
        await self._send("POST", path, body=auth)

    async def delete_auth(self, smartlock_id: int, auth_id: str) -> None:
        path = api_path(
            "/smartlock/{smartlock_id}/auth/{auth_id}", smartlock_id=smartlock_id, auth_id=auth_id
        )
        await self._send("DELETE", path)

    # -- authorizations across locks (bulk) -----------------------------------------------

    async def list_all_auths(
        self, *, account_user_id: int | None = None, types: Sequence[int] | None = None
    ) -> list[SmartlockAuth]:
        params: dict[str, str] = {}
        if account_user_id is not None:
            params["accountUserId"] = str(account_user_id)
        if types:
            params["types"] = _checked_types(types)
        return _AUTHS.validate_python(
            await self._get_json(api_path("/smartlock/auth"), params=params)
        )

    async def create_auths(self, auth: SmartlocksAuthCreate) -> None:
        await self._send("PUT", api_path("/smartlock/auth"), body=auth)

    async def update_auths(self, updates: Sequence[SmartlockAuthMultiUpdate]) -> None:
        _checked_auth_ids(u.id for u in updates)
        await self._send(
            "POST",
            api_path("/smartlock/auth"),
            json_body=[u.to_wire() for u in updates],
            secrets=[str(u.code) for u in updates if u.code is not None],
        )

    async def delete_auths(self, auth_ids: Sequence[str]) -> None:
        await self._send(
            "DELETE", api_path("/smartlock/auth"), json_body=_checked_auth_ids(auth_ids)
        )

    # -- actions and logs -----------------------------------------------------------------

    async def action(self, smartlock_id: int, action: SmartlockAction) -> None:
        """Queue an action (unlock, lock, unlatch, ...). 204 means queued, not done."""
        path = api_path("/smartlock/{smartlock_id}/action", smartlock_id=smartlock_id)
        await self._send("POST", path, body=action)

    async def lock(self, smartlock_id: int) -> None:
        await self._send(
            "POST", api_path("/smartlock/{smartlock_id}/action/lock", smartlock_id=smartlock_id)
        )

    async def unlock(self, smartlock_id: int) -> None:
        await self._send(
            "POST", api_path("/smartlock/{smartlock_id}/action/unlock", smartlock_id=smartlock_id)
        )

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
            params["authId"] = _checked_auth_ids([auth_id])[0]
        if action is not None:
            params["action"] = str(action)
        if from_date is not None:
            params["fromDate"] = from_date.isoformat()
        if to_date is not None:
            params["toDate"] = to_date.isoformat()
        path = api_path("/smartlock/{smartlock_id}/log", smartlock_id=smartlock_id)
        return _LOGS.validate_python(await self._get_json(path, params=params))

    # -- decentral webhooks ---------------------------------------------------------------

    async def register_webhook(
        self, url: str, features: Sequence[WebhookFeature]
    ) -> DecentralWebhook:
        """Register a decentral webhook; the answer carries its ``id`` and ``secret``."""
        body = DecentralWebhook(webhook_url=url, webhook_features=list(features))
        response = await self._request(
            "PUT", api_path("/api/decentralWebhook"), json_body=body.to_wire()
        )
        webhook = DecentralWebhook.model_validate(response.json())
        if webhook.secret:
            # The secret keys every delivery's signature: keep it out of anything logged.
            self._secrets.append(webhook.secret)
        return webhook

    async def list_webhooks(self) -> list[DecentralWebhook]:
        return _WEBHOOKS.validate_python(await self._get_json(api_path("/api/decentralWebhook")))

    async def delete_webhook(self, webhook_id: int) -> None:
        path = api_path("/api/decentralWebhook/{webhook_id}", webhook_id=webhook_id)
        await self._send("DELETE", path)

    # -- plumbing -------------------------------------------------------------------------

    async def _get_json(self, path: ApiPath, *, params: dict[str, str] | None = None) -> Any:
        response = await self._request("GET", path, params=params)
        return response.json()

    async def _send(
        self,
        method: str,
        path: ApiPath,
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
        path: ApiPath,
        *,
        params: dict[str, str] | None = None,
        json_body: Any = None,
        secrets: Iterable[str] = (),
    ) -> httpx.Response:
        token = await self._tokens.token()
        response = await self._send_once(method, path, token, params, json_body, secrets)
        if response.status_code == 401:
            # An OAuth access token that expired (or was revoked): renew once and send again.
            renewed = await self._tokens.renew(token)
            if renewed is not None:
                token = renewed
                response = await self._send_once(method, path, token, params, json_body, secrets)
        if response.is_success:
            return response
        error = error_from_response(response, secrets=[*self._all_secrets(), *secrets])
        if isinstance(error, NukiUnauthorizedError) and self.account is not None:
            who = f"account {self.account}"
            error = NukiUnauthorizedError(
                error.message.replace("(NUKIFLOW_NUKI_TOKEN)", f"of {who} (its credentials)")
                + f", and that the lock belongs to {who}",
                status=error.status,
                method=error.method,
                path=error.path,
                detail=error.detail,
            )
        raise error

    def _all_secrets(self) -> list[str]:
        return [*self._tokens.secret_values(), *self._secrets]

    async def _send_once(
        self,
        method: str,
        path: ApiPath,
        token: str,
        params: dict[str, str] | None,
        json_body: Any,
        secrets: Iterable[str],
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        try:
            return await self._http.request(
                method, path, params=params, json=json_body, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise NukiTransportError(
                f"Nuki did not answer {method} {path} in time ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            reason = redact(str(exc) or type(exc).__name__, [*self._all_secrets(), *secrets])
            raise NukiTransportError(
                f"could not reach Nuki at {self.base_url} for {method} {path}: {reason}"
            ) from None


__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "ApiPath",
    "NukiClient",
    "NukiError",
    "NukiRequestRefused",
    "api_path",
]
