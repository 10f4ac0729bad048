"""Error types (``ApplicationError.type``) the Nuki activities raise and the workflows tell apart.

The activities turn every Nuki client error into an ``ApplicationError`` once
(:mod:`nukiflow.activities.failures`); workflows read the type to decide, without importing
the activities (and with them the HTTP client). Temporal records these strings in failures, so
they never change.
"""

from __future__ import annotations

from typing import Final

from nukiflow.contracts.names import DEADLINE_PASSED_ERROR

# Named after the Nuki client's exception classes (the type is the class name).
LOCKED: Final = "NukiLockedError"
NOT_FOUND: Final = "NukiNotFoundError"
CONFLICT: Final = "NukiConflictError"
# Raised by the activities themselves.
DEADLINE_PASSED: Final = DEADLINE_PASSED_ERROR  # one name, kept in names.py
LOCK_OFFLINE: Final = "LockOffline"
OPERATION_PENDING: Final = "OperationPending"
