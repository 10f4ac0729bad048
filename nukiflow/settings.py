"""All of nukiflow's settings, read from ``NUKIFLOW_*`` environment variables (and ``.env``).

The defaults run everything embedded on one machine: a Temporal dev server on localhost and the
fake Nuki cloud. Point ``NUKIFLOW_NUKI_URL`` and ``NUKIFLOW_NUKI_TOKEN`` (or
``NUKIFLOW_NUKI_TOKEN_FILE``) at the real Nuki Web API for production.

Payload encryption is not optional: every client and worker needs a key, from
``NUKIFLOW_CODEC_KEYS`` (``id:base64-key`` entries, comma separated, the first one encrypts) or
``NUKIFLOW_CODEC_KEY_FILE`` (the same, one a line). Without either, a process that runs against
the fake Nuki cloud (no ``NUKIFLOW_NUKI_URL``) uses the key ``nukiflow dev`` generated into
``<state_dir>/codec-keys``; anything else refuses to start (see :meth:`Settings.keyring`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from temporalio.envconfig import ClientConfig

from nukiflow.accounts.provider import FileCredentialProvider
from nukiflow.contracts.accounts import DEFAULT_ACCOUNT_WORKFLOW_TASKS, check_account_name
from nukiflow.contracts.action import DEFAULT_DEADLINE_SECONDS, MAX_DEADLINE_SECONDS
from nukiflow.contracts.auth import DEFAULT_CHANGE_DEADLINE_SECONDS, MAX_CHANGE_DEADLINE_SECONDS
from nukiflow.contracts.entity import DriftPolicy
from nukiflow.contracts.timing import MAX_BASE_READ_AGE_SECONDS, WorkflowTiming
from nukiflow.nuki_url import check_nuki_url
from nukiflow.temporal.codec import (
    CodecConfigError,
    Keyring,
    dev_key_file,
    key_file_is_private,
)

DEFAULT_TASK_QUEUE = "nukiflow"
# The Temporal dev server's UI (port of its gRPC API + 1000).
DEFAULT_UI_ORIGINS = "http://localhost:8233,http://127.0.0.1:8233"


def temporal_client_config() -> Mapping[str, Any]:
    """Temporal's own client configuration, as the ``temporal`` CLI reads it."""
    try:
        return ClientConfig.load_client_connect_config()
    except Exception as exc:  # a broken profile file: say which setting to fix
        raise ValueError(
            f"cannot read Temporal's client configuration (TEMPORAL_CONFIG_FILE / "
            f"TEMPORAL_PROFILE): {exc}"
        ) from None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NUKIFLOW_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    _temporal_config: dict[str, Any] = PrivateAttr(default_factory=dict)

    # Nuki Web API. No URL means "use the fake Nuki cloud" (nukiflow dev / demo only).
    nuki_url: str | None = Field(default=None, description="Base URL of the Nuki Web API")
    nuki_token: SecretStr | None = Field(default=None, description="Nuki API token")
    nuki_token_file: Path | None = Field(default=None, description="File holding the token")
    nuki_timeout_seconds: float = Field(default=15.0, gt=0, description="HTTP read timeout")
    # Many accounts (see README, Many accounts): their credentials, rate limits and the cache of
    # which account holds which lock. NUKIFLOW_NUKI_TOKEN stays the default account.
    accounts_file: Path | None = Field(
        default=None, description="TOML/JSON file of the accounts' credentials (mode 600)"
    )
    account_activities_per_second: float | None = Field(
        default=None,
        gt=0,
        le=10_000,
        description="Nuki activities per second per named account, across all workers "
        "(unset: no limit; the accounts file may set one per account)",
    )
    account_max_concurrent_workflow_tasks: int = Field(
        default=DEFAULT_ACCOUNT_WORKFLOW_TASKS,
        ge=2,
        description="Workflow tasks of one named account a worker runs at once",
    )
    account: str | None = Field(
        default=None,
        description="Account of the locks a caller (CLI, NukiFlow.connect) acts on when a call "
        "names none; unset: the resolver's answer or the default account",
    )
    account_cache_seconds: float = Field(
        default=300.0, gt=0, description="How long the account of a lock is remembered"
    )
    # The token travels in every request: plain http is refused unless it stays on this machine
    # (the fake cloud) or this says the network in between is trusted.
    nuki_allow_http: bool = Field(
        default=False, description="Allow an http:// Nuki URL beyond loopback (token in clear)"
    )

    # Temporal. Temporal's own client configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
    # TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE and TOML profiles in TEMPORAL_CONFIG_FILE
    # or the default config file) is read too; these two override it when set.
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = DEFAULT_TASK_QUEUE
    ui_url: str | None = Field(default=None, description="Temporal UI, for links the CLI prints")

    # Worker process (production): probes, metrics, shutdown and tuning.
    # Loopback by default; a container whose probes come from outside sets 0.0.0.0 (deploy/).
    health_host: str = Field(default="127.0.0.1", description="Address of /healthz and /readyz")
    health_port: int | None = Field(
        default=None, ge=0, le=65535, description="Port of the health endpoints (unset: off)"
    )
    metrics_bind: str | None = Field(
        default=None, description="host:port of the Prometheus /metrics endpoint (unset: off)"
    )
    log_format: Literal["text", "json"] = Field(default="text", description="Worker log lines")
    otel_tracing: bool = Field(
        default=False, description="Trace workflows and activities with OpenTelemetry"
    )
    otel_exporter: Literal["console", "otlp"] | None = Field(
        default=None,
        description="Where spans go when no tracer provider is set up already (see "
        "nukiflow.temporal.tracing); unset: OTLP when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set",
    )
    graceful_shutdown_seconds: float = Field(
        default=30.0, ge=0, description="How long running activities may finish on SIGTERM"
    )
    max_concurrent_activities: int | None = Field(default=None, ge=1)
    max_concurrent_workflow_tasks: int | None = Field(default=None, ge=2)
    max_cached_workflows: int | None = Field(default=None, ge=0)
    # Worker Versioning (see README, "Rolling upgrades"): off by default, so a plain worker and
    # `nukiflow dev` poll unversioned; the deploy files switch it on with the image tag as build id.
    worker_versioning: bool = Field(
        default=False, description="Poll as a version of a Temporal Worker Deployment"
    )
    deployment_name: str = Field(
        default="nukiflow",
        pattern=r"^[A-Za-z0-9_-]{1,100}$",
        description="Worker Deployment name (no dots: Temporal joins name and build id with one)",
    )
    build_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,254}$",
        description="Build id of this worker's code (unset: the package version)",
    )

    # Where `nukiflow dev` keeps its Temporal database and generated files.
    state_dir: Path = Path(".nukiflow")

    # Defaults of a change's and an action's deadline (counted from each call); each call may
    # give its own. Bounded like the deadlines callers give (30 days, 24 hours).
    auth_change_deadline_seconds: float = Field(
        default=DEFAULT_CHANGE_DEADLINE_SECONDS,
        gt=0,
        le=MAX_CHANGE_DEADLINE_SECONDS,
        allow_inf_nan=False,
    )
    action_deadline_seconds: float = Field(
        default=DEFAULT_DEADLINE_SECONDS, gt=0, le=MAX_DEADLINE_SECONDS, allow_inf_nan=False
    )
    max_rewrites: int = Field(default=3, ge=0, le=20)
    # How old a listing of the lock a worker fetched may be to answer a change's base read (see
    # README, Base reads); 0: every base read is its own GET. Travels in the timing of the
    # workflows a caller starts.
    base_read_max_age_seconds: float = Field(
        default=30.0, ge=0, le=MAX_BASE_READ_AGE_SECONDS, allow_inf_nan=False
    )
    # What a new auth entity does when the lock reports a drift (see README, Drift): alert
    # only shows it, so nothing is written to a lock on the word of a webhook unless asked.
    drift_policy: DriftPolicy = DriftPolicy.ALERT
    # How often the drift sweep's schedule lists the account (`nukiflow sweep schedule` and
    # `nukiflow dev` create it with this interval unless told otherwise).
    sweep_every_seconds: float = Field(default=900.0, ge=10, le=7 * 24 * 3600, allow_inf_nan=False)
    # Workers serve nukiflow's Nexus service (nukiflow.nexus) to callers in other namespaces;
    # off for a Temporal server without Nexus.
    nexus_service: bool = Field(
        default=True, description="Workers serve the Nexus service (see README, Nexus)"
    )

    # Payload encryption (see nukiflow.temporal.codec). Keys: `id:base64-key`, first = current.
    codec_keys: SecretStr | None = Field(
        default=None, description="Encryption keys, `id:base64` comma separated, first encrypts"
    )
    codec_key_file: Path | None = Field(default=None, description="File holding the keys")
    # The codec server (`nukiflow codec-server`) that lets the Temporal UI and CLI decrypt.
    codec_server_host: str = Field(default="127.0.0.1", description="Codec server address")
    codec_server_port: int = Field(default=8081, ge=0, le=65535)
    codec_server_token: SecretStr | None = Field(
        default=None, description="Bearer token the codec server requires"
    )
    codec_server_token_file: Path | None = Field(default=None, description="File with the token")
    # Serve without a token beyond loopback: only where the network lets allowed users through.
    codec_server_anonymous: bool = Field(
        default=False, description="Codec server without a token (behind an authenticating proxy)"
    )
    codec_cors_origins: str = Field(
        default=DEFAULT_UI_ORIGINS,
        description="Origins (Temporal UI) allowed to call the codec server, comma separated",
    )

    # The webhook receiver (nukiflow.webhooks): Nuki's signed deliveries become signals.
    webhook_secrets: SecretStr | None = Field(
        default=None,
        description="Secrets of the registered webhooks, comma separated (several: rotation)",
    )
    webhook_secret_file: Path | None = Field(
        default=None, description="File holding the webhook secrets, one a line (mode 600)"
    )
    # Loopback by default: Nuki reaches it through your TLS-terminating proxy or ingress.
    webhook_host: str = Field(default="127.0.0.1", description="Address of the webhook receiver")
    webhook_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of the webhook receiver in the worker process (unset: off)",
    )
    webhook_path: str = Field(
        default="/nuki/webhook",
        pattern=r"^/[A-Za-z0-9._~/-]{0,200}$",
        description="Path Nuki posts its deliveries to",
    )
    webhook_max_age_seconds: float = Field(
        default=86400.0,
        gt=0,
        description="Deliveries whose own date (auth updateDate, log date) is older are stale",
    )
    webhook_queue_size: int = Field(
        default=10000, ge=1, le=1_000_000, description="Events waiting to be forwarded, at most"
    )
    webhooks_expected: bool | None = Field(
        default=None,
        description="The lock's webhooks reach the workflows, which then wait for the lock's "
        "report before polling (unset: when this worker serves the receiver)",
    )

    @field_validator("account")
    @classmethod
    def _account_name(cls, value: str | None) -> str | None:
        return None if value is None else check_account_name(value)

    @model_validator(mode="after")
    def _temporal_client_config(self) -> Settings:
        """Take address and namespace from Temporal's client configuration unless set here."""
        config = temporal_client_config()
        self._temporal_config = dict(config)
        explicit = self.model_fields_set
        if "temporal_address" not in explicit and config.get("target_host"):
            self.temporal_address = str(config["target_host"])
        if "temporal_namespace" not in explicit and config.get("namespace"):
            self.temporal_namespace = str(config["namespace"])
        return self

    def temporal_connect_options(self) -> dict[str, Any]:
        """Keyword arguments for ``Client.connect`` (API key, TLS, metadata included)."""
        options = {
            k: v for k, v in self._temporal_config.items() if k not in ("target_host", "namespace")
        }
        return {
            "target_host": self.temporal_address,
            "namespace": self.temporal_namespace,
            **options,
        }

    @model_validator(mode="after")
    def _token_from_file(self) -> Settings:
        if self.nuki_token is None and self.nuki_token_file is not None:
            self.nuki_token = SecretStr(self.nuki_token_file.read_text(encoding="utf-8").strip())
        if self.codec_server_token is None and self.codec_server_token_file is not None:
            self.codec_server_token = SecretStr(
                self.codec_server_token_file.read_text(encoding="utf-8").strip()
            )
        return self

    @property
    def auth_change_deadline(self) -> timedelta:
        return timedelta(seconds=self.auth_change_deadline_seconds)

    @property
    def action_deadline(self) -> timedelta:
        return timedelta(seconds=self.action_deadline_seconds)

    def workflow_timing(self) -> WorkflowTiming:
        """The timing of the workflows a caller starts: the defaults, with what is set here."""
        return WorkflowTiming(base_read_max_age_seconds=self.base_read_max_age_seconds)

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.codec_cors_origins.split(",") if o.strip()]

    @property
    def is_production(self) -> bool:
        """Talking to a real Nuki Web API (not the fake cloud of `nukiflow dev`)."""
        return bool(self.nuki_url)

    def keyring(self) -> Keyring:
        """The payload encryption keys, or a clear error saying what to set.

        ``NUKIFLOW_CODEC_KEYS`` wins over ``NUKIFLOW_CODEC_KEY_FILE``. Without either, only a
        process running against the fake Nuki cloud falls back to the dev key in the state dir;
        production (a real ``NUKIFLOW_NUKI_URL``) never does. There is no way to switch
        encryption off: a key costs nothing, a keypad code in plain text costs a door.
        """
        if self.codec_keys is not None:
            try:
                return Keyring.parse(self.codec_keys.get_secret_value())
            except CodecConfigError as exc:
                raise CodecConfigError(f"NUKIFLOW_CODEC_KEYS: {exc}") from None
        path = self.codec_key_file
        if path is None and not self.is_production and dev_key_file(self.state_dir).is_file():
            path = dev_key_file(self.state_dir)
        if path is None:
            hint = (
                ""
                if self.is_production
                else f", or run `nukiflow dev` (it keeps one in {dev_key_file(self.state_dir)})"
            )
            raise CodecConfigError(
                "no payload encryption key: set NUKIFLOW_CODEC_KEYS (`id:base64-key`, comma "
                "separated, the first one encrypts) or NUKIFLOW_CODEC_KEY_FILE; "
                f"`python -m nukiflow.temporal.codec` prints a new key{hint}"
            )
        keyring = Keyring.from_file(path)
        if not key_file_is_private(path):
            raise CodecConfigError(
                f"the key file {path} can be read or written by group or others: the keys in "
                f"it decrypt every keypad code in Temporal. `chmod 600 {path}` (owned by the "
                "user that runs nukiflow)"
            )
        return keyring

    def codec_token(self) -> str | None:
        if self.codec_server_token is None:
            return None
        return self.codec_server_token.get_secret_value() or None

    def secret_values(self) -> list[str]:
        """Every secret value configured here, for log redaction."""
        values = [self.codec_token() or ""]
        if self.nuki_token is not None:
            values.append(self.nuki_token.get_secret_value())
        # An accounts file that is refused is reported where it is used, not here.
        with contextlib.suppress(RuntimeError):
            values += self.credential_provider().secret_values()
        if self.codec_keys is not None:
            values += [
                part.split(":", 1)[-1] for part in self.codec_keys.get_secret_value().split(",")
            ]
        # A secret file that is refused is reported where it is used, not here.
        with contextlib.suppress(RuntimeError):
            values += self.webhook_secret_list()
        api_key = self._temporal_config.get("api_key")
        if isinstance(api_key, str):
            values.append(api_key)
        return [v.strip() for v in values if v and v.strip()]

    def expects_webhooks(self) -> bool:
        """Whether the workflows of this worker get the lock's webhooks: as set, else when the
        worker serves the receiver itself. A receiver run alone (``nukiflow webhook-receiver``)
        is not known to the worker: set ``NUKIFLOW_WEBHOOKS_EXPECTED=true`` there."""
        if self.webhooks_expected is not None:
            return self.webhooks_expected
        return self.webhook_port is not None

    def webhook_secret_list(self) -> list[str]:
        """The secrets deliveries are verified with: ``NUKIFLOW_WEBHOOK_SECRETS`` (comma
        separated) and the lines of ``NUKIFLOW_WEBHOOK_SECRET_FILE`` (``#`` starts a comment).

        Any one of them verifies a delivery, so rotating means adding the new webhook's secret,
        then removing the old one. A file that group or others can read (or write) is refused
        (``RuntimeError`` saying what to do), like the codec key file.
        """
        secrets: list[str] = []
        if self.webhook_secrets is not None:
            secrets += self.webhook_secrets.get_secret_value().split(",")
        path = self.webhook_secret_file
        if path is not None:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise RuntimeError(
                    f"NUKIFLOW_WEBHOOK_SECRET_FILE {path} cannot be read: {type(exc).__name__}"
                ) from None
            if not key_file_is_private(path):
                raise RuntimeError(
                    f"the webhook secret file {path} can be read or written by group or "
                    "others: whoever reads it can forge deliveries. `chmod 600 "
                    f"{path}` (owned by the user that runs nukiflow)"
                )
            secrets += [line.split("#", 1)[0] for line in text.splitlines()]
        cleaned = [secret.strip() for secret in secrets if secret.strip()]
        if any(char.isspace() or not char.isprintable() for s in cleaned for char in s):
            raise RuntimeError(
                "a webhook secret contains whitespace or control characters; give each one as "
                "Nuki answered it (NUKIFLOW_WEBHOOK_SECRETS comma separated, or one a line in "
                "NUKIFLOW_WEBHOOK_SECRET_FILE)"
            )
        return list(dict.fromkeys(cleaned))

    def credential_provider(self) -> FileCredentialProvider:
        """The accounts of ``NUKIFLOW_ACCOUNTS_FILE`` and the default account of
        ``NUKIFLOW_NUKI_TOKEN``; :class:`~nukiflow.accounts.AccountsFileError` (a
        ``RuntimeError``) says what to fix in the file."""
        provider = FileCredentialProvider.from_file(
            self.accounts_file,
            default_token=None if self.nuki_token is None else self.nuki_token.get_secret_value(),
        )
        provider.default_rate = self.account_activities_per_second
        return provider

    def require_nuki_url(self) -> str:
        """The Nuki base URL (checked as in :meth:`require_nuki`), or a clear error."""
        if not self.nuki_url:
            raise RuntimeError("NUKIFLOW_NUKI_URL is not set: point it at the Nuki Web API")
        check_nuki_url(self.nuki_url, allow_http=self.nuki_allow_http)
        return self.nuki_url

    def require_nuki(self) -> tuple[str, str]:
        """The Nuki base URL and token, or a clear error saying what to set.

        The URL must be https://, except on loopback (the fake cloud) or with
        ``NUKIFLOW_NUKI_ALLOW_HTTP``: every request carries the API token.
        """
        if not self.nuki_url:
            raise RuntimeError("NUKIFLOW_NUKI_URL is not set: point it at the Nuki Web API")
        check_nuki_url(self.nuki_url, allow_http=self.nuki_allow_http)
        if self.nuki_token is None:
            raise RuntimeError(
                "no Nuki API token: set NUKIFLOW_NUKI_TOKEN or NUKIFLOW_NUKI_TOKEN_FILE"
            )
        return self.nuki_url, self.nuki_token.get_secret_value()
