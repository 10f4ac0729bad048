"""How the authorization entity learns that its write settled: from the lock's report
(``DEVICE_AUTHS`` by webhook) when it comes, by polling when it does not.

Workflow code (deterministic: the reports are signals in history, the waits are timers), split
from :mod:`nukiflow.workflows.auth_entity`, which inherits this; what a report proves is
:func:`nukiflow.workflows.completion.settles_write`.

After the write (when the worker says webhooks reach this deployment), one read of the auth
marks it: either the operation already settled (that read is the read-back), or it shows the
pending operation with the ``updateDate`` Nuki gave the write, on Nuki's own clock. A report
with no operation pending and an ``updateDate`` not older than that mark carries the auth as the
lock holds it after the write: it is compared field by field like a read-back (a lost or
overwritten update is written again), so a write the lock reports costs the write and one read.
While webhooks are healthy (:func:`~nukiflow.workflows.completion.healthy`) the entity waits
``webhook_wait_seconds`` for that report, then polls with the report still taken if it comes
first (the poll is cancelled). Otherwise it polls at once as without webhooks (no mark, no race:
a cancelled poll reads on until its next heartbeat reaches Temporal), and is healthy again when
the write's report had come in by the time polling settled it. Runs from before
``COMPLETION_PATCH`` poll only.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    import nukiflow.workflows.auth_calls as calls
    import nukiflow.workflows.logic_version as logic_version
    from nukiflow.contracts.auth_io import AwaitAuthResult, WriteAuthResult
    from nukiflow.contracts.entity import PendingChange
    from nukiflow.contracts.events import AuthEvent
    from nukiflow.contracts.wire import SmartlockAuth
    from nukiflow.workflows.auth_drift import remember
    from nukiflow.workflows.auth_entity_events import EntityEvents
    from nukiflow.workflows.completion import healthy, settles_write

# Marks runs whose writes may be settled by the lock's report (runs before it polled only).
COMPLETION_PATCH = "auth-write-settled-by-report"


class EntityCompletion(EntityEvents):
    async def _settle(
        self,
        pending: PendingChange,
        deadline: datetime,
        written: WriteAuthResult,
        marked: SmartlockAuth | None = None,
    ) -> AwaitAuthResult:
        """The auth once no operation is pending on it after ``pending``'s write: from the
        lock's report or by polling. ``marked``: the read right after the write, made already
        (by the fast path), the operation pending on it; it counts as this wait's first read.
        Raises the polling activity's ActivityError."""
        smartlock_id, auth_id = self._input.smartlock_id, self._input.auth_id
        timing, account = self._input.timing, self._input.account
        summary = f"wait for #{pending.number} to be applied, then read it back"
        # The newest state known before this write: its report must be newer.
        known = self._lock_date
        # A mark made already and left unused by polling still counts as a read.
        unused = 0 if marked is None else 1
        if not logic_version.since(COMPLETION_PATCH) or not written.webhooks:
            polled = await calls.await_auth(
                smartlock_id, auth_id, timing, deadline=deadline, summary=summary, account=account
            )
            return AwaitAuthResult(auth=polled.auth, reads=unused + polled.reads)
        if not healthy(written.webhooks, self._webhook_misses):
            # Reports have not been coming: poll at once, as without webhooks. The write's
            # report arriving by the time polling settled it shows they come again.
            polled = await calls.await_auth(
                smartlock_id, auth_id, timing, deadline=deadline, summary=summary, account=account
            )
            self._note_report_of(polled.auth, known)
            return AwaitAuthResult(auth=polled.auth, reads=unused + polled.reads)
        if marked is not None:
            mark: SmartlockAuth | None = marked
        else:
            try:
                read = await calls.read_auth(
                    smartlock_id,
                    auth_id,
                    timing,
                    remaining=deadline - workflow.now(),
                    summary=f"read #{pending.number} right after its write",
                    account=account,
                )
            except ActivityError:
                # The mark is an optimisation: without it the poll decides, as before.
                return await calls.await_auth(
                    smartlock_id,
                    auth_id,
                    timing,
                    deadline=deadline,
                    summary=summary,
                    account=account,
                )
            mark = read.auth
        if mark is None or mark.operation_id is None or mark.update_date is None:
            # Settled already (or gone): this read is the read-back.
            if mark is None or mark.operation_id is None:
                return AwaitAuthResult(auth=mark, reads=1)
            return await calls.await_auth(
                smartlock_id, auth_id, timing, deadline=deadline, summary=summary, account=account
            )
        since = mark.update_date

        def report() -> AuthEvent | None:
            return next(
                (e for e in self._events if settles_write(e, since, known, self._recent_digests)),
                None,
            )

        # Polling keeps its fast window before the change's deadline.
        wait = min(
            timedelta(seconds=timing.poll.webhook_wait_seconds),
            deadline - workflow.now() - timedelta(seconds=timing.poll.fast_window_seconds),
        )
        if wait > timedelta(0):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: report() is not None,
                    timeout=wait,
                    timeout_summary=f"the lock's report of #{pending.number}",
                )
        found = report()
        if found is not None:
            return self._settled_by(found)
        # The report is late or lost: poll, still taking the report if it comes first.
        poll = calls.start_await_auth(
            smartlock_id, auth_id, timing, deadline=deadline, summary=summary, account=account
        )
        await workflow.wait_condition(lambda: report() is not None or poll.done())
        found = report()
        if found is not None:
            poll.cancel()
            with contextlib.suppress(ActivityError, asyncio.CancelledError):
                await poll
            return self._settled_by(found)
        # Polling settled it: the report was lost, or later than the wait.
        self._webhook_misses += 1
        polled = poll.result()
        return AwaitAuthResult(auth=polled.auth, reads=1 + polled.reads)

    def _note_report_of(self, polled: SmartlockAuth | None, known: datetime | None) -> None:
        """Polling settled a write while reports were not trusted: the write's report having
        come in by then (newer than ``known``, the state before the write) shows they come
        again."""
        date = None if polled is None else polled.update_date
        if date is not None and any(
            settles_write(e, date, known, self._recent_digests) for e in self._events
        ):
            self._webhook_misses = 0

    def _settled_by(self, event: AuthEvent) -> AwaitAuthResult:
        """The report is the read-back: taken (never judged again as drift), webhooks healthy."""
        self._events.remove(event)
        self._recent_digests = remember(self._recent_digests, event.digest)
        self._webhook_misses = 0
        workflow.logger.info("write settled by the lock's report")
        return AwaitAuthResult(auth=None if event.deleted else event.auth, reads=1)
