"""`SimulatorControl`: a typed client of the fake cloud's control surface (`/_sim/...`)."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Any, TypedDict, Unpack

import httpx

from nukiflow.contracts.accounts import check_account_name
from nukiflow.contracts.wire import Smartlock, SmartlockAuth

from .control_api import CONTROL_PREFIX
from .control_models import (
    AccountSpec,
    AccountView,
    AuthSpec,
    DeviceView,
    LockSpec,
    RequestRecord,
)
from .nuki_timezones import DEFAULT_TIMEZONE_ID
from .settings import Faults, SimSettings
from .webhook_models import AuthChange, WebhookDelivery, WebhookView


class Restrictions(TypedDict, total=False):
    """Time restrictions `add_auth` accepts as keyword arguments."""

    allowed_from_date: datetime
    allowed_until_date: datetime
    allowed_week_days: int
    allowed_from_time: int
    allowed_until_time: int
    account_user_id: int


class AuthChanges(TypedDict, total=False):
    """Fields `update_device_auth` changes (keyword arguments); None clears a restriction."""

    name: str
    code: int
    enabled: bool
    remote_allowed: bool
    account_user_id: int | None
    allowed_from_date: datetime | None
    allowed_until_date: datetime | None
    allowed_week_days: int | None
    allowed_from_time: int | None
    allowed_until_time: int | None


class SimulatorControl:
    """Use as `async with SimulatorControl(base_url, token) as sim`."""

    def __init__(self, base_url: str, token: str) -> None:
        # trust_env=False: no proxy from the environment; the simulator is on loopback.
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + CONTROL_PREFIX,
            headers={"Authorization": f"Bearer {token}"},
            trust_env=False,
            timeout=10.0,
        )

    async def __aenter__(self) -> SimulatorControl:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = await self._http.request(method, path, json=body)
        response.raise_for_status()
        return None if response.status_code == 204 else response.json()

    @staticmethod
    def _lock_path(smartlock_id: int) -> str:
        return f"/locks/{smartlock_id}"

    async def reset(self, seed: int | None = None) -> None:
        """Back to the start: the seeded locks only, no faults, settings as started, empty log."""
        await self._call("POST", "/reset", {"seed": seed})

    async def add_lock(
        self,
        *,
        smartlock_id: int | None = None,
        name: str | None = None,
        type: int = 4,
        keypad_paired: bool = True,
        opener: bool = False,
        timezone_id: int = DEFAULT_TIMEZONE_ID,
        account: str | None = None,
    ) -> Smartlock:
        """A lock of the server token's account (or of ``account``, added by `add_account`);
        `timezone_id` is Nuki's id of its zone (37 Europe/Berlin)."""
        spec = LockSpec(
            smartlock_id=smartlock_id,
            name=name,
            type=type,
            keypad_paired=keypad_paired,
            opener=opener,
            timezone_id=timezone_id,
            account=account,
        )
        return Smartlock.model_validate(await self._call("POST", "/locks", spec.model_dump()))

    async def add_account(
        self,
        name: str,
        *,
        api_tokens: list[str] | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        refresh_tokens: list[str] | None = None,
    ) -> AccountView:
        """A further account: its locks are seen only with its API tokens or with access tokens
        its OAuth client gets from `POST /oauth/token`."""
        spec = AccountSpec(
            name=name,
            api_tokens=api_tokens or [],
            client_id=client_id,
            client_secret=client_secret,
            refresh_tokens=refresh_tokens or [],
        )
        return AccountView.model_validate(await self._call("POST", "/accounts", spec.model_dump()))

    async def account(self, name: str) -> AccountView:
        return AccountView.model_validate(await self._call("GET", _account_path(name)))

    async def expire_tokens(self, name: str) -> None:
        """Every access token of the account expires now: its next request answers 401."""
        await self._call("POST", _account_path(name, "expire"))

    async def revoke_account(self, name: str) -> None:
        """Withdraw the account's OAuth authorization: tokens die, refreshes are refused."""
        await self._call("POST", _account_path(name, "revoke"))

    async def add_auth(
        self,
        smartlock_id: int,
        *,
        name: str,
        code: int | None = None,
        type: int = 13,
        enabled: bool = True,
        remote_allowed: bool = False,
        **restrictions: Unpack[Restrictions],
    ) -> SmartlockAuth:
        """Put an auth directly on the device (no pending operation, no Nuki validation)."""
        spec = AuthSpec(
            name=name,
            code=code,
            type=type,
            enabled=enabled,
            remote_allowed=remote_allowed,
            **restrictions,
        )
        body = spec.model_dump(mode="json")
        data = await self._call("POST", f"{self._lock_path(smartlock_id)}/auths", body)
        return SmartlockAuth.model_validate(data)

    async def update_device_auth(
        self, smartlock_id: int, auth_id: str, **change: Unpack[AuthChanges]
    ) -> SmartlockAuth:
        """Change an auth directly on the device, as the Nuki app does: no operationId, no
        validation beyond types; the fields given replace theirs (None clears a restriction).
        Announced by DEVICE_AUTHS."""
        body = AuthChange.model_validate(change).model_dump(mode="json", exclude_unset=True)
        data = await self._call("PATCH", f"{self._lock_path(smartlock_id)}/auths/{auth_id}", body)
        return SmartlockAuth.model_validate(data)

    async def delete_device_auth(self, smartlock_id: int, auth_id: str) -> None:
        """Remove an auth directly on the device, as the Nuki app does (DEVICE_AUTHS, deleted)."""
        await self._call("DELETE", f"{self._lock_path(smartlock_id)}/auths/{auth_id}")

    async def webhooks(self) -> list[WebhookView]:
        """Every registered webhook with what Nuki's listing does not show (active or not)."""
        return [WebhookView.model_validate(item) for item in await self._call("GET", "/webhooks")]

    async def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every webhook delivery attempt so far (and deliveries dropped or discarded), oldest
        first; the last `webhook_log_size` are kept."""
        data = await self._call("GET", "/webhook-deliveries")
        return [WebhookDelivery.model_validate(item) for item in data]

    async def clear_webhook_deliveries(self) -> None:
        await self._call("DELETE", "/webhook-deliveries")

    async def set_faults(self, faults: Faults, smartlock_id: int | None = None) -> None:
        """Global faults, or one lock's faults (which then replace the global ones for it)."""
        path = "/faults" if smartlock_id is None else f"{self._lock_path(smartlock_id)}/faults"
        await self._call("PUT", path, faults.model_dump(mode="json"))

    async def get_faults(self, smartlock_id: int | None = None) -> Faults:
        """The global faults, or those in effect for one lock."""
        path = "/faults" if smartlock_id is None else f"{self._lock_path(smartlock_id)}/faults"
        return Faults.model_validate(await self._call("GET", path))

    async def clear_faults(self, smartlock_id: int) -> None:
        """Drop a lock's own faults; the global ones apply to it again."""
        await self._call("DELETE", f"{self._lock_path(smartlock_id)}/faults")

    async def get_settings(self) -> SimSettings:
        return SimSettings.model_validate(await self._call("GET", "/settings"))

    async def set_settings(self, settings: SimSettings) -> None:
        await self._call("PUT", "/settings", settings.model_dump(mode="json"))

    async def set_online(self, smartlock_id: int, online: bool) -> None:
        await self._call("PUT", f"{self._lock_path(smartlock_id)}/online", {"online": online})

    async def device(self, smartlock_id: int) -> DeviceView:
        data = await self._call("GET", f"{self._lock_path(smartlock_id)}/device")
        return DeviceView.model_validate(data)

    async def requests(self, since: int = 0) -> list[RequestRecord]:
        """Every Nuki API request so far (control-surface requests are not recorded); with
        ``since``, only those after the first ``since`` (the log only grows until cleared)."""
        path = "/requests" if since <= 0 else f"/requests?since={since}"
        return [RequestRecord.model_validate(item) for item in await self._call("GET", path)]

    async def clear_requests(self) -> None:
        await self._call("DELETE", "/requests")


def _account_path(name: str, action: str = "") -> str:
    """The control path of one account: its name is checked (lower case letters, digits and
    inner dashes), so it can never step out of ``/accounts/``."""
    path = f"/accounts/{check_account_name(name)}"
    return f"{path}/{action}" if action else path
