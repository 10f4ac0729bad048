"""Internal: ``nukiflow webhook register|list|delete`` (against the Nuki Web API) and ``nukiflow
webhook-receiver`` (the receiver alone)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nukiflow.cli.common import JSON_OPTION, _Abort, _Process, _reject, _run, _settings
from nukiflow.cli.console import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REJECTED,
    error,
    print_json,
    safe,
    stdout_console,
)
from nukiflow.contracts.validation import InputError
from nukiflow.contracts.wire import DecentralWebhook
from nukiflow.settings import Settings

if TYPE_CHECKING:
    from nukiflow.activities.nuki_client import NukiClient

webhook_app = typer.Typer(
    help="Nuki's webhooks for this account: register the receiver's public URL, list, delete.",
    no_args_is_help=True,
)

FEATURES_HELP = (
    "A feature to receive (repeat the option): DEVICE_AUTHS, DEVICE_STATUS, DEVICE_LOGS (the "
    "default: the three nukiflow forwards), DEVICE_CONFIG, DEVICE_MASTERDATA, ACCOUNT_USER."
)


@webhook_app.command("register")
def register_command(
    url: str = typer.Argument(
        ..., help="The receiver's public https:// URL (behind your TLS proxy)."
    ),
    features: Annotated[
        list[str] | None,
        typer.Option("--feature", metavar="FEATURE", help=FEATURES_HELP),
    ] = None,
    secret_file: Annotated[
        Path | None,
        typer.Option(
            "--secret-file",
            help="Append the webhook's secret to this file (created mode 600): point "
            "NUKIFLOW_WEBHOOK_SECRET_FILE at it. Without it the secret is printed, on a "
            "terminal only.",
        ),
    ] = None,
    json_output: bool = JSON_OPTION,
) -> None:
    """Register a webhook with Nuki; its secret signs every delivery.

    Nuki posts to https:// URLs only: run the receiver (`nukiflow webhook-receiver`, or a
    worker with NUKIFLOW_WEBHOOK_PORT) behind a TLS-terminating proxy and register the proxy's
    URL. Registering again (a rotation) adds a second webhook: delete the old one when the
    receivers know the new secret.
    """
    from nukiflow.webhooks.registration import (
        DEFAULT_FEATURES,
        check_features,
        check_secret_file,
        check_webhook_url,
    )

    try:
        checked_url = check_webhook_url(url)
        chosen = check_features(features or list(DEFAULT_FEATURES))
        if secret_file is not None:
            check_secret_file(secret_file)
    except InputError as exc:
        _reject(str(exc))
    show_secret = secret_file is None and not json_output and sys.stdout.isatty()
    if secret_file is None and not show_secret:
        _reject(
            "the webhook's secret would be lost or end up in a log: give --secret-file FILE "
            "(or run on a terminal without --json to see it once)"
        )
    settings = _settings()
    _run(_register(settings, checked_url, list(chosen), secret_file, json_output))


async def _register(
    settings: Settings, url: str, features: list[str], secret_file: Path | None, json_output: bool
) -> int:
    from nukiflow.activities.nuki_errors import NukiError
    from nukiflow.webhooks.registration import append_secret, register_receiver

    async with _nuki(settings) as nuki:
        try:
            webhook = await register_receiver(nuki, url, features)
        except NukiError as exc:
            return _nuki_failed(exc, "register the webhook")
    secret = webhook.secret or ""
    if secret_file is not None:
        try:
            append_secret(secret_file, secret)
        except (OSError, InputError) as exc:
            error(
                f"webhook {webhook.id} was registered, but its secret could not be written to "
                f"{secret_file}: {exc}",
                f"delete it (`nukiflow webhook delete {webhook.id}`) and register again",
            )
            return EXIT_FAILED
    if json_output:
        print_json(
            {**_view(webhook), "secret_file": None if secret_file is None else str(secret_file)}
        )
        return EXIT_OK
    console = stdout_console()
    console.print(f"Registered webhook [bold]{webhook.id}[/] for {safe(webhook.webhook_url)}")
    console.print(f"  features  {', '.join(webhook.webhook_features)}")
    if secret_file is not None:
        console.print(f"  secret    appended to {safe(secret_file)} (NUKIFLOW_WEBHOOK_SECRET_FILE)")
    else:
        console.print(f"  secret    {safe(secret)}  [dim](NUKIFLOW_WEBHOOK_SECRETS; shown once)[/]")
    return EXIT_OK


@webhook_app.command("list")
def list_command(json_output: bool = JSON_OPTION) -> None:
    """The account's webhooks (secrets are not shown)."""
    settings = _settings()
    _run(_list(settings, json_output))


