"""All of nukiflow's settings, read from ``NUKIFLOW_*`` environment variables (and ``.env``).

The defaults run everything embedded on one machine: a Temporal dev server on localhost and the
fake Nuki cloud. Point ``NUKIFLOW_NUKI_URL`` and ``NUKIFLOW_NUKI_TOKEN`` (or
``NUKIFLOW_NUKI_TOKEN_FILE``) at the real Nuki Web API for production.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_TASK_QUEUE = "nukiflow"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NUKIFLOW_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Nuki Web API. No URL means "use the fake Nuki cloud" (nukiflow dev / demo only).
    nuki_url: str | None = Field(default=None, description="Base URL of the Nuki Web API")
    nuki_token: SecretStr | None = Field(default=None, description="Nuki API token")
    nuki_token_file: Path | None = Field(default=None, description="File holding the token")
    nuki_timeout_seconds: float = Field(default=15.0, gt=0, description="HTTP read timeout")

    # Temporal.
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = DEFAULT_TASK_QUEUE

    # Where `nukiflow dev` keeps its Temporal database and generated files.
    state_dir: Path = Path(".nukiflow")

    # Defaults of a change; each call may override its deadline.
    auth_change_deadline_seconds: float = Field(default=24 * 3600, gt=0)
    action_deadline_seconds: float = Field(default=60, gt=0)
    max_rewrites: int = Field(default=3, ge=0, le=20)

    @model_validator(mode="after")
    def _token_from_file(self) -> Settings:
        if self.nuki_token is None and self.nuki_token_file is not None:
            self.nuki_token = SecretStr(self.nuki_token_file.read_text(encoding="utf-8").strip())
        return self

    @property
    def auth_change_deadline(self) -> timedelta:
        return timedelta(seconds=self.auth_change_deadline_seconds)

    @property
    def action_deadline(self) -> timedelta:
        return timedelta(seconds=self.action_deadline_seconds)

    def require_nuki(self) -> tuple[str, str]:
        """The Nuki base URL and token, or a clear error saying what to set."""
        if not self.nuki_url:
            raise RuntimeError("NUKIFLOW_NUKI_URL is not set: point it at the Nuki Web API")
        if self.nuki_token is None:
            raise RuntimeError(
                "no Nuki API token: set NUKIFLOW_NUKI_TOKEN or NUKIFLOW_NUKI_TOKEN_FILE"
            )
        return self.nuki_url, self.nuki_token.get_secret_value()
