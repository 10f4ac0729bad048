"""The handle of a time-limited access grant (look at it, wait for its code, extend or revoke it),
and reading a lock's own time zone for a grant's daily times."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import TemporalError
from temporalio.service import RPCError, RPCStatusCode

from nukiflow.contracts.access import ExtendRequest, GrantView, RevokeRequest, WaitRequest
from nukiflow.contracts.lock_zone import LockZone, LockZoneInput
from nukiflow.contracts.names import (
    GRANT_CREATED_UPDATE,
    GRANT_EXTEND_UPDATE,
    GRANT_REVOKE_UPDATE,
    LOCK_ZONE_WORKFLOW,
    STATE_QUERY,
)
from nukiflow.fleet.errors import FleetError, checked, update_error
from nukiflow.times.zones import to_utc


class GrantHandle:
    """A time-limited access grant."""

    def __init__(self, handle: WorkflowHandle[Any, GrantView]) -> None:
        self.handle = handle

    @property
    def id(self) -> str:
        return self.handle.id

    async def state(self) -> GrantView:
        """The grant now (needs a worker while it runs; its result once it ended)."""
        description = await self.handle.describe()
        if description.status is WorkflowExecutionStatus.RUNNING:
            view: GrantView = await self.handle.query(STATE_QUERY, result_type=GrantView)
            return view
        return await self.handle.result()

    async def created(self) -> GrantView:
        """Wait until the code is on the lock (verified) or its create failed."""
        return await self._update(GRANT_CREATED_UPDATE, WaitRequest())

    async def revoke(self, reason: str | None = None, *, wait: bool = False) -> GrantView:
        """Revoke now; with ``wait``, return once the revocation is verified."""
        view = await self._update(GRANT_REVOKE_UPDATE, checked(RevokeRequest, reason=reason))
        return await self.result() if wait else view

    async def extend(
        self,
        until: str | datetime | date,
        *,
        tz: str | tzinfo | None = None,
        request_id: str | None = None,
    ) -> GrantView:
        """Move the end (written onto the lock first); raises :class:`FleetError` if the lock
        did not take it (the old end stays)."""
        when = to_utc(until, tz, what="the new end")
        request = checked(ExtendRequest, request_id=request_id or uuid.uuid4().hex, until=when)
        return await self._update(GRANT_EXTEND_UPDATE, request)

    async def result(self) -> GrantView:
        """Wait until the grant ended (revoked, or its create failed)."""
        return await self.handle.result()

    async def _update(self, update: str, argument: Any) -> GrantView:
        try:
            view: GrantView = await self.handle.execute_update(
                update, argument, result_type=GrantView
            )
        except WorkflowUpdateFailedError as exc:
            raise update_error(exc) from None
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                raise FleetError(f"grant {self.id} is not running ({exc.message})") from None
            raise
        return view


LOCK_ZONE_PREFIX = "nuki-lock-zone-"
# The reading may retry Nuki for a minute (workflows/lock_zone.py).
LOCK_ZONE_TIMEOUT = timedelta(minutes=2)


class LockZoneError(FleetError):
    """The lock's own time zone could not be read (give it instead: ``lock_tz=``)."""


async def read_lock_zone(
    client: Client, task_queue: str, smartlock_id: int, account: str | None = None
) -> str | None:
    """The lock's own time zone (IANA name) from its ``config.timezoneId``, read by a worker;
    None when the lock sets none (or an id nukiflow's table does not know). Raises
    :class:`LockZoneError` when the lock cannot be read (give the zone instead)."""
    try:
        zone: LockZone = await client.execute_workflow(
            LOCK_ZONE_WORKFLOW,
            LockZoneInput(smartlock_id=smartlock_id, account=account),
            id=f"{LOCK_ZONE_PREFIX}{smartlock_id}-{uuid.uuid4().hex[:12]}",
            task_queue=task_queue,
            result_type=LockZone,
            # Without a worker nothing reads it: the caller gets an answer, not a wait.
            execution_timeout=LOCK_ZONE_TIMEOUT,
            static_summary=f"read the time zone of smartlock {smartlock_id}",
        )
    except WorkflowFailureError as exc:
        # The activity's failure (Nuki's answer) under the workflow's.
        cause: BaseException = exc
        while isinstance(cause, TemporalError) and cause.cause is not None:
            cause = cause.cause
        raise LockZoneError(
            f"the time zone of smartlock {smartlock_id} could not be read ({cause}); "
            "give the lock's zone (lock_tz=, --lock-tz)"
        ) from None
    return zone.zone
