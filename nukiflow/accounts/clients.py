"""A Nuki client per account, built from a :class:`~nukiflow.accounts.CredentialProvider`.

Not exported from :mod:`nukiflow.accounts` (it needs the Nuki client, which needs the token
sources of that package): ``from nukiflow.accounts.clients import AccountClients``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import httpx

from nukiflow.accounts.credentials import ApiToken
from nukiflow.accounts.provider import AccountSpec, CredentialProvider
from nukiflow.accounts.resolver import DEFAULT_TTL_SECONDS, AccountResolver
from nukiflow.accounts.tokens import OAuthTokens, StaticToken, TokenSource
from nukiflow.activities.nuki_client import DEFAULT_TIMEOUT, NukiClient
from nukiflow.activities.nuki_errors import NukiRequestRefused


class NoDefaultAccount:
    """The token source of the default account when none is configured: every request is
    refused before it is sent, saying what to do."""

    async def token(self) -> str:
        raise NukiRequestRefused(
            "this lock's workflow has no account and no default account is configured "
            "(NUKIFLOW_NUKI_TOKEN is unset); nothing was sent. Give the lock's account "
            "(--account NAME, account=NAME) or set NUKIFLOW_NUKI_TOKEN"
        )

    async def renew(self, rejected: str) -> str | None:
        return None

    def secret_values(self) -> list[str]:
        return []


class AccountClients(Mapping[str | None, NukiClient]):
    """Account name (``None``: the default account) -> its Nuki client; closes them all."""

    def __init__(self, clients: Mapping[str | None, NukiClient], specs: list[AccountSpec]) -> None:
        self._clients = dict(clients)
        self.specs = specs
        self._sources: list[OAuthTokens] = []

    @classmethod
    async def open(
        cls,
        provider: CredentialProvider,
        base_url: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,  # noqa: ASYNC109 (the HTTP client's)
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> AccountClients:
        """A client for every account the provider names, and one for the default account
        (refusing every request when the provider has none)."""
        specs = list(await provider.accounts())
        clients: dict[str | None, NukiClient] = {}
        oauth: list[OAuthTokens] = []
        for spec in specs:
            credentials = await provider.credentials(spec.name)
            source: TokenSource
            if isinstance(credentials, ApiToken):
                source = StaticToken(credentials.token.get_secret_value())
            else:
                tokens = OAuthTokens(
                    credentials,
                    base_url,
                    account=spec.name,
                    transport=transport,
                    timeout=timeout.read or 15.0,
                )
                oauth.append(tokens)
                source = tokens
            clients[spec.name] = NukiClient(
                source, base_url, timeout=timeout, transport=transport, account=spec.name
            )
        if None not in clients:
            clients[None] = NukiClient(
                NoDefaultAccount(), base_url, timeout=timeout, transport=transport
            )
        opened = cls(clients, specs)
        opened._sources = oauth
        return opened

    def __getitem__(self, account: str | None) -> NukiClient:
        return self._clients[account]

    def __iter__(self) -> Iterator[str | None]:
        return iter(self._clients)

    def __len__(self) -> int:
        return len(self._clients)

    @property
    def named(self) -> list[AccountSpec]:
        """The named accounts (each served on a task queue of its own)."""
        return [spec for spec in self.specs if spec.name is not None]

    def resolver(self, ttl: float = DEFAULT_TTL_SECONDS) -> AccountResolver:
        """Which account holds a lock, asked of the accounts that are configured."""
        configured = {spec.name for spec in self.specs}
        return AccountResolver(
            {name: client for name, client in self._clients.items() if name in configured},
            ttl=ttl,
        )

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        for source in self._sources:
            await source.aclose()

    async def __aenter__(self) -> AccountClients:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
