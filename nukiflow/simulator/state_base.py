"""What every part of the fake cloud's state shares: its records, the seeded RNG every random
decision draws from, the faults and settings in effect for a lock, lookups, and the webhook
events the state emits.

Everything here runs on the event loop without awaiting (see `state.py`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nukiflow.contracts.wire import Smartlock, SmartlockAuth

from . import errors
from .control_models import RequestRecord
from .records import LockRecord
from .settings import Faults, OfflineMode, SimSettings
from .webhook_bodies import auth_body, status_body
from .webhooks import WebhookHub

SERVER_ERROR_STATUSES = (500, 502, 503)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RequestFaults:
    """The request-level faults drawn for one API request when it arrives."""

    error_status: int | None = None
    rate_limited: bool = False
    retry_after: int | None = None
    slow: float = 0.0
    fail_after_commit: bool = False
    forbidden: bool = False


class StateBase:
    """The records and rules shared by the parts of :class:`~.state.SimState`."""

    seed: int
    rng: random.Random
    settings: SimSettings
    faults: Faults
    locks: dict[int, LockRecord]
    requests: list[RequestRecord]
    account_id: int
    webhooks: WebhookHub

    # ---- ids, randomness, effective settings -----------------------------------------------

    def new_id(self) -> str:
        """24 hex characters, like Nuki's auth, operation and log ids."""
        return f"{self.rng.getrandbits(96):024x}"

    def _hit(self, count: int, nth: list[int], rate: float) -> bool:
        # Draw only when a rate is set, so switching a fault off leaves the id sequence alone.
        return count in nth or (rate > 0 and self.rng.random() < rate)

    def faults_for(self, lock: LockRecord | None) -> Faults:
        """A lock's own faults replace the global ones as a whole."""
        if lock is not None and lock.faults is not None:
            return lock.faults
        return self.faults

    def device_delay(self, lock: LockRecord) -> float:
        override = self.faults_for(lock).device_delay
        return self.settings.device_delay if override is None else override

    def action_time(self, lock: LockRecord) -> float:
        override = self.faults_for(lock).action_time
        return self.settings.action_time if override is None else override

    def offline_mode(self, lock: LockRecord) -> OfflineMode:
        return self.faults_for(lock).offline_mode or self.settings.offline_mode

    def device_paused(self, lock: LockRecord) -> bool:
        return self.faults_for(lock).device_paused

    def draw_request_faults(self, smartlock_id: int | None, write: bool) -> RequestFaults:
        faults = self.faults_for(self.locks.get(smartlock_id) if smartlock_id else None)
        error_status = None
        if self._hit(0, [], faults.server_error_rate):
            error_status = self.rng.choice(SERVER_ERROR_STATUSES)
        rate_limited = self._hit(0, [], faults.rate_limit_rate)
        slow_hits = write or not faults.slow_writes_only
        slow = faults.slow_response if slow_hits and self._hit(0, [], faults.slow_rate) else 0.0
        after_commit = write and self._hit(0, [], faults.server_error_after_commit_rate)
        return RequestFaults(
            error_status, rate_limited, faults.retry_after, slow, after_commit, faults.forbidden
        )

    def record(self, method: str, path: str, status: int, arrived: float) -> None:
        self.requests.append(RequestRecord(method=method, path=path, status=status, time=arrived))

    # ---- lookups ---------------------------------------------------------------------------

    def lock(self, smartlock_id: int) -> LockRecord:
        try:
            return self.locks[smartlock_id]
        except KeyError:
            raise errors.not_found("Smartlock") from None

    def smartlock(self, lock: LockRecord) -> Smartlock:
        return lock.to_wire(utcnow())

    def _next_slot(self, lock: LockRecord) -> int:
        slot = lock.next_slot
        lock.next_slot += 1
        return slot

    # ---- webhooks: what the device did, as deliveries ---------------------------------------

    def _publish(self, lock: LockRecord, body: dict[str, Any]) -> None:
        self.webhooks.publish(lock.account_id, lock.smartlock_id, body, self.faults_for(lock))

    def auth_changed(self, lock: LockRecord, auth: SmartlockAuth, deleted: bool) -> None:
        """DEVICE_AUTHS with the auth as the device now holds it (or held it, when deleted), in
        the listing's shape; while a further write to it is pending, with that write's
        operationId, as the listing shows it."""
        listed = lock.cloud_auths.get(auth.id)
        pending = None if deleted or listed is None else listed.operation_id
        self._publish(lock, auth_body(auth.model_copy(update={"operation_id": pending}), deleted))

    def status_changed(self, lock: LockRecord) -> None:
        """DEVICE_STATUS: the lock's state moved (also each transitional state) or it went
        offline or online."""
        self._publish(lock, status_body(self.smartlock(lock)))
