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
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from nukiflow.activities.fleet_activities import FleetActivities
    from nukiflow.contracts import search_attributes as sa
    from nukiflow.contracts.access import (
        ExtendRequest,
        FindAuthInput,
        GrantInput,
        GrantStatus,
        GrantView,
        RevokeAuthInput,
        RevokeRequest,
        WaitRequest,
    )
    from nukiflow.contracts.auth import AuthOutcome, AuthPatch, OutcomeStatus
    from nukiflow.contracts.rollout import ApplyItemInput, RolloutItem, RolloutOp, outcome_reason
    from nukiflow.contracts.wire import AuthType
    from nukiflow.workflows.failure_reasons import describe_activity_failure

ACTIVITY_MARGIN = timedelta(minutes=10)
MAX_CHANGE_DEADLINE = timedelta(days=30)
MIN_CREATE_DEADLINE = timedelta(seconds=1)
_REVOKING = (GrantStatus.REVOKING, GrantStatus.REVOCATION_OVERDUE, GrantStatus.REVOKED)


# Error types of the ``extend`` update: a request the grant refuses, and one the lock did not take.
REFUSED = "GrantRefused"
NOT_TAKEN = "LockDidNotTake"


@workflow.defn(name="NukiAccessGrant")
class AccessGrantWorkflow:
    @workflow.init
    def __init__(self, input: GrantInput) -> None:
        self._input = input
        self._request = input.request
        self._until: datetime = input.request.window.allowed_until_date
        self._until_seen = self._until
        self._auth_id: str | None = None
        self._status = GrantStatus.CREATING
        self._create_done = False
        # After a failed create: look for the auth at the end (it may still have landed).
        self._sweep = False
        self._revoke_requested = False
        self._revoke_reason: str | None = None
        self._revocation_due_at: datetime | None = None
        self._attempts = 0
        self._overdue_since: datetime | None = None
        self._revoked_at: datetime | None = None
        self._verified_by: str | None = None
        self._reason: str | None = None
        self._extend_lock = asyncio.Lock()
        self._extending = False
        self._published: GrantStatus | None = None

    # -- updates and query -------------------------------------------------------------------

    @workflow.update
    def revoke(self, request: RevokeRequest) -> GrantView:
        """Revoke now (before the window ends). Returns at once; the result says when done."""
        if not self._revoke_requested and self._status not in _REVOKING:
            self._revoke_requested = True
            self._revoke_reason = request.reason or "revoked early"
            self._revocation_due_at = workflow.now()
            workflow.logger.info("early revocation requested")
            self._show()
        return self._view()

    @workflow.update
    async def extend(self, request: ExtendRequest) -> GrantView:
        """Move the end: the lock gets the new ``allowedUntilDate`` first (verified), then the
        revocation timer moves. Fails (and changes nothing) if the lock does not take it."""
        async with self._extend_lock:
            await workflow.wait_condition(lambda: self._create_done)
            if self._revoke_requested or self._status in _REVOKING:
                raise ApplicationError(
                    "the grant is being revoked; it can no longer be changed", type=REFUSED
                )
            if self._auth_id is None:
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
                        auth_id=self._auth_id,
                        patch=AuthPatch(allowed_until_date=request.until),
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
            self._until = request.until
            workflow.logger.info("grant end moved")
            self._show()
            return self._view()

    @extend.validator
    def _validate_extend(self, request: ExtendRequest) -> None:
        if self._revoke_requested or self._status in _REVOKING:
            raise ValueError("the grant is being revoked; it can no longer be changed")
        if self._create_done and self._auth_id is None:
            raise ValueError("the code was never created; there is nothing to extend")
        if request.until <= workflow.now():
            raise ValueError("the new end must be in the future")
        if request.until <= self._request.window.allowed_from_date:
            raise ValueError("the new end must be after the window's start")

    @workflow.update
    async def created(self, request: WaitRequest) -> GrantView:
        """Wait until the code is on the lock (verified) or its create failed."""
        await workflow.wait_condition(lambda: self._create_done)
        return self._view()

    @workflow.query
    def state(self) -> GrantView:
        return self._view()

    # -- the grant's life --------------------------------------------------------------------

    @workflow.run
    async def run(self, input: GrantInput) -> GrantView:
        self._publish()
        self._show()
        await self._create()
        if self._status is GrantStatus.FAILED and not self._sweep:
            await workflow.wait_condition(workflow.all_handlers_finished)
            return self._view()
        await self._wait_for_end()
        if self._revocation_due_at is None:
            self._revocation_due_at = self._until
        if self._auth_id is None:
            await self._look_for_late_auth()
        if self._auth_id is not None:
            await self._revoke(self._auth_id)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view()

    async def _create(self) -> None:
        request = self._request
        remaining = self._until - workflow.now()
        if remaining <= timedelta(0):
            self._fail("the window had ended before the grant started; nothing was created")
            self._create_done = True
            return
        deadline = min(max(remaining, MIN_CREATE_DEADLINE), MAX_CHANGE_DEADLINE)
        try:
            outcome = await self._apply(
                f"access-{request.request_id}",
                RolloutItem(
                    op=RolloutOp.CREATE,
                    smartlock_id=request.smartlock_id,
                    create=request.fields(),
                    auth_type=AuthType.KEYPAD_CODE,
                ),
                deadline,
                f"create access code {request.name!r} on smartlock {request.smartlock_id}",
            )
        except ActivityError as err:
            self._fail(describe_activity_failure(err, "creating the code"), sweep=True)
            self._create_done = True
            return
        self._took(outcome)
        self._create_done = True

    def _took(self, outcome: AuthOutcome) -> None:
        if outcome.auth_id is not None:
            self._auth_id = outcome.auth_id
            workflow.upsert_search_attributes([sa.AUTH_ID.value_set(outcome.auth_id)])
            if outcome.status is not OutcomeStatus.APPLIED:
                # On the lock, but not exactly as asked: still ours to revoke.
                self._reason = outcome_reason(outcome)
            self._set_status(self._window_status())
        elif outcome.status is OutcomeStatus.REJECTED:
            self._fail(outcome_reason(outcome))
        else:
            self._fail(outcome_reason(outcome), sweep=True)

    async def _wait_for_end(self) -> None:
        start = self._request.window.allowed_from_date
        while not self._revoke_requested:
            now = workflow.now()
            if now >= self._until:
                if not self._extending:
                    return
                # A new end is being written onto the lock: its answer decides.
                await workflow.wait_condition(lambda: not self._extending or self._revoke_requested)
                continue
            if self._auth_id is not None:
                self._set_status(self._window_status())
            boundary = start if now < start else self._until
            self._until_seen = self._until
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._revoke_requested or self._until != self._until_seen,
                    timeout=boundary - now,
                    timeout_summary="access window starts" if now < start else "access window ends",
                )

    async def _look_for_late_auth(self) -> None:
        """The create failed: did its auth land after all? Look until the lock has been seen
        online twice, a poll window apart, without it (an offline lock may still apply a
        held create when it is back); the auth, if found, is revoked like any other."""
        request = self._request
        timing = self._input.grant_timing
        backoff = timing.revoke_retry_initial_seconds
        seen_online = False
        while True:
            try:
                found = await workflow.execute_activity_method(
                    FleetActivities.find_auth,
                    FindAuthInput(
                        smartlock_id=request.smartlock_id,
                        name=request.name,
                        code=request.code,
                        auth_type=AuthType.KEYPAD_CODE,
                    ),
                    start_to_close_timeout=timedelta(seconds=60),
                    schedule_to_close_timeout=timedelta(hours=24),
                    retry_policy=self._poll_policy(),
                    summary="look for a code the failed create may still have made",
                )
            except ActivityError as err:
                self._reason = f"{self._reason}; " + describe_activity_failure(
                    err, "looking for the code at the end"
                )
                self._show()
                return
            if found.auth_id is not None:
                self._auth_id = found.auth_id
                workflow.upsert_search_attributes([sa.AUTH_ID.value_set(found.auth_id)])
                self._reason = f"{self._reason}; the code showed up on the lock later"
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

    async def _revoke(self, auth_id: str) -> None:
        timing = self._input.grant_timing
        self._set_status(GrantStatus.REVOKING)
        assert self._revocation_due_at is not None
        overdue_at = self._revocation_due_at + timedelta(seconds=timing.overdue_after_seconds)
        while True:
            handle = workflow.start_activity_method(
                FleetActivities.revoke_auth,
                RevokeAuthInput(
                    smartlock_id=self._request.smartlock_id,
                    auth_id=auth_id,
                    request_prefix=f"{workflow.info().workflow_id}:revoke",
                    attempt_seconds=timing.revoke_attempt_seconds,
                    wait_seconds=timing.wait_seconds,
                    heartbeat_seconds=timing.heartbeat_seconds,
                ),
                start_to_close_timeout=timedelta(seconds=timing.revoke_attempt_seconds)
                + ACTIVITY_MARGIN,
                heartbeat_timeout=timedelta(seconds=timing.heartbeat_seconds),
                # Forever, with a long back-off: the code must go.
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=timing.revoke_retry_initial_seconds),
                    backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=timing.revoke_retry_max_seconds),
                    maximum_attempts=0,
                ),
                summary=f"revoke auth {auth_id} and verify it is gone",
            )
            if self._overdue_since is None:
                remaining = overdue_at - workflow.now()
                if remaining > timedelta(0):
                    with contextlib.suppress(TimeoutError):
                        await workflow.wait_condition(
                            handle.done, timeout=remaining, timeout_summary="revocation overdue"
                        )
                if not handle.done():
                    self._overdue_since = workflow.now()
                    self._set_status(GrantStatus.REVOCATION_OVERDUE)
                    workflow.logger.warning("revocation of auth %s is overdue", auth_id)
            try:
                result = await handle
            except ActivityError as err:
                # A final error (e.g. the API token was refused): the obligation stays.
                self._reason = describe_activity_failure(err, "revoking the code")
                self._show()
                await workflow.sleep(
                    timedelta(seconds=timing.revoke_retry_max_seconds),
                    summary="retry the revocation",
                )
                continue
            self._attempts += result.attempts
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
        return await workflow.execute_activity_method(
            FleetActivities.apply_item,
            ApplyItemInput(
                request_id=request_id,
                item=item,
                # Fixed now: every attempt of the activity sends the same instant.
                deadline_at=workflow.now() + deadline,
                wait_seconds=timing.wait_seconds,
                heartbeat_seconds=timing.heartbeat_seconds,
            ),
            start_to_close_timeout=deadline + ACTIVITY_MARGIN,
            schedule_to_close_timeout=2 * deadline + ACTIVITY_MARGIN,
            heartbeat_timeout=timedelta(seconds=timing.heartbeat_seconds),
            retry_policy=self._poll_policy(),
            summary=summary,
        )

    def _poll_policy(self) -> RetryPolicy:
        """Retries of API/Temporal errors, and the re-asking of a change still in progress."""
        timing = self._input.grant_timing
        return RetryPolicy(
            initial_interval=timedelta(seconds=timing.poll_initial_seconds),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=timing.poll_max_seconds),
        )

    def _window_status(self) -> GrantStatus:
        if workflow.now() < self._request.window.allowed_from_date:
            return GrantStatus.SCHEDULED
        return GrantStatus.ACTIVE

    def _fail(self, reason: str, *, sweep: bool = False) -> None:
        self._reason = reason
        self._sweep = sweep
        self._set_status(GrantStatus.FAILED)

    def _set_status(self, status: GrantStatus) -> None:
        self._status = status
        self._publish()
        self._show()

    def _publish(self) -> None:
        if self._published is self._status:
            return
        workflow.upsert_search_attributes(
            [
                sa.SMARTLOCK_ID.value_set(self._request.smartlock_id),
                sa.KIND.value_set("access"),
                sa.STATUS.value_set(self._status.value),
            ]
        )
        self._published = self._status

    def _view(self) -> GrantView:
        window = self._request.window.model_copy(update={"allowed_until_date": self._until})
        return GrantView(
            workflow_id=workflow.info().workflow_id,
            smartlock_id=self._request.smartlock_id,
            name=self._request.name,
            auth_id=self._auth_id,
            status=self._status,
            window=window,
            revoke_requested=self._revoke_requested,
            revoke_reason=self._revoke_reason,
            revocation_due_at=self._revocation_due_at,
            revocation_attempts=self._attempts,
            overdue_since=self._overdue_since,
            revoked_at=self._revoked_at,
            verified_by=self._verified_by,
            reason=self._reason,
        )

    def _show(self) -> None:
        w = self._request.window
        lines = [
            f"**Access** {self._request.name!r} on smartlock `{self._request.smartlock_id}`"
            + (f" (auth `{self._auth_id}`)" if self._auth_id else ""),
            f"**Status:** {self._status.value}",
            f"**Window (UTC):** {w.allowed_from_date:%Y-%m-%d %H:%M} to "
            f"{self._until:%Y-%m-%d %H:%M}",
        ]
        if self._revoke_requested:
            lines.append(f"**Revocation requested:** {self._revoke_reason}")
        if self._overdue_since is not None and self._status is not GrantStatus.REVOKED:
            lines.append(f"**Revocation overdue since** {self._overdue_since:%Y-%m-%d %H:%M:%S}")
        if self._revoked_at is not None:
            lines.append(f"**Revoked** {self._revoked_at:%Y-%m-%d %H:%M:%S} ({self._verified_by})")
        if self._reason:
            lines.append(f"> {self._reason}")
        workflow.set_current_details("\n\n".join(lines))
