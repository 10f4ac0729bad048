"""Why a change waits: the entity's watch over the change it is writing.

Temporal shows a workflow the failure of an activity only when the activity's retries end (at
the change's deadline, for a write retried on ``423`` or a wait for an offline lock); attempts
before that, and the heartbeats of the one running, are seen by the UI's Pending Activities
and by ``describe()``, never by the workflow. So the entity looks for itself: once a change has
been under way for one fast polling window, a timer and a one-attempt look at the lock and the
auth (``nuki.auth.look``: ``serverState``, the auth's ``operationId`` in the lock's list) run
beside the write, first after that window, then at doubling pauses up to an hour. What they
see goes into the current details ("offline, seen since ...", "an operation is pending on the
auth since ...: writes get 423", "last checked ..."). An entity on the fast path starts the
watch only when its one-attempt write did not settle the change (that attempt took up to one
window, and what it saw is noted at once). Cost: nothing for a change the fast attempt settles
(two events, a timer started and cancelled, for one that lands within the window on the path
from before), five per look after it (about 150 for a day
offline); a look reads the lock and its auth list once each. A failed look is shown as such
and changes nothing else: the write and its answer never depend on the watch.

Workflow code (deterministic, no I/O).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, CancelledError

with workflow.unsafe.imports_passed_through():
    import nukiflow.contracts.auth_policies as policy
    from nukiflow.contracts.accounts import activity_queue
    from nukiflow.contracts.auth_io import LookAuthInput, LookAuthResult
    from nukiflow.contracts.names import LOOK_AUTH_ACTIVITY
    from nukiflow.contracts.timing import WorkflowTiming
    from nukiflow.workflows.failure_reasons import describe_activity_failure

# Pauses between looks double up to this.
MAX_LOOK_PAUSE = timedelta(hours=1)


class WaitNotes(BaseModel):
    """What the watch learned about the change under way (reset for every change)."""

    # The first look that saw the lock offline, in this stretch of looks that all did.
    offline_since: datetime | None = None
    # The first look that saw an operation pending on the auth (``operationId``), likewise.
    busy_since: datetime | None = None
    checked_at: datetime | None = None
    looks: int = 0
    # Why the last look failed (None: it did not).
    look_failed: str | None = None
    # Set when the change is done: the watch ends.
    stopped: bool = False


def first_pause(timing: WorkflowTiming) -> timedelta:
    """A change that lands within one fast polling window needs no look."""
    return timedelta(seconds=timing.poll.fast_window_seconds)


async def watch(
    smartlock_id: int,
    auth_id: str | None,
    timing: WorkflowTiming,
    notes: WaitNotes,
    seen: Callable[[], None],
    account: str | None = None,
) -> None:
    """Look at the lock and the auth until cancelled, writing what it sees into ``notes`` and
    calling ``seen`` after each look."""
    pause = first_pause(timing)
    while not notes.stopped:
        await workflow.sleep(pause, summary="then look why the change waits")
        try:
            look: LookAuthResult = await workflow.execute_activity(
                LOOK_AUTH_ACTIVITY,
                LookAuthInput(smartlock_id=smartlock_id, auth_id=auth_id),
                result_type=LookAuthResult,
                task_queue=activity_queue(account),
                start_to_close_timeout=policy.call_timeout(timing),
                retry_policy=RetryPolicy(maximum_attempts=1),
                summary="look: is the lock online, is an operation pending on the auth?",
            )
        except ActivityError as err:
            if notes.stopped or isinstance(err.cause, CancelledError):
                # Cancelled by stop_watch while the look ran: the change is done.
                return
            notes.look_failed = describe_activity_failure(err, "looking at the lock")
        else:
            now = workflow.now()
            notes.look_failed = None
            notes.offline_since = None if look.online else (notes.offline_since or now)
            notes.busy_since = (notes.busy_since or now) if look.operation_pending else None
        notes.looks += 1
        notes.checked_at = workflow.now()
        seen()
        pause = min(pause * 2, MAX_LOOK_PAUSE)


def start_watch(
    smartlock_id: int,
    auth_id: str | None,
    timing: WorkflowTiming,
    notes: WaitNotes,
    seen: Callable[[], None],
    account: str | None = None,
) -> asyncio.Task[None]:
    return asyncio.create_task(watch(smartlock_id, auth_id, timing, notes, seen, account))


async def stop_watch(task: asyncio.Task[None], notes: WaitNotes) -> None:
    """Cancel the watch (its timer or look) and let the cancellation be taken. ``notes``
    marks it stopped first, so a look whose cancellation arrives as its failure ends the loop
    instead of looking again."""
    notes.stopped = True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
