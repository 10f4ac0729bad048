"""What a decentral webhook delivery carries: Nuki's bodies (nothing more) and its signature."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from nukiflow.contracts.wire import Smartlock, SmartlockAuth, SmartlockLog

SIGNATURE_HEADER = "X-Nuki-Signature-SHA256"
CONTENT_TYPE = "application/json; charset=UTF-8"


def sign(secret: str, body: bytes) -> str:
    """Nuki's signature: lowercase hex HMAC-SHA256 of the raw body, keyed with the secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def auth_body(auth: SmartlockAuth, deleted: bool) -> dict[str, Any]:
    return {"feature": "DEVICE_AUTHS", "deleted": deleted, "smartlockAuth": auth.to_wire()}


def status_body(smartlock: Smartlock) -> dict[str, Any]:
    # Nuki's example delivery carries the state without the operationId the listing has.
    state = smartlock.state.to_wire() if smartlock.state is not None else {}
    state.pop("operationId", None)
    return {
        "feature": "DEVICE_STATUS",
        "smartlockId": smartlock.smartlock_id,
        "state": state,
        "serverState": smartlock.server_state,
        "adminPinState": smartlock.admin_pin_state,
    }


def log_body(entry: SmartlockLog) -> dict[str, Any]:
    return {
        "feature": "DEVICE_LOGS",
        "smartlockId": entry.smartlock_id,
        "smartlockLog": entry.to_wire(),
    }
