"""Time-limited access: a keypad code whose revocation is an obligation, not a hope.

The grant creates the code with its window written onto the lock (``allowedFromDate``,
``allowedUntilDate``, weekdays, daily times), so the lock enforces the window even while it is
offline. A durable timer then waits for the window's end and deletes the auth through its
entity workflow, which verifies the delete by reading it back. While the lock is offline the
revocation is retried with a long back-off (Temporal's retry policy: no history growth), for as
long as it takes, until it is verified; from ``overdue_after_seconds`` after it fell due the
``NukiStatus`` search attribute says ``revocation_overdue`` (``nukiflow status`` lists it).

Updates: ``revoke`` (early; returns at once, the revocation runs as above), ``extend`` (moves the
end: written onto the lock first, and only then does the timer move), ``created`` (waits until
the code is on the lock or its create failed). Query: ``state``.

A create that failed without an auth id (deadline passed, lock offline) may still land later
(Nuki holds or drops it): at the window's end the grant looks for an auth matching the create
(name, code, type, as the create itself matches) and revokes it if it is there.

History stays bounded: a grant extended again and again, or looking for a late code or revoking
on a lock that stays offline for months, continues as new (once its create has ended) when its
history reaches ``max_history_events`` or Temporal suggests it, after every update has been
answered, carrying its state (:class:`~nukiflow.contracts.access.GrantMemory`, packed opaque:
the input names only what started the grant, see :class:`~nukiflow.contracts.access.GrantInput`).
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import nukiflow.contracts.fleet_policies as policy
    import nukiflow.workflows.fleet_calls as calls
    import nukiflow.workflows.logic_version as logic_version
    from nukiflow.contracts.access import (
        GRANT_NOT_TAKEN_ERROR,
        ExtendRequest,
        GrantInput,
        GrantStatus,
        GrantView,
        RevokeRequest,
        WaitRequest,
    )
    from nukiflow.contracts.auth import AuthOutcome, AuthPatch, OutcomeStatus
    from nukiflow.contracts.fleet_io import FindAuthInput, RevokeAuthInput
    from nukiflow.contracts.names import (
        ACCESS_GRANT_WORKFLOW,
        GRANT_CREATED_UPDATE,
        GRANT_EXTEND_UPDATE,
        GRANT_REFUSED_ERROR,
        GRANT_REVOKE_UPDATE,
        STATE_QUERY,
    )
    from nukiflow.contracts.rollout import RolloutItem, RolloutOp, outcome_reason
    from nukiflow.contracts.wire import AuthType
    from nukiflow.workflows.failure_reasons import describe_activity_failure
    from nukiflow.workflows.grant_book import GrantBook
    from nukiflow.workflows.named_updates import async_update

_REVOKING = (GrantStatus.REVOKING, GrantStatus.REVOCATION_OVERDUE, GrantStatus.REVOKED)
# Marks runs that continue as new when their history grows (runs from before never do).
ROLLOVER_PATCH = "grant-continues-as-new"

# Error types of the ``extend`` update: a request the grant refuses, and one the lock did not
# take (the facade imports REFUSED from here too).
REFUSED = GRANT_REFUSED_ERROR
NOT_TAKEN = GRANT_NOT_TAKEN_ERROR

__all__ = ["NOT_TAKEN", "REFUSED", "AccessGrantWorkflow"]


@workflow.defn(name=ACCESS_GRANT_WORKFLOW)
class AccessGrantWorkflow(GrantBook):
    @workflow.init
    def __init__(self, input: GrantInput) -> None:
        super().__init__(input)

    # -- updates and query -------------------------------------------------------------------

    @workflow.update(name=GRANT_REVOKE_UPDATE)
    def revoke(self, request: RevokeRequest) -> GrantView:
        """Revoke now (before the window ends). Returns at once; the result says when done."""
        if not self._m.revoke_requested and self._m.status not in _REVOKING:
            self._m.revoke_requested = True
            self._m.revoke_reason = request.reason or "revoked early"
            self._m.revocation_due_at = workflow.now()
            workflow.logger.info("early revocation requested")
            self._show()
        return self._view()

    @async_update(GRANT_EXTEND_UPDATE)
    async def extend(self, request: ExtendRequest) -> GrantView:
        """Move the end: the lock gets the new ``allowedUntilDate`` first (verified), then the
        revocation timer moves. Fails (and changes nothing) if the lock does not take it."""
        async with self._extend_lock:
            await workflow.wait_condition(lambda: self._create_done)
            if self._m.revoke_requested or self._m.status in _REVOKING:
                raise ApplicationError(
                    "the grant is being revoked; it can no longer be changed", type=REFUSED
                )
            if self._m.auth_id is None:
                raise ApplicationError(
                    "the code was never created; there is nothing to extend", type=REFUSED
                )
            if request.until <= workflow.now():
                raise ApplicationError("the new end has passed already", type=REFUSED)
            self._extending = True
            try:
                outcome = await self._apply(
                    f"{workflow.info().workflow_id}:extend:{request.request_id}",
                    RolloutItem(
                        op=RolloutOp.UPDATE,
                        smartlock_id=self._request.smartlock_id,
                        auth_id=self._m.auth_id,
                        patch=AuthPatch(allowed_until_date=request.until),
                        account=self._request.account,
                    ),
                    timedelta(seconds=self._input.grant_timing.change_deadline_seconds),
                    "write the new end onto the lock",
                )
            except ActivityError as err:
                raise ApplicationError(
                    describe_activity_failure(err, "writing the new end onto the lock"),
                    type=NOT_TAKEN,
                ) from None
            finally:
                self._extending = False
            if outcome.status is not OutcomeStatus.APPLIED:
                raise ApplicationError(
                    f"the lock did not take the new end: {outcome_reason(outcome)}",
                    type=NOT_TAKEN,
                )
            self._m.until = request.until
            workflow.logger.info("grant end moved")
            self._show()
            return self._view()

    @extend.validator
    def _validate_extend(self, request: ExtendRequest) -> None:
        if self._m.revoke_requested or self._m.status in _REVOKING:
            raise ValueError("the grant is being revoked; it can no longer be changed")
        if self._create_done and self._m.auth_id is None:
            raise ValueError("the code was never created; there is nothing to extend")
        if request.until <= workflow.now():
            raise ValueError("the new end must be in the future")
        if request.until <= self._request.window.allowed_from_date:
            raise ValueError("the new end must be after the window's start")

    @async_update(GRANT_CREATED_UPDATE)
    async def created(self, request: WaitRequest) -> GrantView:
        """Wait until the code is on the lock (verified) or its create failed."""
        await workflow.wait_condition(lambda: self._create_done)
        return self._view()

    @workflow.query(name=STATE_QUERY)
    def state(self) -> GrantView:
        return self._view()

    # -- the grant's life --------------------------------------------------------------------

    @workflow.run
    async def run(self, input: GrantInput) -> GrantView:
        self._may_roll_over = logic_version.since(ROLLOVER_PATCH)
        self._publish()
        self._show()
        if not self._create_done:
            await self._create()
        elif self._m.auth_id is not None:
            self._publish_auth_id(self._m.auth_id)
        if self._m.status is GrantStatus.FAILED and not self._m.sweep:
            await workflow.wait_condition(workflow.all_handlers_finished)
            return self._view()
        await self._wait_for_end()
        if self._m.revocation_due_at is None:
            self._m.revocation_due_at = self._m.until
        if self._m.auth_id is None:
            await self._look_for_late_auth()
        if self._m.auth_id is not None:
            await self._revoke(self._m.auth_id)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view()

    async def _create(self) -> None:
        request = self._request
        remaining = self._m.until - workflow.now()
        if remaining <= timedelta(0):
            self._fail("the window had ended before the grant started; nothing was created")
            self._create_done = True
            return
        try:
            outcome = await self._apply(
                f"access-{request.request_id}",
                RolloutItem(
                    op=RolloutOp.CREATE,
                    smartlock_id=request.smartlock_id,
                    create=request.fields(),
                    auth_type=AuthType.KEYPAD_CODE,
                    account=request.account,
                ),
                policy.create_deadline(remaining),
                f"create access code {request.name!r} on smartlock {request.smartlock_id}",
            )
        except ActivityError as err:
            self._fail(describe_activity_failure(err, "creating the code"), sweep=True)
            self._create_done = True
            return
        self._took(outcome)
        self._create_done = True

    async def _wait_for_end(self) -> None:
        start = self._request.window.allowed_from_date
        while not self._m.revoke_requested:
            now = workflow.now()
            if now >= self._m.until:
                if not self._extending:
                    return
                # A new end is being written onto the lock: its answer decides.
                await workflow.wait_condition(
                    lambda: not self._extending or self._m.revoke_requested
                )
                continue
            await self._roll_over_if_due()
            if self._m.auth_id is not None:
                self._set_status(self._window_status())
            boundary = start if now < start else self._m.until
            self._until_seen = self._m.until
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: (
                        self._m.revoke_requested
                        or self._m.until != self._until_seen
                        or self._rollover_due()
                    ),
                    timeout=boundary - now,
                    timeout_summary="access window starts" if now < start else "access window ends",
                )

    async def _look_for_late_auth(self) -> None:
        """The create failed: did its auth land after all? Look until the lock has been seen
        online twice, a poll window apart, without it (an offline lock may still apply a
        held create when it is back); the auth, if found, is revoked like any other."""
        request = self._request
        timing = self._input.grant_timing
        backoff = self._m.look_backoff_seconds or timing.revoke_retry_initial_seconds
        seen_online = self._m.look_seen_online
        while True:
            try:
                found = await calls.find_auth(
                    FindAuthInput(
                        smartlock_id=request.smartlock_id,
                        name=request.name,
                        code=request.code,
                        auth_type=AuthType.KEYPAD_CODE,
                    ),
                    timing,
                    request.account,
                )
            except ActivityError as err:
                self._m.reason = f"{self._m.reason}; " + describe_activity_failure(
                    err, "looking for the code at the end"
                )
                self._show()
                return
            if found.auth_id is not None:
                self._m.auth_id = found.auth_id
                self._publish_auth_id(found.auth_id)  # with the status _revoke sets next
                self._m.reason = f"{self._m.reason}; the code showed up on the lock later"
                return
            if found.online and seen_online:
                return
            if found.online:
                seen_online = True
                pause = timing.wait_seconds
            else:
                seen_online = False
                pause = backoff
                backoff = min(backoff * 2, timing.revoke_retry_max_seconds)
            await workflow.sleep(timedelta(seconds=pause), summary="look again for a late code")
            self._m.look_backoff_seconds, self._m.look_seen_online = backoff, seen_online
            await self._roll_over_if_due()

    async def _revoke(self, auth_id: str) -> None:
        timing = self._input.grant_timing
        overdue = self._m.overdue_since is not None
        self._set_status(GrantStatus.REVOCATION_OVERDUE if overdue else GrantStatus.REVOKING)
        assert self._m.revocation_due_at is not None
        overdue_at = self._m.revocation_due_at + timedelta(seconds=timing.overdue_after_seconds)
        while True:
            handle = calls.start_revoke(
                RevokeAuthInput(
                    smartlock_id=self._request.smartlock_id,
                    auth_id=auth_id,
                    request_prefix=f"{workflow.info().workflow_id}:revoke",
                    attempt_seconds=timing.revoke_attempt_seconds,
                    wait_seconds=timing.wait_seconds,
                    heartbeat_seconds=timing.heartbeat_seconds,
                ),
                timing,
                self._request.account,
            )
            if self._m.overdue_since is None:
                remaining = overdue_at - workflow.now()
                if remaining > timedelta(0):
                    with contextlib.suppress(TimeoutError):
                        await workflow.wait_condition(
                            handle.done, timeout=remaining, timeout_summary="revocation overdue"
                        )
                if not handle.done():
                    self._m.overdue_since = workflow.now()
                    self._set_status(GrantStatus.REVOCATION_OVERDUE)
                    workflow.logger.warning("revocation of auth %s is overdue", auth_id)
            try:
                result = await handle
            except ActivityError as err:
                # A final error (e.g. the API token was refused): the obligation stays.
                self._m.reason = describe_activity_failure(err, "revoking the code")
                self._show()
                await workflow.sleep(
                    timedelta(seconds=timing.revoke_retry_max_seconds),
                    summary="retry the revocation",
                )
                await self._roll_over_if_due()
                continue
            self._m.revocation_attempts += result.attempts
            self._verified_by = result.verified_by
            self._revoked_at = workflow.now()
            self._set_status(GrantStatus.REVOKED)
            return

    # -- helpers -----------------------------------------------------------------------------

    async def _apply(
        self, request_id: str, item: RolloutItem, deadline: timedelta, summary: str
    ) -> AuthOutcome:
        """Send a change through its auth's workflow (the rollout's item activity)."""
        timing = self._input.grant_timing
        return await calls.apply_item(
            request_id,
            item,
            deadline=deadline,
            wait_seconds=timing.wait_seconds,
            heartbeat_seconds=timing.heartbeat_seconds,
            retry_policy=policy.grant_poll_policy(timing),
            summary=summary,
        )
