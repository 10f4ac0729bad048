"""How the lock workflow takes the lock's reports (``nuki_lock_event``: ``DEVICE_STATUS`` and
``DEVICE_LOGS`` by webhook) to confirm the action it sent.

Workflow code (deterministic: reports are signals in history, waits are timers), split from
:mod:`nukiflow.workflows.lock_actions`, which inherits this; what the reports prove is
:func:`nukiflow.workflows.completion.action_outcome`.

Reports are collected while an action runs (from before its send: the lock can report the
action before Temporal records that the POST was answered); in between only the state they show
is noted, which tells whether the state reports keep up with the lock (see
``_states_current``). When the worker says webhooks reach this deployment, the confirmation
after the send waits for the reports first while webhooks are healthy (the action's learned
time plus ``webhook_wait_seconds``), then runs the confirm activity beside the wait; whichever
decides first wins (the activity is cancelled). While they are not, it polls at once as without
webhooks, and is healthy again when the action's reports had shown it by the time polling did.
An action confirmed by its reports costs the send's two requests (the state check and the
POST) and no read. A confirmation the reports do not decide goes on exactly as before: polling,
the last look in the log, ``unknown`` when nothing shows it.
Runs from before ``REPORTS_PATCH`` poll only.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    import nukiflow.workflows.action_calls as call
    import nukiflow.workflows.logic_version as logic_version
    from nukiflow.contracts.action import LockActionsInput, QueuedAction, spec_of
    from nukiflow.contracts.action_io import ConfirmActionResult, SendActionResult
    from nukiflow.contracts.events import LockEvent
    from nukiflow.workflows.action_timing import confirm_until
    from nukiflow.workflows.auth_drift import remember
    from nukiflow.workflows.completion import ReportedOutcome, action_outcome, healthy

# Marks runs that take ``nuki_lock_event`` signals (earlier runs left them unread).
REPORTS_PATCH = "lock-reports-confirm-actions"
# Reports kept while one action runs (a lock'n'go reports four states and a log entry).
REPORTS_KEPT = 50


class ActionReports:
    _input: LockActionsInput
    _webhook_misses: int

    def _init_reports(self, misses: int, reported: int | None) -> None:
        self._webhook_misses = misses
        # The lock's state as its latest DEVICE_STATUS said (None: none seen), and as it said
        # when the running action began.
        self._reported_state = reported
        self._reported_at_begin: int | None = None
        self._reports: list[LockEvent] = []
        self._report_digests: list[str] = []
        self._collecting = False

    def _set_step(self, step: str) -> None:
        raise NotImplementedError

    def _take_report(self, event: LockEvent) -> None:
        """Note the state a report shows; keep the report while an action runs (the same
        delivery twice within one action once: the same state of two actions reads alike)."""
        if event.state is not None:
            self._reported_state = event.state.state
        if not self._collecting:
            workflow.logger.debug("lock report noted: no action is running")
            return
        if event.digest in self._report_digests:
            return
        self._report_digests = remember(self._report_digests, event.digest)
        self._reports = [*self._reports, event][-REPORTS_KEPT:]

    def _begin_reports(self) -> None:
        self._collecting = True
        self._reports = []
        self._report_digests = []
        self._reported_at_begin = self._reported_state

    def _states_current(self, before: int | None) -> bool:
        """Whether the lock's state reports can be trusted to be about now: the last action was
        decided by its reports (they arrived in time), and the latest state reported before this
        one began is the state the send read right before its POST. Reports running behind
        (Nuki delivering late) would otherwise show an earlier action of the same kind."""
        return (
            self._webhook_misses == 0
            and self._reported_at_begin is not None
            and self._reported_at_begin == before
        )

    def _end_reports(self) -> None:
        self._collecting = False
        self._reports = []

    async def _await_confirmation(
        self,
        queued: QueuedAction,
        sent: SendActionResult,
        sent_at: datetime,
        log_since: datetime,
        *,
        expected_seconds: float | None,
        probe_fraction: float | None,
    ) -> ConfirmActionResult:
        """The action's outcome from the lock's reports or the confirm activity; raises the
        activity's ActivityError when neither showed it."""

        poll = self._input.timing.poll
        # Fixed now: waiting for the reports first does not move when the confirmation ends.
        until = confirm_until(queued.deadline, workflow.now(), poll)

        def start_poll() -> workflow.ActivityHandle[ConfirmActionResult]:
            return call.start_confirm(
                self._input,
                queued,
                sent,
                sent_at,
                log_since,
                expected_seconds=expected_seconds,
                probe_fraction=probe_fraction,
                until=until,
            )

        if not logic_version.since(REPORTS_PATCH) or not sent.webhooks:
            return await start_poll()
        spec = spec_of(queued.request.action)

        states_current = self._states_current(sent.before.state)

        def reported() -> ReportedOutcome | None:
            return action_outcome(self._reports, spec, sent.before, log_since, states_current)

        if not healthy(sent.webhooks, self._webhook_misses):
            # Reports have not been coming: poll at once, as without webhooks. Its reports
            # showing the action by the time polling did shows they come again.
            done = await start_poll()
            if reported() is not None:
                self._webhook_misses = 0
            return done
        self._set_step("waiting for the lock's report")
        # Polling keeps its fast window before the confirmation ends.
        wait = min(
            timedelta(seconds=poll.webhook_wait_seconds + (expected_seconds or 0.0)),
            until - workflow.now() - timedelta(seconds=poll.fast_window_seconds),
        )
        waited = wait > timedelta(0)
        if waited:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: reported() is not None,
                    timeout=wait,
                    timeout_summary=f"the lock's report of #{queued.number}",
                )
        outcome = reported()
        if outcome is not None:
            return self._confirmed_by(outcome, sent, sent_at)
        self._set_step("confirming (polling the lock; its report counts too)")
        handle = start_poll()
        await workflow.wait_condition(lambda: reported() is not None or handle.done())
        outcome = reported()
        if outcome is not None:
            handle.cancel()
            with contextlib.suppress(ActivityError, asyncio.CancelledError):
                await handle
            return self._confirmed_by(outcome, sent, sent_at)
        # Polling decided: the reports were lost, or later than the wait.
        self._webhook_misses += 1
        polled = handle.result()
        if waited:
            # Its first read came after the wait, not when the lock was done: no sample of the
            # action's time (it would lengthen the next wait, and the next).
            polled = polled.model_copy(update={"learnable": False})
        return polled

    def _confirmed_by(
        self, outcome: ReportedOutcome, sent: SendActionResult, sent_at: datetime
    ) -> ConfirmActionResult:
        self._webhook_misses = 0
        now = workflow.now()
        workflow.logger.info("action decided by the lock's report")
        return ConfirmActionResult(
            verdict=outcome.verdict,
            state=outcome.state,
            lock_type=sent.before.lock_type,
            by_log=outcome.by_log,
            completion=outcome.completion,
            observed_at=now,
            done_after=max(0.0, (now - sent_at).total_seconds()),
            # The report's arrival time includes the delivery: no sample for the state reads.
            learnable=False,
            requests=0,
            by_report=True,
        )
