"""Many Nuki accounts in one nukiflow: credentials per account from a provider, the account of
each lock, OAuth2 access tokens that renew themselves, and a Nuki client per account.

Workflows know an account by its name only (:mod:`nukiflow.contracts.accounts`); the credentials
stay in the worker process, read from a :class:`CredentialProvider` (the default one,
:class:`FileCredentialProvider`, reads ``NUKIFLOW_ACCOUNTS_FILE`` and ``NUKIFLOW_NUKI_TOKEN``; a
secret manager implements the same two methods).
"""

from nukiflow.accounts.credentials import ApiToken, Credentials, OAuthClient
from nukiflow.accounts.provider import (
    AccountsFileError,
    CredentialProvider,
    FileCredentialProvider,
    read_accounts_file,
)
from nukiflow.accounts.resolver import AccountResolver, LockNotInAnyAccount
from nukiflow.accounts.tokens import OAuthTokens, StaticToken, TokenSource

__all__ = [
    "AccountResolver",
    "AccountsFileError",
    "ApiToken",
    "CredentialProvider",
    "Credentials",
    "FileCredentialProvider",
    "LockNotInAnyAccount",
    "OAuthClient",
    "OAuthTokens",
    "StaticToken",
    "TokenSource",
    "read_accounts_file",
]
