"""Internal: registering the receiver with Nuki (``nukiflow webhook register|list|delete``).

Nuki posts decentral webhooks to the URL registered for the account of the API token, and
answers the registration with the secret that signs every delivery. That secret is what the
receiver verifies with (``NUKIFLOW_WEBHOOK_SECRETS`` / ``NUKIFLOW_WEBHOOK_SECRET_FILE``):
:func:`append_secret` adds it to a private secret file, so rotating is "register the new URL
(or the same one again), restart the receivers, delete the old webhook, remove its line".
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import get_args
from urllib.parse import urlsplit

from nukiflow.activities.nuki_client import NukiClient
from nukiflow.contracts.validation import InputError, unsafe_character
from nukiflow.contracts.wire import DecentralWebhook, WebhookFeature
from nukiflow.nuki_url import is_loopback
from nukiflow.temporal.codec import key_file_is_private

# What nukiflow forwards; registering others is allowed (they are acknowledged, not forwarded).
DEFAULT_FEATURES: tuple[WebhookFeature, ...] = ("DEVICE_AUTHS", "DEVICE_STATUS", "DEVICE_LOGS")
ALL_FEATURES: tuple[str, ...] = get_args(WebhookFeature)
MAX_URL = 2000


def check_webhook_url(url: str) -> str:
    """A URL Nuki can post to: ``https://`` with a host (``http://`` only to this machine, for
    the fake cloud), no user name or password, no fragment, no control characters."""
    text = url.strip()
    if not text or len(text) > MAX_URL:
        raise InputError(f"a webhook URL has 1 to {MAX_URL} characters")
    if unsafe_character(text) is not None or any(char.isspace() for char in text):
        raise InputError("a webhook URL has no spaces or control characters")
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (a port out of range raises here)
    except ValueError:
        raise InputError("the webhook URL cannot be read as a URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise InputError("a webhook URL is https://HOST/PATH (e.g. https://hooks.example.com/nuki)")
    if parts.scheme == "http" and not is_loopback(host):
        raise InputError(
            "Nuki posts only to https:// URLs: put the receiver behind a TLS-terminating proxy "
            "and register its https:// address"
        )
    if parts.username is not None or parts.password is not None:
        raise InputError("a webhook URL must not carry a user name or password")
    if parts.fragment:
        raise InputError("a webhook URL has no #fragment")
    return text


def check_features(features: Sequence[str]) -> list[WebhookFeature]:
    """Nuki's feature names, each once (upper case; at least one)."""
    chosen: list[WebhookFeature] = []
    for name in features:
        feature = name.strip().upper()
        if feature not in ALL_FEATURES:
            raise InputError(
                f"unknown webhook feature {name[:40]!r}; Nuki's are {', '.join(ALL_FEATURES)}"
            )
        if feature in chosen:
            raise InputError(f"webhook feature {feature} given twice")
        chosen.append(feature)  # type: ignore[arg-type]  # checked against the Literal above
    if not chosen:
        raise InputError("give at least one webhook feature")
    return chosen


def check_secret_file(path: Path) -> None:
    """Refuse a secret file others could read before anything is registered."""
    if path.exists() and (not path.is_file() or not key_file_is_private(path)):
        raise InputError(
            f"{path} is not a regular file only its owner can read: the webhook secret would "
            f"be readable by others (`chmod 600 {path}`, or name a new file)"
        )


def append_secret(path: Path, secret: str) -> None:
    """Add ``secret`` as a line of ``path``, created private (mode 600) if need be."""
    check_secret_file(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(secret + "\n")


async def register_receiver(
    nuki: NukiClient, url: str, features: Sequence[str] = DEFAULT_FEATURES
) -> DecentralWebhook:
    """Register ``url`` for ``features``; the answer carries the webhook's id and secret."""
    return await nuki.register_webhook(check_webhook_url(url), check_features(features))
