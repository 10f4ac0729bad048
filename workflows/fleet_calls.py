"""The fleet workflows' calls to the fleet activities: by name, with the I/O models of
:mod:`nukiflow.contracts.fleet_io` and the timeouts and retry policies of
:mod:`nukiflow.contracts.fleet_policies`. Workflow code only: nothing here imports the
activities (or the facade and HTTP client they use)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import nukiflow.contracts.fleet_policies as policy
    from nukiflow.contracts.access import GrantTiming
    from nukiflow.contracts.accounts import activity_queue
    from nukiflow.contracts.auth import AuthOutcome
    from nukiflow.contracts.fleet_io import (
        ApplyItemInput,
        FindAuthInput,
        FindAuthResult,
        RevokeAuthInput,
        RevokeAuthResult,
    )
    from nukiflow.contracts.names import (
        APPLY_ITEM_ACTIVITY,
        FIND_AUTH_ACTIVITY,
        REVOKE_AUTH_ACTIVITY,
        ROLLOUT_ITEM_FAILED_ERROR,
    )
    from nukiflow.contracts.rollout import RolloutItem


async def apply_item(
    request_id: str,
    item: RolloutItem,
    *,
    deadline: timedelta,
    wait_seconds: float,
    heartbeat_seconds: float,
    retry_policy: RetryPolicy,
    summary: str,
    fail_when_failed: bool = False,
) -> AuthOutcome:
    """Send one change through its auth's workflow (a create through the create workflow) and
    return its outcome. Its deadline becomes an instant now: every attempt sends the same.
    With ``fail_when_failed`` a failed or rejected change fails the activity (see
    :func:`item_failure_outcome`)."""
    result: AuthOutcome = await workflow.execute_activity(
        APPLY_ITEM_ACTIVITY,
        ApplyItemInput(
            request_id=request_id,
            item=item,
            deadline_at=workflow.now() + deadline,
            wait_seconds=wait_seconds,
            heartbeat_seconds=heartbeat_seconds,
            fail_when_failed=fail_when_failed,
        ),
        result_type=AuthOutcome,
        start_to_close_timeout=policy.item_start_to_close(deadline),
        schedule_to_close_timeout=policy.item_schedule_to_close(deadline),
        heartbeat_timeout=timedelta(seconds=heartbeat_seconds),
        retry_policy=retry_policy,
        summary=summary,
    )
    return result


async def find_auth(
    look: FindAuthInput, timing: GrantTiming, account: str | None = None
) -> FindAuthResult:
    """Whether a code a failed create may still have made is on the lock."""
    result: FindAuthResult = await workflow.execute_activity(
        FIND_AUTH_ACTIVITY,
        look,
        result_type=FindAuthResult,
        task_queue=activity_queue(account),
        start_to_close_timeout=policy.FIND_AUTH_ATTEMPT,
        schedule_to_close_timeout=policy.FIND_AUTH_WINDOW,
        retry_policy=policy.grant_poll_policy(timing),
        summary="look for a code the failed create may still have made",
    )
    return result


def start_revoke(
    revoke: RevokeAuthInput, timing: GrantTiming, account: str | None = None
) -> workflow.ActivityHandle[RevokeAuthResult]:
    """Start deleting the auth through its entity and verifying it is gone, retried forever."""
    return workflow.start_activity(
        REVOKE_AUTH_ACTIVITY,
        revoke,
        result_type=RevokeAuthResult,
        task_queue=activity_queue(account),
        start_to_close_timeout=policy.revoke_start_to_close(timing),
        heartbeat_timeout=policy.grant_heartbeat(timing),
        retry_policy=policy.revoke_policy(timing),
        summary=f"revoke auth {revoke.auth_id} and verify it is gone",
    )


def item_failure_outcome(err: ActivityError) -> AuthOutcome | None:
    """The outcome a failed item's activity carries (None: the activity failed otherwise)."""
    cause = err.cause
    if not isinstance(cause, ApplicationError) or cause.type != ROLLOUT_ITEM_FAILED_ERROR:
        return None
    if not cause.details:
        return None
    return AuthOutcome.model_validate(cause.details[0])
