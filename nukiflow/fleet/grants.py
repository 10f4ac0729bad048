"""The handle of a time-limited access grant: look at it, wait for its code, extend or revoke."""

from __future__ import annotations

import uuid
from datetime import date, datetime, tzinfo
from typing import Any

from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from nukiflow.contracts.access import ExtendRequest, GrantView, RevokeRequest, WaitRequest
from nukiflow.contracts.names import (
    GRANT_CREATED_UPDATE,
    GRANT_EXTEND_UPDATE,
    GRANT_REVOKE_UPDATE,
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
