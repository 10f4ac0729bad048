"""The activities behind the fleet's Nexus operations: each goes through
:class:`~nukiflow.fleet.Fleet` like every other caller and waits (heartbeating, in rounds) for
the answer. Input the fleet refuses fails the operation at once (non-retryable, type
``NexusRequestRefused``) with the fleet's message, which names the field and never a code."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.exceptions import ApplicationError

from nukiflow.contracts.access import GrantView
from nukiflow.contracts.names import (
    NEXUS_GRANT_ACTIVITY,
    NEXUS_REFUSED_ERROR,
    NEXUS_REVOKE_ACTIVITY,
    NEXUS_ROLLOUT_ACTIVITY,
)
from nukiflow.contracts.rollout_progress import RolloutReport
from nukiflow.fleet import Fleet, FleetError
from nukiflow.nexus.activities import waited
from nukiflow.nexus.models import GrantCall, RevokeAccessInput, RolloutInput

if TYPE_CHECKING:
    from nukiflow.client import NukiFlow


def _refused(exc: Exception) -> ApplicationError:
    return ApplicationError(str(exc), type=NEXUS_REFUSED_ERROR, non_retryable=True)


class NexusFleetActivities:
    """Owns a :class:`~nukiflow.fleet.Fleet` on the worker's facade."""

    def __init__(self, flow: NukiFlow) -> None:
        self._fleet = Fleet(flow)

    @activity.defn(name=NEXUS_GRANT_ACTIVITY)
    async def grant(self, call: GrantCall) -> GrantView:
        grant = call.grant
        if call.code is None:
            raise ApplicationError(
                "the code generated for this grant is no longer kept (redeemed, discarded or "
                "expired); ask with a new request id",
                type=NEXUS_REFUSED_ERROR,
                non_retryable=True,
            )
        try:
            handle = await self._fleet.grant_access(
                grant.smartlock_id,
                name=grant.name,
                code=call.code,
                start=grant.start,
                end=grant.end,
                lock_tz=grant.lock_tz,
                weekdays=grant.weekdays,
                times=grant.times,
                request_id=grant.request_id,
            )
        except (ValueError, FleetError) as exc:
            # Bad input, or this request id names a grant made with other details.
            raise _refused(exc) from None
        return await waited(handle.created(), grant.request_id)

    @activity.defn(name=NEXUS_REVOKE_ACTIVITY)
    async def revoke(self, revoke: RevokeAccessInput) -> GrantView:
        try:
            handle = self._fleet.grant(revoke.grant_id)
        except ValueError as exc:
            raise _refused(exc) from None
        view = await handle.state()
        if not view.revoke_requested and view.status.value not in ("revoked", "failed"):
            try:
                await handle.revoke(revoke.reason)
            except FleetError as exc:
                raise _refused(exc) from None
        return await waited(handle.result(), revoke.grant_id)

    @activity.defn(name=NEXUS_ROLLOUT_ACTIVITY)
    async def rollout(self, rollout: RolloutInput) -> RolloutReport:
        try:
            handle = await self._fleet.apply_rollout(
                rollout.items,
                rollout_id=rollout.rollout_id,
                options=rollout.options,
                name=rollout.name,
            )
        except ValueError as exc:
            raise _refused(exc) from None
        try:
            return await waited(handle.result(), rollout.request_id)
        except asyncio.CancelledError:
            # The caller cancelled the operation: the rollout starts no more items.
            with contextlib.suppress(Exception):
                await handle.cancel("the Nexus operation was cancelled by its caller")
            raise

    def activities(self) -> list[object]:
        return [self.grant, self.revoke, self.rollout]
