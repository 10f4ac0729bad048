"""The auth workflows' calls to the Nuki activities: by name, with the I/O models of
:mod:`nukiflow.contracts.auth_io` and the timeouts and retry policies of
:mod:`nukiflow.contracts.auth_policies`.

Workflow code only (deterministic, no I/O): nothing here imports the activities, so a workflow
worker's sandbox never loads the HTTP client. An activity failure surfaces as Temporal's
``ActivityError``; :mod:`nukiflow.workflows.failure_reasons` says what it means. Each goes
to the task queue of the lock's account (``activity_queue``: the workflow's own for the default
account).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypeVar

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import nukiflow.contracts.auth_policies as policy
    from nukiflow.contracts.accounts import activity_queue
    from nukiflow.contracts.auth_io import (
        AwaitAuthInput,
        AwaitAuthResult,
        CreateAuthInput,
        CreateAuthResult,
        ListAuthIdsInput,
        ListAuthIdsResult,
        ReadAuthInput,
        ReadAuthResult,
        ReadWriteSettleAuthInput,
        ReadWriteSettleAuthResult,
        WriteAuthInput,
        WriteAuthResult,
        WriteSettleAuthInput,
        WriteSettleAuthResult,
    )
    from nukiflow.contracts.names import (
        AWAIT_AUTH_ACTIVITY,
        CREATE_AUTH_ACTIVITY,
        LIST_AUTH_IDS_ACTIVITY,
        READ_AUTH_ACTIVITY,
        READ_WRITE_SETTLE_AUTH_ACTIVITY,
        WRITE_AUTH_ACTIVITY,
        WRITE_SETTLE_AUTH_ACTIVITY,
    )
    from nukiflow.contracts.timing import WorkflowTiming

R = TypeVar("R", bound=BaseModel)


async def read_auth(
    smartlock_id: int,
    auth_id: str,
    timing: WorkflowTiming,
    *,
    remaining: timedelta,
    summary: str = "read the auth as the base of the change",
    account: str | None = None,
    listed_within: float | None = None,
) -> ReadAuthResult:
    """The auth as Nuki holds it (``auth=None``: not found), read as the base of a change (or
    right after a write); given up by the nearest deadline of the changes waiting for it
    (``remaining``). ``listed_within``: a base read that a listing of the lock the worker sent
    at most this many seconds ago may answer (never a read after a write)."""
    result: ReadAuthResult = await workflow.execute_activity(
        READ_AUTH_ACTIVITY,
        ReadAuthInput(
            smartlock_id=smartlock_id, auth_id=auth_id, listed_within_seconds=listed_within
        ),
        result_type=ReadAuthResult,
        task_queue=activity_queue(account),
        start_to_close_timeout=policy.call_timeout(timing),
        schedule_to_close_timeout=policy.read_window(remaining),
        retry_policy=policy.call_retry_policy(timing.retry),
        summary=summary,
    )
    return result


async def write_auth(
    write: WriteAuthInput,
    timing: WorkflowTiming,
    *,
    remaining: timedelta,
    summary: str,
    account: str | None = None,
) -> WriteAuthResult:
    """Send the full auth (or the delete); retried until ``write.not_after``."""
    result: WriteAuthResult = await workflow.execute_activity(
        WRITE_AUTH_ACTIVITY,
        write,
        result_type=WriteAuthResult,
        task_queue=activity_queue(account),
        start_to_close_timeout=policy.call_timeout(timing),
        schedule_to_close_timeout=remaining,
        retry_policy=policy.call_retry_policy(timing.retry),
        summary=summary,
    )
    return result


async def write_settle_auth(
    attempt: WriteSettleAuthInput,
    timing: WorkflowTiming,
    *,
    remaining: timedelta,
    summary: str,
    account: str | None = None,
) -> WriteSettleAuthResult:
    """Write and settle in one attempt (the fast path; see
    :mod:`activities.auth_write_settle`). No retries: a worker that takes it up after the
    change's deadline (``remaining``) never gets it, and one killed meanwhile is noticed by the
    heartbeat timeout."""
    return await _one_attempt(
        WRITE_SETTLE_AUTH_ACTIVITY,
        attempt,
        WriteSettleAuthResult,
        policy.write_settle_attempt_timeout(timing),
        timing,
        remaining=remaining,
        summary=summary,
        account=account,
    )


async def read_write_settle_auth(
    attempt: ReadWriteSettleAuthInput,
    timing: WorkflowTiming,
    *,
    remaining: timedelta,
    summary: str,
    account: str | None = None,
) -> ReadWriteSettleAuthResult:
    """An entity's first change in one attempt: its base read, then the fast path (see
    :mod:`activities.auth_first_write`); no retries, as :func:`write_settle_auth`."""
    return await _one_attempt(
        READ_WRITE_SETTLE_AUTH_ACTIVITY,
        attempt,
        ReadWriteSettleAuthResult,
        policy.read_write_settle_attempt_timeout(timing),
        timing,
        remaining=remaining,
        summary=summary,
        account=account,
    )


async def _one_attempt(
    name: str,
    attempt: BaseModel,
    result_type: type[R],
    start_to_close: timedelta,
    timing: WorkflowTiming,
    *,
    remaining: timedelta,
    summary: str,
    account: str | None,
) -> R:
    """A fast-path activity: one attempt, heartbeating, never taken up after the change's
    deadline (``remaining``)."""
    result: R = await workflow.execute_activity(
        name,
        attempt,
        result_type=result_type,
        task_queue=activity_queue(account),
        schedule_to_start_timeout=remaining,
        start_to_close_timeout=start_to_close,
        heartbeat_timeout=policy.heartbeat_timeout(timing.poll),
        retry_policy=policy.single_attempt(),
        summary=summary,
    )
    return result


async def await_auth(
    smartlock_id: int,
    auth_id: str,
    timing: WorkflowTiming,
    *,
    deadline: datetime,
    summary: str,
    account: str | None = None,
) -> AwaitAuthResult:
    """Wait until no operation is pending on the auth, then read it back (fast polling in the
    first attempt, slow polling through the retry policy after it)."""
    return await start_await_auth(
        smartlock_id, auth_id, timing, deadline=deadline, summary=summary, account=account
    )


def start_await_auth(
    smartlock_id: int,
    auth_id: str,
    timing: WorkflowTiming,
    *,
    deadline: datetime,
    summary: str,
    account: str | None = None,
) -> workflow.ActivityHandle[AwaitAuthResult]:
    """:func:`await_auth` as a handle, for a wait the lock's report may cut short (cancel)."""
    return workflow.start_activity(
        AWAIT_AUTH_ACTIVITY,
        AwaitAuthInput(smartlock_id=smartlock_id, auth_id=auth_id, timing=timing.poll),
        result_type=AwaitAuthResult,
        task_queue=activity_queue(account),
        start_to_close_timeout=policy.await_attempt_timeout(timing),
        schedule_to_close_timeout=policy.await_window(deadline - workflow.now()),
        heartbeat_timeout=policy.heartbeat_timeout(timing.poll),
        retry_policy=policy.slow_poll_policy(timing.poll),
        summary=summary,
    )


