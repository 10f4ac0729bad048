"""How the lock workflow calls its three activities (workflow code: call only from it).

They are called by their recorded names with the models of :mod:`nukiflow.contracts.action_io`,
so the workflow never imports the activity modules (nor httpx); their timeouts and retry
policies come from :mod:`nukiflow.contracts.action_policies`, their summaries (shown in the
Temporal UI) name the action by its number in this lock's queue.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ActivityError

from nukiflow.contracts.accounts import activity_queue
from nukiflow.contracts.action import LockActionsInput, QueuedAction
from nukiflow.contracts.action_io import (
    ConfirmActionInput,
    ConfirmActionResult,
    LookActionInput,
    LookActionResult,
    SendActionInput,
    SendActionResult,
)
from nukiflow.contracts.action_policies import confirm_options, look_options, send_options
from nukiflow.contracts.names import (
    CONFIRM_ACTION_ACTIVITY,
    LOOK_ACTION_ACTIVITY,
    SEND_ACTION_ACTIVITY,
)
from nukiflow.workflows.action_timing import confirm_until
from nukiflow.workflows.failure_reasons import describe_activity_failure


async def send(
    input: LockActionsInput, queued: QueuedAction, log_since: datetime
) -> SendActionResult:
    """Send the action before its deadline (or find that an earlier attempt did); raises the
    ActivityError Temporal recorded when the activity ends without a result."""
    request = queued.request
    options = send_options(input.action_timing, input.timing.retry, queued.deadline, workflow.now())
    # By name: the result's type comes from result_type, so it is declared here.
    sent: SendActionResult = await workflow.execute_activity(
        SEND_ACTION_ACTIVITY,
        SendActionInput(
            smartlock_id=input.smartlock_id,
            action=request.action,
            option=request.option,
            not_after=queued.deadline,
            log_since=log_since,
        ),
        result_type=SendActionResult,
        task_queue=activity_queue(input.account),
        start_to_close_timeout=options.start_to_close,
        schedule_to_close_timeout=options.schedule_to_close,
        retry_policy=options.retry_policy,
        summary=f"#{queued.number} {request.action.value}: check the lock is online, "
        f"send before {queued.deadline:%H:%M:%S} UTC",
    )
    return sent


async def confirm(
    input: LockActionsInput,
    queued: QueuedAction,
    sent: SendActionResult,
    sent_at: datetime,
    log_since: datetime,
    *,
    expected_seconds: float | None,
    probe_fraction: float | None,
) -> ConfirmActionResult:
    """Wait for the lock to show the action done, until its deadline or the end of the fast
    window; raises the ActivityError Temporal recorded when it was not seen done."""
    return await start_confirm(
        input,
        queued,
        sent,
        sent_at,
        log_since,
        expected_seconds=expected_seconds,
        probe_fraction=probe_fraction,
    )


def start_confirm(
    input: LockActionsInput,
    queued: QueuedAction,
    sent: SendActionResult,
    sent_at: datetime,
    log_since: datetime,
    *,
    expected_seconds: float | None,
    probe_fraction: float | None,
    until: datetime | None = None,
) -> workflow.ActivityHandle[ConfirmActionResult]:
    """:func:`confirm` as a handle, for a confirmation the lock's reports may cut short;
    ``until`` (default: from now) is when it gives up."""
    request = queued.request
    poll = input.timing.poll
    if until is None:
        until = confirm_until(queued.deadline, workflow.now(), poll)
    options = confirm_options(input.action_timing, poll, until, workflow.now())
    return workflow.start_activity(
        CONFIRM_ACTION_ACTIVITY,
        ConfirmActionInput(
            smartlock_id=input.smartlock_id,
            action=request.action,
            before=sent.before,
            sent_at=sent_at,
            log_since=log_since,
            expected_seconds=expected_seconds,
            probe_fraction=probe_fraction,
            timing=poll,
        ),
        result_type=ConfirmActionResult,
        task_queue=activity_queue(input.account),
        start_to_close_timeout=options.start_to_close,
        schedule_to_close_timeout=options.schedule_to_close,
        heartbeat_timeout=options.heartbeat,
        retry_policy=options.retry_policy,
        summary=f"#{queued.number} {request.action.value}: wait for the lock to show it "
        "done (state, then log)",
    )


async def look(
    input: LockActionsInput, queued: QueuedAction, log_since: datetime, until: datetime | None
) -> tuple[LookActionResult | None, str | None]:
    """The look activity's result (looking until ``until``, or once), or why it failed."""
    poll = input.timing.poll
    options = look_options(input.action_timing, poll, input.timing.retry, until, workflow.now())
    try:
        result: LookActionResult = await workflow.execute_activity(
            LOOK_ACTION_ACTIVITY,
            LookActionInput(
                smartlock_id=input.smartlock_id,
                action=queued.request.action,
                log_since=log_since,
                until=until,
                timing=poll,
            ),
            result_type=LookActionResult,
            task_queue=activity_queue(input.account),
            start_to_close_timeout=options.start_to_close,
            schedule_to_close_timeout=options.schedule_to_close,
            heartbeat_timeout=options.heartbeat,
            retry_policy=options.retry_policy,
            summary=f"#{queued.number} {queued.request.action.value}: look for it in the "
            "lock's log" + ("" if until is None else f" until {until:%H:%M:%S} UTC"),
        )
    except ActivityError as err:
        return None, describe_activity_failure(err, "reading the lock's log")
    return result, None
