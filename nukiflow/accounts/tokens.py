"""The bearer token of each request: a fixed API token, or OAuth2 access tokens that renew.

:class:`OAuthTokens` asks Nuki's token endpoint (``POST /oauth/token``, form-encoded, the
client authenticated with HTTP Basic as RFC 6749 section 2.3.1 requires of every server) for a
short-lived access token: by the ``refresh_token`` grant when the account has a refresh token,
else by ``client_credentials``. Nuki's public documentation names the endpoint but not its
request format; this is standard OAuth 2. Renewal is single-flight: the requests that find the
same token expired wait for one renewal and share its result. A refusal (``invalid_grant``,
``invalid_client``) raises :class:`NukiCredentialsRefused`, not retryable, saying what to do;
no message quotes a token or secret.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol, runtime_checkable

import httpx

from nukiflow.accounts.credentials import OAuthClient
from nukiflow.activities.nuki_errors import (
    NukiCredentialsRefused,
    NukiTransportError,
    error_from_response,
    redact,
)

# Renew this long before an access token's announced end, sparing the request a 401.
RENEW_MARGIN_SECONDS = 30.0
TOKEN_PATH = "/oauth/token"
_REFUSALS = {
    "invalid_grant": "its refresh token was revoked or has expired: authorize nukiflow for "
    "this account again and put the new refresh token into its credentials",
    "invalid_client": "the OAuth client id or secret is wrong: check the account's "
    "client_id and client_secret",
    "unauthorized_client": "the OAuth client may not use this grant: check the client's "
    "settings in Nuki's Advanced API",
}


@runtime_checkable
class TokenSource(Protocol):
    """Where a Nuki client takes the bearer token of each request."""

    async def token(self) -> str:
        """The token to send now."""
        ...

    async def renew(self, rejected: str) -> str | None:
        """A new token after Nuki answered 401 to ``rejected``, or ``None`` when this source
        cannot renew (an API token: the 401 stands)."""
        ...

    def secret_values(self) -> list[str]:
        """Every secret this source holds or issued, for redaction."""
        ...


class StaticToken:
    """A Nuki API token: sent as it is, never renewed."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "StaticToken(******)"

    async def token(self) -> str:
        return self._token

    async def renew(self, rejected: str) -> str | None:
        return None

    def secret_values(self) -> list[str]:
        return [self._token]


class OAuthTokens:
    """Short-lived access tokens of one OAuth account, renewed on expiry (single-flight)."""

    def __init__(
        self,
        client: OAuthClient,
        base_url: str,
        *,
        account: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 15.0,
    ) -> None:
        self._client = client
        self._url = client.token_url or base_url.rstrip("/") + TOKEN_PATH
        self._label = "the default account" if account is None else f"account {account}"
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout, trust_env=False)
        self._lock = asyncio.Lock()
        self._access: str | None = None
        self._refresh = client.refresh_token.get_secret_value() if client.refresh_token else None
        self._expires_at: float | None = None
        self._issued: list[str] = []
        # How many access tokens were fetched (what a test of single-flight renewal counts).
        self.renewals = 0

    def __repr__(self) -> str:
        return f"OAuthTokens({self._label}, {self._url})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def token(self) -> str:
        current = self._access
        if current is not None and not self._ending(current):
            return current
        async with self._lock:
            if self._access is None or self._access == current:
                await self._fetch()
            assert self._access is not None
            return self._access

    async def renew(self, rejected: str) -> str | None:
        async with self._lock:
            if self._access is None or self._access == rejected:
                await self._fetch()
            # Another request renewed it while this one waited: take theirs.
            return self._access

    def secret_values(self) -> list[str]:
        values = [*self._client.secret_values(), *self._issued]
        if self._refresh is not None:
            values.append(self._refresh)
        return values

    def _ending(self, token: str) -> bool:
        return self._expires_at is not None and time.monotonic() >= self._expires_at

    async def _fetch(self) -> None:
        form = {"grant_type": "client_credentials"}
        if self._refresh is not None:
            form = {"grant_type": "refresh_token", "refresh_token": self._refresh}
        if self._client.scope:
            form["scope"] = self._client.scope
        auth = httpx.BasicAuth(
            self._client.client_id, self._client.client_secret.get_secret_value()
        )
        secrets = self.secret_values()
        try:
            response = await self._http.post(self._url, data=form, auth=auth)
        except httpx.HTTPError as exc:
            reason = redact(str(exc) or type(exc).__name__, secrets)
            raise NukiTransportError(
                f"could not reach Nuki's token endpoint for {self._label}: {reason}"
            ) from None
        if response.status_code in (400, 401):
            raise self._refused(response)
        if not response.is_success:
            raise error_from_response(response, secrets=secrets)
        try:
            body = response.json()
            access = str(body["access_token"])
            expires_in = body.get("expires_in")
            refresh = body.get("refresh_token")
        except (ValueError, KeyError, TypeError):
            raise NukiTransportError(
                f"Nuki's token endpoint answered {self._label} without an access token"
            ) from None
        self._access = access
        self._issued = [*self._issued[-3:], access]
        if isinstance(refresh, str) and refresh:
            self._refresh = refresh  # a server that rotates refresh tokens
        self._expires_at = (
            time.monotonic() + max(0.0, float(expires_in) - RENEW_MARGIN_SECONDS)
            if isinstance(expires_in, int | float)
            else None
        )
        self.renewals += 1

    def _refused(self, response: httpx.Response) -> NukiCredentialsRefused:
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            error = None
        code = error if isinstance(error, str) and error in _REFUSALS else "refused"
        hint = _REFUSALS.get(code, "check the account's OAuth credentials")
        return NukiCredentialsRefused(
            f"Nuki refused to issue an OAuth access token for {self._label} "
            f"({response.status_code} {code}): {hint}",
            status=response.status_code,
            method="POST",
            path=TOKEN_PATH,
            detail=code,
        )
