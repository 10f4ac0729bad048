"""Internal: the fake cloud's state: locks, their devices, faults, settings and the request
log, with its lifecycle, the control surface and the API's reads. Its rules live in its parts:
`state_base.py` (ids and randomness, effective faults and settings, webhook events),
`writes.py` (accepting writes and actions: validation, the 423 race, fault fates) and
`effects.py` (what the device's work does).

Everything here runs on the event loop without awaiting, so each request's checks and effects
are atomic with respect to the device workers (see `device.py`) and to other requests. Every
random decision draws from `self.rng`, one `random.Random(seed)`, in request order, so a
sequential run is reproducible from its seed.
"""

from __future__ import annotations

import asyncio
import random

from nukiflow.contracts.wire import LockState, SmartlockAuth, SmartlockLog, SmartlockType

from . import errors, validation
from .accounts import AccountBook
from .control_models import AuthSpec, DeviceView, LockSpec, RequestRecord
from .device import run_device
from .effects import DeviceEffects
from .records import LockRecord
from .settings import Faults, SimSettings
from .state_base import utcnow
from .webhook_models import AuthChange
from .webhooks import WebhookHub
from .writes import Writes

OPENER_ONLINE = 1  # Opener state "online" (idle, ring to open inactive)


class SimState(Writes, DeviceEffects):
    """The whole fake cloud: locks, devices, faults, settings, the request log."""

    def __init__(
        self, seed: int = 0, settings: SimSettings | None = None, locks: int = 0, token: str = ""
    ) -> None:
        self.accounts = AccountBook(token, lambda: self.settings.access_token_lifetime)
        self._initial_seed = seed
        self.initial_settings = settings or SimSettings()
        self._initial_locks = locks
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._running = False
        self.webhooks = WebhookHub(lambda: self.settings)
        self.reset(seed)

    # ---- lifecycle -------------------------------------------------------------------------

    def reset(self, seed: int | None = None) -> None:
        """Back to the state right after start: seeded locks only, no faults, empty logs."""
        for task in self._workers.values():
            task.cancel()
        self._workers = {}
        self.seed = self._initial_seed if seed is None else seed
        self.rng = random.Random(self.seed)
        self.settings = self.initial_settings.model_copy(deep=True)
        self.faults = Faults()
        self.locks: dict[int, LockRecord] = {}
        self.requests: list[RequestRecord] = []
        self.account_id = self.rng.randrange(100_000, 1_000_000)
        self.accounts.reset(self.account_id)
        self.webhooks.reset(self.seed)
        for _ in range(self._initial_locks):
            self.add_lock(LockSpec())

    def start(self) -> None:
        """Start one device worker per lock; needs a running event loop."""
        self._running = True
        for lock in self.locks.values():
            self._spawn(lock)
        self.webhooks.start()

    async def stop(self) -> None:
        self._running = False
        tasks = list(self._workers.values())
        self._workers = {}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.webhooks.stop()

    def _spawn(self, lock: LockRecord) -> None:
        if self._running and lock.smartlock_id not in self._workers:
            self._workers[lock.smartlock_id] = asyncio.get_running_loop().create_task(
                run_device(self, lock), name=f"nuki-sim-device-{lock.smartlock_id}"
            )

    # ---- control surface -------------------------------------------------------------------

    def add_lock(self, spec: LockSpec) -> LockRecord:
        try:
            account_id = self.accounts.account_id(spec.account)
        except KeyError:
            raise errors.bad_parameter("account", spec.account) from None
        lock_type = SmartlockType.OPENER if spec.opener else spec.type
        smartlock_id = spec.smartlock_id
        while smartlock_id is None or smartlock_id in self.locks:
            # Nuki's smartlockId is the device type in front of the 32-bit Nuki id.
            smartlock_id = (lock_type << 32) | self.rng.getrandbits(32)
        number = len(self.locks) + 1
        default_name = f"Opener {number}" if lock_type == SmartlockType.OPENER else f"Lock {number}"
        lock = LockRecord(
            smartlock_id=smartlock_id,
            account_id=account_id,
            type=lock_type,
            auth_id=self.rng.randrange(1, 1_000_000),
            name=spec.name or default_name,
            keypad_paired=spec.keypad_paired,
            created=utcnow(),
            timezone_id=spec.timezone_id,
            web_auth_id=self.new_id(),
            lock_state=OPENER_ONLINE if lock_type == SmartlockType.OPENER else LockState.LOCKED,
        )
        self.locks[smartlock_id] = lock
        self._spawn(lock)
        return lock

    def add_device_auth(self, lock: LockRecord, spec: AuthSpec) -> SmartlockAuth:
        now = utcnow()
        auth = SmartlockAuth(
            id=self.new_id(),
            smartlock_id=lock.smartlock_id,
            auth_id=self._next_slot(lock),
            creation_date=now,
            update_date=now,
            **spec.model_dump(),
        )
        lock.device_auths[auth.id] = auth
        lock.cloud_auths[auth.id] = auth
        self.auth_changed(lock, auth, deleted=False)
        return auth

    def update_device_auth(
        self, lock: LockRecord, auth_id: str, change: AuthChange
    ) -> SmartlockAuth:
        """Change an auth directly on the device ("in the Nuki app"): no operation, and the
        listing follows at once unless a write to the auth is still pending (then it is re-read
        from the device when that ends, as after any operation)."""
        current = self._device_auth(lock, auth_id)
        values = current.model_dump() | change.model_dump(exclude_unset=True)
        values["update_date"] = utcnow()
        auth = validation.parse_model(SmartlockAuth, values)
        lock.device_auths[auth_id] = auth
        if lock.books_of(auth_id).pending == 0:
            lock.cloud_auths[auth_id] = auth
        self.auth_changed(lock, auth, deleted=False)
        return auth

    def delete_device_auth(self, lock: LockRecord, auth_id: str) -> None:
        """Remove an auth directly on the device; a write still queued for it finds it gone."""
        auth = self._device_auth(lock, auth_id)
        del lock.device_auths[auth_id]
        if lock.books_of(auth_id).pending == 0:
            lock.cloud_auths.pop(auth_id, None)
        self.auth_changed(lock, auth, deleted=True)

    def _device_auth(self, lock: LockRecord, auth_id: str) -> SmartlockAuth:
        try:
            return lock.device_auths[auth_id]
        except KeyError:
            raise errors.not_found("Smartlock authorization") from None

    def set_faults(self, faults: Faults, smartlock_id: int | None) -> None:
        if smartlock_id is None:
            self.faults = faults
        else:
            self.lock(smartlock_id).faults = faults
        self._wake_all()  # an offline_mode or device_paused change may release operations

    def clear_lock_faults(self, smartlock_id: int) -> None:
        self.lock(smartlock_id).faults = None
        self._wake_all()

    def set_settings(self, settings: SimSettings) -> None:
        self.settings = settings
        self._wake_all()

    def set_online(self, smartlock_id: int, online: bool) -> None:
        lock = self.lock(smartlock_id)
        changed = lock.online != online
        lock.online = online
        lock.wakeup.set()
        if changed:
            self.status_changed(lock)

    def device_view(self, smartlock_id: int) -> DeviceView:
        lock = self.lock(smartlock_id)
        return DeviceView(
            smartlock_id=lock.smartlock_id,
            online=lock.online,
            auths=list(lock.device_auths.values()),
            lock_state=lock.lock_state,
            last_action=lock.last_action,
            actions=list(lock.executed),
            pending=len(lock.queue),
        )

    def _wake_all(self) -> None:
        for lock in self.locks.values():
            lock.wakeup.set()

    # ---- reads -----------------------------------------------------------------------------

    def cloud_auth(self, lock: LockRecord, auth_id: str) -> SmartlockAuth:
        try:
            return lock.cloud_auths[auth_id]
        except KeyError:
            raise errors.not_found("Smartlock authorization") from None

    def find_cloud_auth(self, auth_id: str) -> tuple[LockRecord, SmartlockAuth]:
        """Bulk endpoints name auths without their lock; an unknown id is a bad parameter."""
        for lock in self.locks.values():
            if auth_id in lock.cloud_auths:
                return lock, lock.cloud_auths[auth_id]
        raise errors.bad_parameter("id", auth_id)

    def logs(
        self,
        lock: LockRecord,
        *,
        limit: int,
        auth_id: str | None = None,
        action: int | None = None,
        older_than: str | None = None,
    ) -> list[SmartlockLog]:
        entries = list(reversed(lock.logs))  # newest first
        if older_than is not None:
            ids = [entry.id for entry in entries]
            entries = entries[ids.index(older_than) + 1 :] if older_than in ids else []
        entries = [
            entry
            for entry in entries
            if (auth_id is None or entry.auth_id == auth_id)
            and (action is None or entry.action == action)
        ]
        return entries[:limit]
