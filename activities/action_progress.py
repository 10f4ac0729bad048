"""Progress of the lock-action activities across their attempts, and waiting while alive.

An attempt keeps its progress in heartbeat details (Temporal keeps an attempt's last heartbeat,
also when it fails) and hands it to the workflow in the details of the failure it raises, which
travel with the failure itself. Waits heartbeat at least every third of the heartbeat timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from nukiflow.activities.failures import final
from nukiflow.contracts.action_io import SendProgress
from nukiflow.contracts.names import DEADLINE_PASSED_ERROR
from nukiflow.contracts.timing import PollTiming

P = TypeVar("P", bound=BaseModel)

# The shortest pause between heartbeats while waiting (a tiny heartbeat timeout in tests).
MIN_HEARTBEAT_STEP = 0.05


class LookProgress(BaseModel):
    """Carried across look attempts (heartbeat details): the requests made so far."""

    requests: int = 0


def resumed(model: type[P]) -> P:
    """This attempt's progress: what the previous attempt's last heartbeat carried, or fresh."""
    details = activity.info().heartbeat_details
    if details:
        try:
            return model.model_validate(details[0])
        except (TypeError, ValueError, ValidationError):
            pass
    return model()


def with_progress(err: ApplicationError, progress: BaseModel) -> ApplicationError:
    """``err`` as failures.py made it, carrying ``progress`` as its details."""
    activity.heartbeat(progress.model_dump(mode="json"))
    return ApplicationError(
        err.message,
        progress.model_dump(mode="json"),
        type=err.type,
        non_retryable=err.non_retryable,
        next_retry_delay=err.next_retry_delay,
        category=err.category,
    )


def deadline_passed(progress: SendProgress) -> ApplicationError:
    """The send's refusal once its deadline has passed, with why the last attempt did not send."""
    message = "the action's deadline passed before it could be sent"
    if progress.last_refusal:
        message += f"; the last attempt: {progress.last_refusal}"
    return final(message, DEADLINE_PASSED_ERROR)


def heartbeat_step(timing: PollTiming) -> float:
    return max(MIN_HEARTBEAT_STEP, timing.heartbeat_timeout_seconds / 3)


async def pause(seconds: float, timing: PollTiming, progress: BaseModel) -> None:
    """Sleep ``seconds``, heartbeating ``progress`` on the way."""
    step = heartbeat_step(timing)
    while seconds > 0:
        activity.heartbeat(progress.model_dump(mode="json"))
        await asyncio.sleep(min(seconds, step))
        seconds -= step


async def sleep_until(
    offset: float, elapsed: Callable[[], float], timing: PollTiming, progress: BaseModel
) -> None:
    """Sleep until ``elapsed()`` reaches ``offset``, heartbeating ``progress`` on the way."""
    step = heartbeat_step(timing)
    while True:
        delay = offset - elapsed()
        if delay <= 0:
            return
        activity.heartbeat(progress.model_dump(mode="json"))
        await asyncio.sleep(min(delay, step))
