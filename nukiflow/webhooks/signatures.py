"""Nuki's delivery signature: ``X-Nuki-Signature-SHA256``, the lowercase hex HMAC-SHA256 of the
raw body keyed with the webhook's secret.

Verify over the bytes received, before parsing (re-serialized JSON is other bytes), and in
constant time (:func:`hmac.compare_digest`), against every configured secret: while a secret is
rotated two webhooks may deliver, each signing with its own.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

SIGNATURE_HEADER = "X-Nuki-Signature-SHA256"
# A SHA-256 digest in hex; anything longer is not a signature and is not compared.
_SIGNATURE_LENGTH = 64


def sign(secret: str, body: bytes) -> str:
    """The signature Nuki sends with ``body`` for a webhook with ``secret``."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, signature: bytes | None, secrets: Sequence[str]) -> bool:
    """Whether ``signature`` (the header's raw bytes) signs ``body`` with one of ``secrets``.

    Every secret is compared, whichever matches, so the time taken says nothing about which
    one (or how much of a guess) was right. No secrets: nothing verifies.
    """
    if not signature or not secrets:
        return False
    provided = signature.strip().lower()
    if len(provided) != _SIGNATURE_LENGTH:
        return False
    matched = False
    for secret in secrets:
        expected = sign(secret, body).encode("ascii")
        matched |= hmac.compare_digest(expected, provided)
    return matched