async def list_auth_ids(
    smartlock_id: int, timing: WorkflowTiming, *, deadline: datetime, account: str | None = None
) -> ListAuthIdsResult:
    """The ids of the lock's auths (the snapshot a create is told apart from)."""
    result: ListAuthIdsResult = await workflow.execute_activity(
        LIST_AUTH_IDS_ACTIVITY,
        ListAuthIdsInput(smartlock_id=smartlock_id),
        result_type=ListAuthIdsResult,
        task_queue=activity_queue(account),
        start_to_close_timeout=policy.call_timeout(timing),
        schedule_to_close_timeout=deadline - workflow.now(),
        retry_policy=policy.call_retry_policy(timing.retry),
        summary=f"list the auths on smartlock {smartlock_id}",
    )
    return result


async def create_auth(
    create: CreateAuthInput, timing: WorkflowTiming, *, summary: str, account: str | None = None
) -> CreateAuthResult:
    """Create the auth exactly once (see :mod:`activities.auth_create_attempt`)."""
    result: CreateAuthResult = await workflow.execute_activity(
        CREATE_AUTH_ACTIVITY,
        create,
        result_type=CreateAuthResult,
        task_queue=activity_queue(account),
        start_to_close_timeout=policy.create_attempt_timeout(timing),
        schedule_to_close_timeout=create.not_after - workflow.now(),
        heartbeat_timeout=policy.heartbeat_timeout(timing.poll),
        # A lost create is sent again at once (the attempt sets its next retry delay); this
        # back-off paces what else fails an attempt (an offline lock, a 429, a fault that
        # outlasted the attempt's own retries) like a write's.
        retry_policy=policy.call_retry_policy(timing.retry),
        summary=summary,
    )
    return result
