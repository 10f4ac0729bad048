"""Activities of fleet rollouts and access grants: changes sent through the auth workflows.

A workflow cannot do Update-with-Start itself, so a rollout item (and a grant's create, change
and revocation) runs as an activity that sends it through the facade
(:class:`~nukiflow.contracts.ports.AuthChanges`, which the worker assembly provides) with a
deterministic request id. A retried attempt (after a crash, a timeout, a worker restart)
sends the same request id again and attaches to the change it already started: the entity
remembers request ids, and a create's workflow id is derived from its request id.

The activities wait for the change's outcome, which can take long (a lock offline for hours),
so they heartbeat while they wait and give up their call when cancelled. An item's first
heartbeat comes after half its heartbeat timeout (:mod:`activities.heartbeats`): most items
are answered sooner and cost the server none. A rollout's pause needs no heartbeat (the items
in flight finish); its cancel withdraws the items still in flight after the drain time, and
such an item's activity learns it at its next heartbeat (it gives up its wait then; the change
goes on in its auth's workflow either way), so it holds its slot up to half the heartbeat
timeout longer than one that heartbeated early.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.service import RPCError, RPCStatusCode

from nukiflow.activities.failures import to_application_error
from nukiflow.activities.heartbeats import heartbeat_wait, heartbeat_when_due
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.activities.nuki_errors import NukiError, NukiNotFoundError
from nukiflow.contracts.auth import (
    DEFAULT_CHANGE_DEADLINE_SECONDS,
    AuthChange,
    AuthOutcome,
    ChangeKind,
    CreateAuthRequest,
    OutcomeStatus,
)
from nukiflow.contracts.entity import AuthEntityResult, EntityStatus, auth_workflow_id
from nukiflow.contracts.fleet_io import (
    ITEM_PENDING,
    REVOCATION_PENDING,
    ApplyItemInput,
    FindAuthInput,
    FindAuthResult,
    RevokeAuthInput,
    RevokeAuthResult,
)
from nukiflow.contracts.messages import validation_message
from nukiflow.contracts.names import (
    APPLY_ITEM_ACTIVITY,
    FIND_AUTH_ACTIVITY,
    REVOKE_AUTH_ACTIVITY,
    ROLLOUT_ITEM_FAILED_ERROR,
)
from nukiflow.contracts.ports import AuthChanges
from nukiflow.contracts.rollout_plan import RolloutOp

T = TypeVar("T")


def _failed_as_failure(input: ApplyItemInput, outcome: AuthOutcome) -> AuthOutcome:
    """The outcome, or (when the workflow asked for it) a failure carrying a failed or
    rejected one, so the timeline draws the item failed."""
    if input.fail_when_failed and outcome.status in (
        OutcomeStatus.FAILED,
        OutcomeStatus.REJECTED,
    ):
        raise ApplicationError(
            f"{input.item.label()}: {outcome.status.value}: {outcome.reason or 'no reason given'}",
            outcome,
            type=ROLLOUT_ITEM_FAILED_ERROR,
            non_retryable=True,
        )
    return outcome


class RevokeProgress(BaseModel):
    """Carried across attempts (heartbeat details): the delete request in use. An attempt that
    runs out of time attaches to the same delete; one that saw it fail starts a new one."""

    round: int = 1


def _revoke_progress() -> RevokeProgress:
    details = activity.info().heartbeat_details
    if details:
        try:
            return RevokeProgress.model_validate(details[0])
        except (TypeError, ValueError):
            pass
    return RevokeProgress()


async def while_heartbeating(
    call: Awaitable[T],
    every: float,
    *,
    heartbeat_timeout: float | None = None,
    give_up_after: float | None = None,
    details: Any = None,
) -> T:
    """Await ``call`` while heartbeating every ``every`` seconds (with ``details``, if given).

    With ``heartbeat_timeout`` (the activity's, in seconds) the first heartbeat waits until half of
    it has passed (:mod:`activities.heartbeats`): a call answered sooner costs the server no
    heartbeat, and a cancellation reaches the activity at that first heartbeat.
    After ``give_up_after`` seconds the call is given up and ``TimeoutError`` raised; cancelling the
    activity cancels the call too. Either way the change itself goes on in its auth's workflow.
    """
    task = asyncio.ensure_future(call)
    give_up = None if give_up_after is None else time.monotonic() + give_up_after
    try:
        while True:
            step = every if heartbeat_timeout is None else heartbeat_wait(heartbeat_timeout, every)
            wait = step if give_up is None else min(step, give_up - time.monotonic())
            if wait <= 0:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
                raise TimeoutError
            done, _ = await asyncio.wait({task}, timeout=wait)
            if done:
                return task.result()
            beat = () if details is None else (details,)
            if heartbeat_timeout is None:
                activity.heartbeat(*beat)
            else:
                heartbeat_when_due(heartbeat_timeout, *beat)
    except asyncio.CancelledError:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise


class FleetActivities:
    """Owns the facade the activities send through (its Temporal client and task queue) and a
    Nuki client for read-only checks."""

    def __init__(self, nuki: NukiClient, flow: AuthChanges) -> None:
        self._nuki = nuki
        self._flow = flow

    @activity.defn(name=APPLY_ITEM_ACTIVITY)
    async def apply_item(self, input: ApplyItemInput) -> AuthOutcome:
        """Send one item through its auth's workflow and return the change's outcome.

        The change carries the item's deadline instant as the workflow fixed it, also when it
        has passed (a late attempt): a change its workflow already took answers with its
        outcome, any other is answered failed without being written.
        """
        item = input.item
        deadline_at = input.deadline_at
        if deadline_at is None:
            deadline_at = datetime.now(UTC) + timedelta(
                seconds=input.deadline_seconds or DEFAULT_CHANGE_DEADLINE_SECONDS
            )
        every = max(input.heartbeat_seconds / 3, 0.2)
        call: Awaitable[AuthOutcome]
        try:
            if item.op is RolloutOp.CREATE:
                assert item.create is not None
                fields = item.create.model_dump(exclude={"name"})
                if item.auth_type is not None:
                    fields["auth_type"] = item.auth_type
                call = self._flow.create(
                    CreateAuthRequest(
                        request_id=input.request_id,
                        smartlock_id=item.smartlock_id,
                        name=item.create.name,
                        deadline_at=deadline_at,
                        **fields,
                    ),
                    account=item.account,
                )
            elif item.op is RolloutOp.UPDATE:
                assert item.auth_id is not None and item.patch is not None
                call = self._flow.change_auth(
                    item.smartlock_id,
                    item.auth_id,
                    AuthChange(
                        request_id=input.request_id,
                        kind=ChangeKind.UPDATE,
                        patch=item.patch,
                        deadline_at=deadline_at,
                    ),
                    account=item.account,
                )
            else:
                call = self._delete_item(input, deadline_at)
        except ValidationError as exc:
            rejected = AuthOutcome(
                status=OutcomeStatus.REJECTED,
                request_id=input.request_id,
                smartlock_id=item.smartlock_id,
                auth_id=item.auth_id,
                kind=ChangeKind(item.op.value),
                reason=validation_message(exc),
            )
            return _failed_as_failure(input, rejected)
        try:
            outcome = await while_heartbeating(
                call,
                every,
                heartbeat_timeout=input.heartbeat_seconds,
                give_up_after=input.wait_seconds,
            )
        except TimeoutError:
            # Free this activity slot (the auth workflows need slots too); the retry policy
            # asks again later with the same request id, which attaches to the same change.
            raise ApplicationError(
                f"{item.label()} is still in progress after {input.wait_seconds:g} s; "
                "asking again later",
                type=ITEM_PENDING,
                category=ApplicationErrorCategory.BENIGN,
            ) from None
        return _failed_as_failure(input, outcome)

    async def _delete_item(self, input: ApplyItemInput, deadline_at: datetime) -> AuthOutcome:
        """A delete item: already done if its entity ended with a verified delete."""
        item = input.item
        assert item.auth_id is not None
        if await self._deleted_through_nukiflow(item.smartlock_id, item.auth_id):
            # An earlier attempt (or run) of this item, or another change, deleted it: the
            # desired state holds. Calling the ended entity again would start a new one.
            return AuthOutcome(
                status=OutcomeStatus.APPLIED,
                request_id=input.request_id,
                smartlock_id=item.smartlock_id,
                auth_id=item.auth_id,
                kind=ChangeKind.DELETE,
                reason="already deleted (its auth workflow ended with a verified delete; "
                "the auth is gone)",
                workflow_id=auth_workflow_id(item.smartlock_id, item.auth_id),
            )
        return await self._flow.change_auth(
            item.smartlock_id,
            item.auth_id,
            AuthChange(
                request_id=input.request_id, kind=ChangeKind.DELETE, deadline_at=deadline_at
            ),
            account=item.account,
        )

    @activity.defn(name=REVOKE_AUTH_ACTIVITY)
    async def revoke_auth(self, input: RevokeAuthInput) -> RevokeAuthResult:
        """Delete the auth through its entity and verify it is gone; fail (to be retried by the
        retry policy's long back-off) while it is not."""
        attempt = activity.info().attempt
        progress = _revoke_progress()
        details = progress.model_dump()
        activity.heartbeat(details)
        # Gone already (an earlier attempt, or someone else): no entity to start for it.
        if not await self._exists(input.smartlock_id, input.auth_id):
            return RevokeAuthResult(verified_by="read", attempts=attempt)
        try:
            outcome = await while_heartbeating(
                self._flow.delete_auth(
                    input.smartlock_id,
                    input.auth_id,
                    request_id=f"{input.request_prefix}:{progress.round}",
                    deadline=timedelta(seconds=input.attempt_seconds),
                    # This activity runs on the queue of the lock's account.
                    account=self._nuki.account,
                ),
                max(input.heartbeat_seconds / 3, 0.2),
                give_up_after=input.wait_seconds,
                details=details,
            )
        except TimeoutError:
            raise ApplicationError(
                f"the delete of auth {input.auth_id} is still in progress (lock offline?)",
                type=REVOCATION_PENDING,
                category=ApplicationErrorCategory.BENIGN,
            ) from None
        if outcome.status is OutcomeStatus.APPLIED:
            return RevokeAuthResult(verified_by="entity", attempts=attempt)
        # Not verified by the entity: already gone (deleted before, or by someone else)?
        if not await self._exists(input.smartlock_id, input.auth_id):
            return RevokeAuthResult(verified_by="read", attempts=attempt)
        # This delete ended without removing the auth: the next attempt sends a new one.
        activity.heartbeat(RevokeProgress(round=progress.round + 1).model_dump())
        raise ApplicationError(
            f"auth {input.auth_id} is still on smartlock {input.smartlock_id}: "
            f"{outcome.reason or outcome.status.value}",
            type=REVOCATION_PENDING,
            category=ApplicationErrorCategory.BENIGN,
        )

    @activity.defn(name=FIND_AUTH_ACTIVITY)
    async def find_auth(self, input: FindAuthInput) -> FindAuthResult:
        """The auth a create of (name, code, type) made, if any (matched as the create does),
        and whether the lock is online (listed first: an auth applied in between shows)."""
        try:
            lock = await self._nuki.get_smartlock(input.smartlock_id)
            auths = await self._nuki.list_auths(input.smartlock_id)
        except NukiError as exc:
            raise to_application_error(exc) from None
        for auth in auths:
            if auth.type == input.auth_type and auth.name == input.name and auth.code == input.code:
                return FindAuthResult(auth_id=auth.id, online=lock.online)
        return FindAuthResult(auth_id=None, online=lock.online)

    async def _deleted_through_nukiflow(self, smartlock_id: int, auth_id: str) -> bool:
        """The auth's entity workflow ended with a verified delete and the auth is gone. Asks
        Temporal first: no Nuki request unless the entity ended so."""
        handle = self._flow.client.get_workflow_handle(
            auth_workflow_id(smartlock_id, auth_id), result_type=AuthEntityResult
        )
        try:
            description = await handle.describe()
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return False
            raise
        if description.status is not WorkflowExecutionStatus.COMPLETED:
            return False
        # An entity also completes when its auth was never found: that is no delete.
        ended = await handle.result()
        if ended.status is not EntityStatus.DELETED:
            return False
        return not await self._exists(smartlock_id, auth_id)

    async def _exists(self, smartlock_id: int, auth_id: str) -> bool:
        try:
            await self._nuki.get_auth(smartlock_id, auth_id)
        except NukiNotFoundError:
            return False
        except NukiError as exc:
            raise to_application_error(exc) from None
        return True

    def activities(self) -> list[object]:
        return [self.apply_item, self.revoke_auth, self.find_auth]
