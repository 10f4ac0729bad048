"""Internal: the accounts of the fake cloud, their tokens and Nuki's OAuth2 token endpoint.

The server's own token is the API token of the first account (``default``) and the key of the
control surface. Further accounts are added through the control surface, each with API tokens
and/or an OAuth client; each lock belongs to one account, and a token sees only its account's
locks (another account's lock answers ``foreign_lock_status``, default 401).

``POST /oauth/token`` (form-encoded; the client by HTTP Basic or ``client_id`` /
``client_secret`` in the form) issues access tokens by the ``client_credentials`` and
``refresh_token`` grants (RFC 6749; Nuki documents the endpoint, not its format). An access
token lives ``access_token_lifetime`` seconds, or until the control surface expires or revokes
it: then every request with it answers 401, as an expired token does. A revoked account's
refresh token and client are refused (``invalid_grant``).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .control_models import AccountSpec, AccountView

DEFAULT_ACCOUNT = "default"
TOKEN_PATH = "/oauth/token"


@dataclass
class SimAccount:
    name: str
    account_id: int
    api_tokens: set[str] = field(default_factory=set)
    client_id: str | None = None
    client_secret: str | None = None
    refresh_tokens: set[str] = field(default_factory=set)
    # Access token -> when it expires (time.monotonic()).
    access_tokens: dict[str, float] = field(default_factory=dict)
    revoked: bool = False
    issued: int = 0
    refused: int = 0

    def view(self) -> AccountView:
        now = time.monotonic()
        return AccountView(
            name=self.name,
            account_id=self.account_id,
            oauth=self.client_id is not None,
            revoked=self.revoked,
            access_tokens_issued=self.issued,
            access_tokens_live=sum(1 for end in self.access_tokens.values() if end > now),
            token_requests_refused=self.refused,
        )


class AccountBook:
    """Every account of the fake cloud and the tokens that reach it."""

    def __init__(self, control_token: str, lifetime: Callable[[], float]) -> None:
        self.control_token = control_token
        self._lifetime = lifetime
        self.accounts: dict[str, SimAccount] = {}

    def reset(self, default_account_id: int) -> None:
        self.accounts = {
            DEFAULT_ACCOUNT: SimAccount(
                DEFAULT_ACCOUNT, default_account_id, api_tokens={self.control_token}
            )
        }

    def add(self, spec: AccountSpec) -> SimAccount:
        if spec.name in self.accounts:
            raise ValueError(f"account {spec.name} exists")
        account = SimAccount(
            spec.name,
            max(a.account_id for a in self.accounts.values()) + 1,
            api_tokens=set(spec.api_tokens),
            client_id=spec.client_id,
            client_secret=spec.client_secret,
            refresh_tokens=set(spec.refresh_tokens),
        )
        self.accounts[spec.name] = account
        return account

    def get(self, name: str) -> SimAccount | None:
        return self.accounts.get(name)

    def account_id(self, name: str | None) -> int:
        account = self.accounts.get(name or DEFAULT_ACCOUNT)
        if account is None:
            raise KeyError(name)
        return account.account_id

    def authenticate(self, token: str) -> SimAccount | None:
        """The account ``token`` reaches: an API token, or an access token not yet expired."""
        now = time.monotonic()
        for account in self.accounts.values():
            if any(secrets.compare_digest(token, known) for known in account.api_tokens):
                return account
            end = account.access_tokens.get(token)
            if end is not None and end > now:
                return account
        return None

    def expire(self, account: SimAccount) -> None:
        """Every access token of ``account`` expires now (a deterministic expiry)."""
        account.access_tokens = dict.fromkeys(account.access_tokens, 0.0)

    def revoke(self, account: SimAccount) -> None:
        """The account's authorization is withdrawn: access and refresh tokens die."""
        self.expire(account)
        account.revoked = True

    # ---- POST /oauth/token -------------------------------------------------------------------

    async def token_endpoint(self, request: Request) -> Response:
        form = {
            k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()
        }
        client_id, client_secret = _basic_client(request) or (
            form.get("client_id"),
            form.get("client_secret"),
        )
        account = next(
            (
                a
                for a in self.accounts.values()
                if a.client_id is not None
                and a.client_id == client_id
                and a.client_secret is not None
                and client_secret is not None
                and secrets.compare_digest(a.client_secret, client_secret)
            ),
            None,
        )
        if account is None:
            return _oauth_error(401, "invalid_client", "client authentication failed")
        grant = form.get("grant_type")
        if grant not in ("client_credentials", "refresh_token"):
            return _oauth_error(
                400, "unsupported_grant_type", "use client_credentials or refresh_token"
            )
        if account.revoked:
            account.refused += 1
            return _oauth_error(400, "invalid_grant", "the authorization was revoked")
        refresh = form.get("refresh_token")
        if grant == "refresh_token" and refresh not in account.refresh_tokens:
            account.refused += 1
            return _oauth_error(400, "invalid_grant", "unknown refresh token")
        access = secrets.token_urlsafe(24)
        lifetime = self._lifetime()
        account.access_tokens[access] = time.monotonic() + lifetime
        account.issued += 1
        body: dict[str, object] = {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": int(lifetime),
        }
        if refresh is not None:
            body["refresh_token"] = refresh
        return JSONResponse(body, headers={"Cache-Control": "no-store"})


def _basic_client(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def _oauth_error(status: int, error: str, description: str) -> Response:
    # RFC 6749 section 5.2.
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )
