"""What a provider answers for an account: an API token, or OAuth2 client credentials.

Secrets are ``SecretStr``: they never show in a ``repr``, a log line or an error message.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class ApiToken(BaseModel):
    """A Nuki API token (made in Nuki Web; it does not expire, but dies with a password change)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    token: SecretStr

    def secret_values(self) -> list[str]:
        return [self.token.get_secret_value()]


class OAuthClient(BaseModel):
    """OAuth2 client credentials of Nuki's Advanced API for one customer's account.

    With a ``refresh_token`` (from the customer's authorization) access tokens are renewed by
    the ``refresh_token`` grant (RFC 6749 section 6); without one by the ``client_credentials``
    grant. ``token_url`` defaults to ``<NUKIFLOW_NUKI_URL>/oauth/token``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_id: str = Field(min_length=1, max_length=200)
    client_secret: SecretStr
    refresh_token: SecretStr | None = None
    scope: str | None = Field(default=None, max_length=500)
    token_url: str | None = None

    def secret_values(self) -> list[str]:
        values = [self.client_secret.get_secret_value()]
        if self.refresh_token is not None:
            values.append(self.refresh_token.get_secret_value())
        return values


Credentials = ApiToken | OAuthClient