async def _list(settings: Settings, json_output: bool) -> int:
    from nukiflow.activities.nuki_errors import NukiError

    async with _nuki(settings) as nuki:
        try:
            webhooks = await nuki.list_webhooks()
        except NukiError as exc:
            return _nuki_failed(exc, "list the webhooks")
    if json_output:
        print_json({"webhooks": [_view(webhook) for webhook in webhooks]})
        return EXIT_OK
    console = stdout_console()
    if not webhooks:
        console.print("No webhooks are registered for this account.")
    for webhook in webhooks:
        console.print(
            f"{webhook.id}  {safe(webhook.webhook_url)}  {', '.join(webhook.webhook_features)}"
        )
    return EXIT_OK


@webhook_app.command("delete")
def delete_command(
    webhook_id: str = typer.Argument(..., metavar="ID", help="The webhook's id (see list)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Delete a webhook: Nuki stops posting to its URL."""
    text = webhook_id.strip()
    if not text.isdigit() or not 0 < int(text) < 2**63:
        _reject("ID: a webhook id is a positive whole number (see `nukiflow webhook list`)")
    settings = _settings()
    _run(_delete(settings, int(text), json_output))


async def _delete(settings: Settings, webhook_id: int, json_output: bool) -> int:
    from nukiflow.activities.nuki_errors import NukiError

    async with _nuki(settings) as nuki:
        try:
            await nuki.delete_webhook(webhook_id)
        except NukiError as exc:
            return _nuki_failed(exc, f"delete webhook {webhook_id}")
    if json_output:
        print_json({"deleted": webhook_id})
    else:
        stdout_console().print(f"Deleted webhook {webhook_id}.")
    return EXIT_OK


def _view(webhook: DecentralWebhook) -> dict[str, object]:
    return {"id": webhook.id, "url": webhook.webhook_url, "features": webhook.webhook_features}


@contextlib.asynccontextmanager
async def _nuki(settings: Settings) -> AsyncIterator[NukiClient]:
    """The Nuki client of ``NUKIFLOW_NUKI_URL`` / ``_TOKEN``, or exit 2 saying what to set."""
    from nukiflow.activities.nuki_client import NukiClient

    try:
        base_url, token = settings.require_nuki()
    except RuntimeError as exc:
        error(str(exc), "the webhook commands talk to the Nuki Web API of your account")
        raise _Abort(EXIT_REJECTED) from None
    async with NukiClient(token, base_url) as client:
        yield client


def _nuki_failed(exc: Exception, what: str) -> int:
    from nukiflow.activities.nuki_errors import NukiRequestRefused, NukiValidationError

    error(f"could not {what}: {exc}")
    return (
        EXIT_REJECTED if isinstance(exc, NukiValidationError | NukiRequestRefused) else EXIT_FAILED
    )


def webhook_receiver(
    host: str | None = typer.Option(
        None, "--host", help="Address (default NUKIFLOW_WEBHOOK_HOST, 127.0.0.1)."
    ),
    port: int | None = typer.Option(
        None, "--port", help="Port (default NUKIFLOW_WEBHOOK_PORT, else 8082; 0: a free one)."
    ),
) -> None:
    """Serve the webhook receiver alone: Nuki's signed deliveries become signals to workflows.

    Verifies with NUKIFLOW_WEBHOOK_SECRETS / NUKIFLOW_WEBHOOK_SECRET_FILE and forwards through
    the configured Temporal; answers Nuki at once, also while Temporal is unreachable.
    """
    from nukiflow.temporal.codec import CodecError
    from nukiflow.temporal.logs import configure_logging
    from nukiflow.webhooks.server import require_secrets, run_receiver

    settings = _settings()
    try:
        # What is missing is said before anything starts.
        require_secrets(settings)
        settings.keyring()
    except (CodecError, RuntimeError) as exc:
        error(f"nukiflow webhook-receiver: {exc}")
        raise typer.Exit(EXIT_REJECTED) from None
    configure_logging(settings.log_format, secrets=settings.secret_values())
    _Process.used_temporal = True
    try:
        asyncio.run(run_receiver(settings, host=host, port=port))
    except (CodecError, RuntimeError, OSError) as exc:
        error(f"nukiflow webhook-receiver: {exc}")
        raise typer.Exit(EXIT_REJECTED) from None
    except KeyboardInterrupt:
        pass
