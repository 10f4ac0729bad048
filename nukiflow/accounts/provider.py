"""Where the credentials of each Nuki account come from.

:class:`CredentialProvider` is what nukiflow asks; a secret manager (Vault, AWS Secrets
Manager, ...) implements its two methods. :class:`FileCredentialProvider` is the default: the
accounts of ``NUKIFLOW_ACCOUNTS_FILE`` (TOML or JSON, private like a key file) plus the default
account of ``NUKIFLOW_NUKI_TOKEN`` (named ``None``: no account given means this one).

The accounts file::

    [accounts.acme]                   # an API token of the customer's Nuki account
    token = "..."
    activities_per_second = 5         # optional: Nuki calls per second, across all workers

    [accounts.beta]                   # OAuth2 (Nuki's Advanced API)
    client_id = "..."
    client_secret = "..."
    refresh_token = "..."             # optional: without it, the client_credentials grant

JSON: ``{"accounts": {"acme": {"token": "..."}}}``.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from nukiflow.accounts.credentials import ApiToken, Credentials, OAuthClient
from nukiflow.contracts.accounts import account_label, check_account_name
from nukiflow.contracts.validation import InputError
from nukiflow.temporal.codec import key_file_is_private

# An accounts file larger than this is not a list of accounts.
MAX_ACCOUNTS_FILE_BYTES = 1024 * 1024


class AccountsFileError(RuntimeError):
    """The accounts file cannot be used; the message says what to fix (never a secret)."""


@dataclass(frozen=True)
class AccountSpec:
    """What nukiflow may know of an account besides its credentials (nothing secret)."""

    name: str | None
    # Nuki activities per second on the account's task queue, across all workers (None: no limit).
    activities_per_second: float | None = None


@runtime_checkable
class CredentialProvider(Protocol):
    """The accounts nukiflow serves and their credentials. Called by workers (and by callers
    that resolve which account holds a lock), never by workflow code: no credential reaches a
    workflow's input or history."""

    async def accounts(self) -> Sequence[AccountSpec]:
        """Every account to serve; ``name=None`` is the default account."""
        ...

    async def credentials(self, account: str | None) -> Credentials:
        """The credentials of ``account`` (``None``: the default account); raises
        ``LookupError`` for an account it does not know."""
        ...


class _AccountEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    scope: str | None = None
    token_url: str | None = None
    activities_per_second: float | None = Field(default=None, gt=0, le=10_000)

    def credentials(self) -> Credentials:
        oauth = (self.client_id, self.client_secret, self.refresh_token, self.scope, self.token_url)
        if self.token is not None:
            if any(value is not None for value in oauth):
                raise ValueError("give either `token` or the OAuth client fields, not both")
            return ApiToken(token=self.token)
        if self.client_id is None or self.client_secret is None:
            raise ValueError("give `token`, or `client_id` and `client_secret` (OAuth)")
        return OAuthClient(
            client_id=self.client_id,
            client_secret=self.client_secret,
            refresh_token=self.refresh_token,
            scope=self.scope,
            token_url=self.token_url,
        )


def _parse(path: Path, text: str) -> Any:
    if path.suffix.lower() == ".json":
        return json.loads(text)
    return tomllib.loads(text)


def read_accounts_file(path: Path) -> dict[str, tuple[AccountSpec, Credentials]]:
    """The accounts of ``path`` by name; :class:`AccountsFileError` saying what to fix (a file
    group or others can read or write is refused, like a key file)."""
    where = f"the accounts file {path}"
    try:
        if path.stat().st_size > MAX_ACCOUNTS_FILE_BYTES:
            raise AccountsFileError(f"{where} is larger than 1 MiB")
        private = key_file_is_private(path)
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AccountsFileError(f"{where} cannot be read: {type(exc).__name__}") from None
    if not private:
        raise AccountsFileError(
            f"{where} can be read or written by group or others: it holds the Nuki credentials "
            f"of every account. `chmod 600 {path}` (owned by the user that runs nukiflow)"
        )
    try:
        document = _parse(path, text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        # The parsers' messages quote no values beyond a position: safe to show.
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise AccountsFileError(f"{where} is not valid {kind}: {str(exc)[:200]}") from None
    accounts = document.get("accounts") if isinstance(document, dict) else None
    if not isinstance(accounts, dict) or not accounts:
        raise AccountsFileError(f"{where} has no `accounts` table with at least one account")
    found: dict[str, tuple[AccountSpec, Credentials]] = {}
    for name, entry in accounts.items():
        try:
            check_account_name(name)
        except InputError as exc:
            raise AccountsFileError(f"{where}: {exc}") from None
        try:
            parsed = _AccountEntry.model_validate(entry)
            credentials = parsed.credentials()
        except (ValidationError, ValueError) as exc:
            raise AccountsFileError(f"{where}, account {name}: {_problem(exc)}") from None
        found[name] = (AccountSpec(name, parsed.activities_per_second), credentials)
    return found


def _problem(exc: Exception) -> str:
    """What is wrong with an entry, naming fields, never quoting values (they may be secrets)."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'entry'}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
    return str(exc)


class FileCredentialProvider:
    """The accounts of an accounts file and the default account of ``NUKIFLOW_NUKI_TOKEN``."""

    def __init__(
        self,
        accounts: Mapping[str, tuple[AccountSpec, Credentials]] | None = None,
        *,
        default_token: str | None = None,
        default_rate: float | None = None,
    ) -> None:
        self._accounts = dict(accounts or {})
        self._default = None if not default_token else ApiToken(token=SecretStr(default_token))
        # A named account's rate when the file gives none (NUKIFLOW_ACCOUNT_ACTIVITIES_PER_SECOND).
        self.default_rate = default_rate

    @classmethod
    def from_file(
        cls, path: Path | None, *, default_token: str | None = None
    ) -> FileCredentialProvider:
        return cls(
            read_accounts_file(path) if path is not None else None, default_token=default_token
        )

    async def accounts(self) -> Sequence[AccountSpec]:
        specs = [
            spec
            if spec.activities_per_second is not None
            else AccountSpec(spec.name, self.default_rate)
            for spec, _ in self._accounts.values()
        ]
        if self._default is not None:
            # The default account's queue is the workflows' own: never rate limited.
            specs.insert(0, AccountSpec(None))
        return specs

    async def credentials(self, account: str | None) -> Credentials:
        if account is None and self._default is not None:
            return self._default
        if account is not None and account in self._accounts:
            return self._accounts[account][1]
        raise LookupError(f"no credentials for {account_label(account)}")

    def secret_values(self) -> list[str]:
        """Every secret held, for log redaction."""
        values = self._default.secret_values() if self._default is not None else []
        for _, credentials in self._accounts.values():
            values += credentials.secret_values()
        return values
