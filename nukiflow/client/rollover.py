"""Update-with-Start that rides out a workflow's continue-as-new.

An entity (or a lock's workflow) that is continuing as new refuses changes until the changes it
holds have ended, which may take hours for an offline lock; the server may also abort an update
that races a closing run. Both are sent again, with growing pauses, for as long as the change's
own deadline allows; every other refusal reaches the caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateStage,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

# The first pause before a refused change is sent again, and the longest.
ROLLOVER_RETRY_DELAY = 0.1
ROLLOVER_RETRY_MAX_DELAY = 5.0


class RolloverTimeout(Exception):
    """The workflow was continuing as new until the change's deadline: the change was never
    accepted (the facade turns this into a failed or expired outcome)."""


async def send_update_with_start(
    client: Client,
    update: Any,
    arg: Any,
    *,
    operation: Callable[[], Any],
    update_id: str,
    rolling_over: str,
    deadline_at: datetime,
    wait_for_stage: WorkflowUpdateStage = WorkflowUpdateStage.COMPLETED,
    result_type: type | None = None,
) -> WorkflowUpdateHandle[Any]:
    """Update-with-Start that rides out an entity's continue-as-new.

    ``operation`` builds a fresh ``WithStartWorkflowOperation`` per attempt (one cannot be
    reused). A validator refusal typed ``rolling_over`` and the server's abort of an update that
    races a closing run are retried until the caller's ``deadline_at`` (then
    :class:`RolloverTimeout`); every other refusal raises ``WorkflowUpdateFailedError``.
    Every attempt sends the same ``arg``: it carries the caller's deadline as an instant, so a
    retry neither stretches nor recounts it. ``result_type``: what the update (given by its
    recorded name) answers.
    """
    delay = ROLLOVER_RETRY_DELAY
    while True:
        try:
            handle = await client.start_update_with_start_workflow(
                update,
                arg,
                start_workflow_operation=operation(),
                id=update_id,
                wait_for_stage=wait_for_stage,
                result_type=result_type,
            )
            if not _refused_on_arrival(handle):
                return handle
            await handle.result()  # raises the refusal, without another call
            return handle
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if not (isinstance(cause, ApplicationError) and cause.type == rolling_over):
                raise
        except RPCError as exc:
            if "closing workflow" not in str(exc) and "aborted" not in str(exc):
                raise
        left = (deadline_at - datetime.now(UTC)).total_seconds()
        if delay < left:
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, ROLLOVER_RETRY_MAX_DELAY)
            continue
        raise RolloverTimeout(
            "the workflow was continuing as new (finishing the changes it holds) until the "
            "deadline; the change was never accepted: send it again"
        )


def _refused_on_arrival(handle: WorkflowUpdateHandle[Any]) -> bool:
    """Whether the server answered the update with a failure already: a validator's refusal,
    which the SDK keeps on the handle (raised by ``result()`` without a call) when the caller
    waits for acceptance only. Without this look a rollover's refusal would reach the caller
    as the change's answer instead of being sent again."""
    outcome = getattr(handle, "_known_outcome", None)
    has_field = getattr(outcome, "HasField", None)
    return has_field is not None and bool(has_field("failure"))


def refusal_message(exc: WorkflowUpdateFailedError) -> tuple[str | None, str]:
    """The (type, message) of a validator's refusal."""
    cause = exc.cause
    kind = cause.type if isinstance(cause, ApplicationError) else None
    return kind, getattr(cause, "message", None) or str(cause)
