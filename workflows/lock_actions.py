"""Lock actions: one long-lived workflow per smartlock (``nuki-lock-<smartlockId>``).

Callers reach it through Update-with-Start (``act`` update). Actions run one at a time, in the
order they were accepted. Each carries its caller's deadline as an instant, fixed when the
caller called: an action the workflow takes up after it (no worker could accept the update in
time), or whose deadline passes while it waits in line, is expired without being sent. For the
others: the send activity checks the worker's clock against the deadline and the lock's
``serverState`` right before its one POST (423 and other refusals are retried by its retry
policy; an attempt that starts after the deadline sends nothing); then the confirm activity
polls the lock's state until it shows the action's end state, falling back to the lock's log
(decision: one sent just before its deadline still gets the fast polling window to be
confirmed). A retry after an unclear send reads the lock's state and log first, so an action
that already reached the lock is never sent a second time.

Outcomes are decided from what Temporal recorded, never from heartbeat details (they travel
asynchronously; their absence proves nothing): ``expired`` only when the record proves no send
attempt reached its POST (none started, or the last one reported back, and its report, which
accounts for the attempts before it, says nothing went out). A send that may have gone out is
looked for in the lock's log until the deadline plus a grace period: confirmed or failed by the
log entry, else ``unknown`` with what was seen. A confirmation that runs out of time looks at
the log once more before it answers; not found there, the answer is ``unknown`` (Nuki accepted
the action; it may have run, or may still).

The confirmation learns from this lock: it reads the state at the time the action typically
takes here to show as done (median of recent samples), and on every fourth action first at 90%
of it, so a steady lock costs three requests per action (GET + POST + one GET; four with the
probe) and a lock that got faster is followed within a few actions.

Decisions: the lock's type is learned from the first send; until then an action the lock
cannot do (an Opener action on a lock) is refused by the send activity, afterwards by the
update's validator. Temporal accepts at most 10 updates in flight per workflow; callers beyond
that are retried by the client and may lose their arrival order.
"""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

with workflow.unsafe.imports_passed_through():
    from nukiflow.activities.action_activities import ActionActivities
    from nukiflow.contracts import search_attributes as sa
    from nukiflow.contracts.action import (
        ActionOutcome,
        ActionRequest,
        ActionStatus,
        LockActionsInput,
        LockActionsMemory,
        LockActionsView,
        LockStatus,
        QueuedAction,
        QueuedActionView,
        state_name,
        supported,
    )
    from nukiflow.contracts.action_io import (
        ConfirmActionInput,
        ConfirmActionResult,
        ConfirmProgress,
        LogMatch,
        LookActionInput,
        LookActionResult,
        SendActionInput,
        SendActionResult,
        SendProgress,
        Verdict,
        progress_from,
    )
    from nukiflow.contracts.deadline import clock
    from nukiflow.contracts.names import ACTION_NOT_SUPPORTED_ERROR as ACTION_NOT_SUPPORTED
    from nukiflow.contracts.names import DEADLINE_PASSED_ERROR as DEADLINE_PASSED
    from nukiflow.contracts.wire import LogCompletion, SmartlockType
    from nukiflow.workflows.failure_reasons import describe_activity_failure

# Outcomes kept for request-id idempotency across continue-as-new.
REMEMBERED_OUTCOMES = 200
ROLLING_OVER = "LockWorkflowRollingOver"
# Nuki refused the values of the action itself (400): bad input, like a rejected request.
REJECTING_ERRORS = {ACTION_NOT_SUPPORTED, "NukiValidationError"}
# Marks runs whose failed sends and confirmations are decided from Temporal's record and a
# look at the lock's log (runs before it read heartbeat details and answered at once).
RECORD_PATCH = "action-outcome-from-record"


def _innermost(err: ActivityError) -> tuple[ApplicationError | None, ActivityTimeoutError | None]:
    """The last attempt's application error and the timeout that ended the activity, if any."""
    timeout: ActivityTimeoutError | None = None
    cause: BaseException | None = err.cause
    while cause is not None:
        if isinstance(cause, ActivityTimeoutError) and timeout is None:
            timeout = cause
        elif isinstance(cause, ApplicationError):
            return cause, timeout
        cause = getattr(cause, "cause", None)
    return None, timeout


def _deadline_reached(err: ActivityError, last: ApplicationError | None) -> bool:
    if err.retry_state is RetryState.TIMEOUT:
        return True
    _, timeout = _innermost(err)
    return timeout is not None or (last is not None and last.type == DEADLINE_PASSED)


def _unsent_proof(err: ActivityError) -> SendProgress | None:
    """The closing report of the last send attempt, when Temporal's record proves that no
    attempt reached its POST; None when one may have.

    An attempt that reports its failure hands over its progress in the failure's details,
    which travel with the report itself; it set ``maybe_sent`` for its own unclear POST and
    for any predecessor whose closing report it did not see. An attempt that started and
    never reported (worker killed, timed out) may have sent: the record shows it as a started
    attempt ended by a timeout. Heartbeat details are not evidence either way.
    """
    cause = err.cause
    if isinstance(cause, ApplicationError):
        reported = cause
    elif isinstance(cause, ActivityTimeoutError):
        if err.started_event_id != 0:
            return None  # the last attempt started and never reported back
        if cause.cause is None:
            return SendProgress()  # no attempt ever started
        if not isinstance(cause.cause, ApplicationError):
            return None  # an earlier attempt ended without a report
        reported = cause.cause
    else:
        return None  # cancelled or terminated mid-attempt
    progress = progress_from(reported.details, SendProgress)
    if progress is None or progress.maybe_sent:
        return None
    return progress


def _unclear_send(err: ActivityError) -> str:
    """Why a send may have reached Nuki, as Temporal recorded it."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type == DEADLINE_PASSED:
        why = (
            "an earlier attempt got no clear answer (a 5xx, a lost connection, or no report at "
            "all: its worker may have stopped during the call), and the next came after the "
            "deadline"
        )
    elif isinstance(cause, ApplicationError):
        why = f"no clear answer (the last attempt reported: {cause.message})"
    elif isinstance(cause, ActivityTimeoutError) and err.started_event_id != 0:
        why = (
            "it started and never reported back (its worker may have stopped during the "
            "call, or Nuki held the answer back)"
        )
    else:
        why = (
            "an earlier attempt ended without a report (its worker may have stopped during the "
            "call, or Nuki held the answer back)"
        )
    return f"a send attempt may have reached Nuki: {why}"


def _details(err: ActivityError) -> list[Any]:
    last, timeout = _innermost(err)
    values: list[Any] = []
    if last is not None:
        values.extend(last.details)
    if timeout is not None:
        values.extend(timeout.last_heartbeat_details)
    return values


@workflow.defn(name="NukiLockActions")
class LockActionsWorkflow:
    @workflow.init
    def __init__(self, input: LockActionsInput) -> None:
        self._input = input
        memory = input.memory
        self._counter = memory.counter
        self._status = memory.status
        self._lock_type = memory.lock_type
        self._last_state = memory.last_state
        self._last_settled_at = memory.last_settled_at
        self._samples = {k: list(v) for k, v in memory.samples.items()}
        self._outcomes: dict[str, ActionOutcome] = {o.request_id: o for o in memory.outcomes}
        self._queue: list[QueuedAction] = []
        self._current: QueuedAction | None = None
        self._step = ""
        self._status_published: LockStatus | None = None

    # -- the caller's entry point -------------------------------------------------------

    @workflow.update
    async def act(self, request: ActionRequest) -> ActionOutcome:
        """Run one action; returns when it is confirmed, expired or failed."""
        request_id = request.request_id
        known = self._outcomes.get(request_id)
        if known is not None:
            return known
        queued = self._find(request_id)
        if queued is None:
            runs_now = self._current is None and not self._queue
            self._counter += 1
            queued = QueuedAction(number=self._counter, request=request, accepted_at=workflow.now())
            self._queue.append(queued)
            workflow.logger.info(
                "action #%d (%s) accepted, %d waiting",
                queued.number,
                request.action.value,
                len(self._queue),
            )
            self._show_details()
        else:
            runs_now = False
        if not runs_now:
            # Waiting behind others: give up at the deadline if the turn has not come.
            remaining = (queued.deadline - workflow.now()).total_seconds()
            try:
                if remaining > 0:
                    await workflow.wait_condition(
                        lambda: request_id in self._outcomes,
                        timeout=remaining,
                        timeout_summary=f"deadline of #{queued.number} {request.action.value}",
                    )
            except TimeoutError:
                pass
            if request_id not in self._outcomes and queued in self._queue:
                ahead = self._queue.index(queued) + (0 if self._current is None else 1)
                self._queue.remove(queued)
                self._resolve(
                    queued, ActionStatus.EXPIRED, reason=self._never_sent_reason(queued, ahead)
                )
                self._show_details()
        await workflow.wait_condition(lambda: request_id in self._outcomes)
        return self._outcomes[request_id]

    @act.validator
    def _validate_act(self, request: ActionRequest) -> None:
        """Refuse, before anything enters history, what this lock cannot take."""
        if request.request_id in self._outcomes or self._find(request.request_id) is not None:
            return
        if self._rollover_due():
            raise ApplicationError(
                "this lock's workflow is continuing as new; send the action again",
                type=ROLLING_OVER,
            )
        if self._lock_type is not None:
            why = supported(request.action, self._lock_type)
            if why is not None:
                raise ValueError(f"smartlock {self._input.smartlock_id}: {why}")

    @workflow.query
    def state(self) -> LockActionsView:
        return LockActionsView(
            smartlock_id=self._input.smartlock_id,
            status=self._status,
            lock_type=self._lock_type,
            last_state=self._last_state,
            last_state_name=state_name(self._last_state, self._lock_type),
            current=None
            if self._current is None
            else self._view(self._current).model_copy(update={"step": self._step or None}),
            queue=[self._view(q) for q in self._queue],
            action_counter=self._counter,
            learned_seconds=self._learned(),
            last_outcomes=list(self._outcomes.values())[-10:],
            history_length=workflow.info().get_current_history_length(),
        )

    # -- the main loop ------------------------------------------------------------------

    @workflow.run
    async def run(self, input: LockActionsInput) -> None:
        self._publish_status()
        while True:
            await workflow.wait_condition(lambda: bool(self._queue) or self._rollover_due())
            if self._queue:
                self._current = self._queue.pop(0)
                try:
                    await self._execute(self._current)
                finally:
                    self._current = None
                    self._step = ""
                if not self._queue:
                    self._set_status(self._settled_status())
                continue
            # Rolling over: new actions are refused (validator); let every handler hand back
            # its outcome, unless one slipped in and waits for the loop.
            await workflow.wait_condition(
                lambda: workflow.all_handlers_finished() or bool(self._queue)
            )
            if not self._queue:
                break
        workflow.continue_as_new(
            LockActionsInput(
                smartlock_id=input.smartlock_id,
                timing=input.timing,
                action_timing=input.action_timing,
                max_history_events=input.max_history_events,
                memory=LockActionsMemory(
                    counter=self._counter,
                    status=self._status,
                    lock_type=self._lock_type,
                    last_state=self._last_state,
                    last_settled_at=self._last_settled_at,
                    samples=self._samples,
                    outcomes=list(self._outcomes.values())[-REMEMBERED_OUTCOMES:],
                ),
            )
        )

    def _rollover_due(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._input.max_history_events
        )

    async def _execute(self, queued: QueuedAction) -> None:
        request = queued.request
        self._set_status(LockStatus.ACTING)
        if workflow.now() >= queued.deadline:
            self._resolve(queued, ActionStatus.EXPIRED, reason=self._never_sent_reason(queued))
            return

        # Recorded before the first send attempt: log entries of this action from then on
        # (less Nuki's clock skew, and never older than the previous settled action) are
        # taken as this action when a retry must decide whether it already ran.
        first_try_at = workflow.now()
        log_since = first_try_at - timedelta(
            seconds=self._input.action_timing.log_clock_skew_seconds
        )
        if self._last_settled_at is not None and self._last_settled_at > log_since:
            log_since = self._last_settled_at

        self._step = "sending"
        self._show_details()
        timing = self._input.action_timing
        call_timeout = timing.call_timeout_seconds
        margin = min(timing.report_margin_seconds, call_timeout)
        try:
            sent = await workflow.execute_activity_method(
                ActionActivities.send_action,
                SendActionInput(
                    smartlock_id=self._input.smartlock_id,
                    action=request.action,
                    option=request.option,
                    not_after=queued.deadline,
                    log_since=log_since,
                ),
                start_to_close_timeout=timedelta(seconds=call_timeout),
                # An attempt that starts after the deadline refuses to send and reports so;
                # the margin lets the record say so rather than end in a timeout.
                schedule_to_close_timeout=queued.deadline
                - workflow.now()
                + timedelta(seconds=margin),
                retry_policy=self._retry_policy(),
                summary=f"#{queued.number} {request.action.value}: check the lock is online, "
                f"send before {queued.deadline:%H:%M:%S} UTC",
            )
        except ActivityError as err:
            if workflow.patched(RECORD_PATCH):
                await self._send_failed(queued, err, log_since)
            else:
                self._send_failed_by_heartbeat(queued, err)
            return
        self._lock_type = sent.before.lock_type
        self._last_state = sent.before.state
        if sent.executed is not None:
            self._already_executed(queued, sent, sent.executed)
            return
        assert sent.sent_at is not None
        await self._confirm(queued, sent, sent.sent_at, log_since)

    async def _confirm(
        self, queued: QueuedAction, sent: SendActionResult, sent_at: datetime, log_since: datetime
    ) -> None:
        request = queued.request
        poll = self._input.timing.poll
        # The deadline bounds confirmation too, but an action sent just before it still gets
        # the fast polling window: otherwise it would be reported unconfirmed while it runs.
        until = max(queued.deadline, workflow.now() + timedelta(seconds=poll.fast_window_seconds))
        self._step = "confirming"
        self._show_details()
        try:
            done = await workflow.execute_activity_method(
                ActionActivities.confirm_action,
                ConfirmActionInput(
                    smartlock_id=self._input.smartlock_id,
                    action=request.action,
                    before=sent.before,
                    sent_at=sent_at,
                    log_since=log_since,
                    expected_seconds=self._expected_seconds(request.action.value),
                    probe_fraction=self._probe_fraction(queued.number),
                    timing=poll,
                ),
                start_to_close_timeout=timedelta(
                    seconds=poll.fast_window_seconds
                    + self._input.action_timing.call_timeout_seconds
                ),
                schedule_to_close_timeout=until - workflow.now(),
                heartbeat_timeout=timedelta(seconds=poll.heartbeat_timeout_seconds),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=poll.slow_initial_interval_seconds),
                    backoff_coefficient=1.5,
                    maximum_interval=timedelta(seconds=poll.slow_max_interval_seconds),
                ),
                summary=f"#{queued.number} {request.action.value}: wait for the lock to show it "
                "done (state, then log)",
            )
        except ActivityError as err:
            if workflow.patched(RECORD_PATCH):
                await self._confirm_failed(queued, sent, sent_at, err, log_since)
            else:
                self._confirm_failed_without_look(queued, sent, sent_at, err)
            return
        self._settled(queued, sent, done, sent_at)

    def _probe_fraction(self, number: int) -> float | None:
        """Probe early on every ``probe_every``-th action only: the probe is what lets the
        expectation shrink, and the other actions save its read."""
        timing = self._input.action_timing
        return timing.probe_fraction if number % timing.probe_every == 0 else None

    def _learned(self) -> dict[str, float]:
        """Per action: the median of its recent samples."""
        return {k: statistics.median(v) for k, v in sorted(self._samples.items()) if v}

    def _expected_seconds(self, action: str) -> float | None:
        """When this lock typically shows ``action`` done; for an action not done here yet,
        the quickest learned one (too early costs a read, too late costs the caller time)."""
        learned = self._learned()
        if action in learned:
            return learned[action]
        return min(learned.values()) if learned else None

    # -- outcomes -----------------------------------------------------------------------

    def _settled(
        self,
        queued: QueuedAction,
        sent: SendActionResult,
        done: ConfirmActionResult,
        sent_at: datetime,
    ) -> None:
        name = queued.request.action.value
        self._last_state = done.state
        self._last_settled_at = done.observed_at
        if done.learnable:
            kept = self._input.action_timing.samples_kept
            samples = self._samples.setdefault(name, [])
            samples.append(round(done.done_after, 3))
            del samples[:-kept]
        requests = sent.requests + done.requests
        common: dict[str, Any] = {
            "state": done.state,
            "seconds": round(done.done_after, 3),
            "sent_at": sent_at,
            "api_requests": requests,
            "confirmed_by": "log" if done.by_log else "state",
        }
        if done.verdict is Verdict.DONE:
            self._resolve(queued, ActionStatus.CONFIRMED, **common)
        elif done.verdict is Verdict.BLOCKED:
            self._resolve(
                queued,
                ActionStatus.FAILED,
                reason=f"motor blocked: smartlock {self._input.smartlock_id} could not complete "
                f"{name} (state 254); check the door and the bolt",
                **common,
            )
        else:
            self._resolve(
                queued,
                ActionStatus.FAILED,
                reason=f"the lock's log reports {name} ended {self._completion(done.completion)}",
                **common,
            )

    def _already_executed(
        self, queued: QueuedAction, sent: SendActionResult, match: LogMatch
    ) -> None:
        """An earlier send attempt reached the lock: its log entry is the outcome."""
        name = queued.request.action.value
        self._last_settled_at = match.date
        common: dict[str, Any] = {
            "state": sent.before.state,
            "api_requests": sent.requests,
            "confirmed_by": "log",
        }
        if match.completion == LogCompletion.SUCCESS:
            self._resolve(queued, ActionStatus.CONFIRMED, **common)
        else:
            self._resolve(
                queued,
                ActionStatus.FAILED,
                reason=f"the lock's log reports {name} ended {self._completion(match.completion)}",
                **common,
            )

    async def _send_failed(
        self, queued: QueuedAction, err: ActivityError, log_since: datetime
    ) -> None:
        """The send activity ended without a result: never sent (proven by the record), or
        looked for in the lock's log until the deadline plus the grace period."""
        last, _ = _innermost(err)
        progress = progress_from(_details(err), SendProgress) or SendProgress()
        if progress.lock_type is not None:
            self._lock_type = progress.lock_type
        message = last.message if last is not None else (err.message or type(err).__name__)
        proof = _unsent_proof(err)
        if proof is None:
            grace = timedelta(seconds=self._input.action_timing.settle_grace_seconds)
            until = max(queued.deadline, workflow.now()) + grace
            await self._settle_unclear(
                queued,
                log_since,
                until,
                unclear=_unclear_send(err),
                requests=progress.requests,
            )
            return
        if last is not None and last.type in REJECTING_ERRORS:
            self._resolve(
                queued, ActionStatus.REJECTED, reason=message, api_requests=proof.requests
            )
        elif _deadline_reached(err, last):
            self._resolve(
                queued,
                ActionStatus.EXPIRED,
                reason=f"not sent before its deadline ({message}); it was never sent and "
                "will not be",
                api_requests=proof.requests,
                state=self._last_state,
            )
        else:
            self._resolve(
                queued,
                ActionStatus.FAILED,
                reason=describe_activity_failure(err, "sending the action") + "; it was never sent",
                api_requests=proof.requests,
                state=self._last_state,
            )

    async def _settle_unclear(
        self,
        queued: QueuedAction,
        log_since: datetime,
        until: datetime | None,
        *,
        unclear: str,
        requests: int,
        sent_at: datetime | None = None,
    ) -> None:
        """Answer an action that may have reached the lock from its log (and state): the log
        entry decides; without one by ``until`` the action is ``unknown``."""
        self._step = "looking in the lock's log"
        self._show_details()
        look, failure = await self._look(queued, log_since, until)
        name = queued.request.action.value
        if look is not None:
            requests += look.requests
            if look.last is not None:
                self._last_state = look.last.state
        if look is not None and look.match is not None:
            match = look.match
            self._last_settled_at = match.date
            state = None if look.last is None or look.running else look.last.state
            if match.completion == LogCompletion.SUCCESS:
                self._resolve(
                    queued,
                    ActionStatus.CONFIRMED,
                    state=state,
                    sent_at=sent_at,
                    api_requests=requests,
                    confirmed_by="log",
                )
            else:
                self._resolve(
                    queued,
                    ActionStatus.FAILED,
                    reason=f"the lock's log reports {name} ended "
                    f"{self._completion(match.completion)}",
                    state=state,
                    sent_at=sent_at,
                    api_requests=requests,
                    confirmed_by="log",
                )
            return
        self._resolve(
            queued,
            ActionStatus.UNKNOWN,
            reason=f"may have run: {unclear}; {self._seen(name, look, failure, log_since)}. "
            "Look at the lock before sending it again",
            state=None if look is None or look.last is None else look.last.state,
            sent_at=sent_at,
            api_requests=requests,
        )

    async def _look(
        self, queued: QueuedAction, log_since: datetime, until: datetime | None
    ) -> tuple[LookActionResult | None, str | None]:
        """The look activity's result (looking until ``until``, or once), or why it failed."""
        poll = self._input.timing.poll
        call = timedelta(seconds=self._input.action_timing.call_timeout_seconds)
        span = timedelta(0) if until is None else max(until - workflow.now(), timedelta(0))
        try:
            look = await workflow.execute_activity_method(
                ActionActivities.look_action,
                LookActionInput(
                    smartlock_id=self._input.smartlock_id,
                    action=queued.request.action,
                    log_since=log_since,
                    until=until,
                    timing=poll,
                ),
                start_to_close_timeout=span + call,
                schedule_to_close_timeout=span + 2 * call,
                heartbeat_timeout=timedelta(seconds=poll.heartbeat_timeout_seconds),
                retry_policy=self._retry_policy(),
                summary=f"#{queued.number} {queued.request.action.value}: look for it in the "
                "lock's log" + ("" if until is None else f" until {until:%H:%M:%S} UTC"),
            )
        except ActivityError as err:
            return None, describe_activity_failure(err, "reading the lock's log")
        return look, None

    @staticmethod
    def _seen(
        name: str, look: LookActionResult | None, failure: str | None, log_since: datetime
    ) -> str:
        """What the last look saw, for an ``unknown`` answer."""
        if look is None:
            return failure or "the lock's log could not be read"
        when = f"at {clock(look.looked_at)}"
        if look.log_error is not None:
            parts = [f"{when} the lock's log could not be read ({look.log_error})"]
        else:
            parts = [f"{when} the lock's log showed no {name} since {clock(log_since)}"]
        last = look.last
        if last is None:
            parts.append(f"its state could not be read ({look.state_error or 'no answer'})")
        elif not last.online:
            parts.append(
                f"the lock was offline (serverState {last.server_state}): the cloud may still "
                "deliver the action when it is back"
            )
        elif look.running:
            parts.append(f"the lock showed an operation running ({last.name})")
        else:
            parts.append(f"the lock showed {last.name} with nothing pending")
        return "; ".join(parts)

    @staticmethod
    def _never_sent_reason(queued: QueuedAction, ahead: int | None = None) -> str:
        if queued.deadline <= queued.accepted_at:
            return (
                f"its deadline ({clock(queued.deadline)}) had passed when the lock's workflow "
                f"took it up at {clock(queued.accepted_at)} (no worker could take it sooner); "
                "it was never sent and will not be"
            )
        behind = "" if not ahead else f" behind {ahead} earlier action(s)"
        return (
            f"its deadline ({clock(queued.deadline)}) passed while it waited in "
            f"line{behind}; it was never sent and will not be"
        )

    def _send_failed_by_heartbeat(self, queued: QueuedAction, err: ActivityError) -> None:
        """How runs before RECORD_PATCH answered a failed send (kept for their replay)."""
        last, _ = _innermost(err)
        progress = progress_from(_details(err), SendProgress) or SendProgress()
        if progress.lock_type is not None:
            self._lock_type = progress.lock_type
        message = last.message if last is not None else (err.message or type(err).__name__)
        if last is not None and last.type in REJECTING_ERRORS:
            self._resolve(
                queued,
                ActionStatus.REJECTED,
                reason=message,
                api_requests=progress.requests,
            )
        elif _deadline_reached(err, last) and progress.maybe_sent:
            self._resolve(
                queued,
                ActionStatus.FAILED,
                reason="unconfirmed: Nuki gave no clear answer to a send attempt and the "
                f"deadline came before that could be settled (last: {message}); the action "
                "may have reached the lock",
                api_requests=progress.requests,
                state=self._last_state,
            )
        elif _deadline_reached(err, last):
            self._resolve(
                queued,
                ActionStatus.EXPIRED,
                reason=f"not sent before its deadline ({message}); it was never sent and "
                "will not be",
                api_requests=progress.requests,
                state=self._last_state,
            )
        else:
            self._resolve(
                queued,
                ActionStatus.FAILED,
                reason=describe_activity_failure(err, "sending the action"),
                api_requests=progress.requests,
                state=self._last_state,
            )

    async def _confirm_failed(
        self,
        queued: QueuedAction,
        sent: SendActionResult,
        sent_at: datetime,
        err: ActivityError,
        log_since: datetime,
    ) -> None:
        """Nuki accepted the action, and it was not seen done: one last look at the log;
        found there, the log decides; else it may have run (``unknown``)."""
        progress = progress_from(_details(err), ConfirmProgress) or ConfirmProgress()
        last = progress.last
        if last is not None:
            self._last_state = last.state
        if _deadline_reached(err, _innermost(err)[0]):
            why = "not seen completed by the deadline"
        else:
            why = describe_activity_failure(err, "confirming it")
        known = ""
        if last is not None:
            known = f"; the lock last showed {last.name}"
            if progress.seen_running:
                known += " after it had started"
        await self._settle_unclear(
            queued,
            log_since,
            None,
            unclear=f"Nuki accepted it at {clock(sent_at)} and it was {why}{known}",
            requests=sent.requests + progress.requests,
            sent_at=sent_at,
        )

    def _confirm_failed_without_look(
        self, queued: QueuedAction, sent: SendActionResult, sent_at: datetime, err: ActivityError
    ) -> None:
        """How runs before RECORD_PATCH answered a failed confirmation (kept for replay)."""
        progress = progress_from(_details(err), ConfirmProgress) or ConfirmProgress()
        last = progress.last
        known = ""
        if last is not None:
            self._last_state = last.state
            known = f"; the lock last showed {last.name}"
            if not last.online:
                known += (
                    f" and was offline (serverState {last.server_state}): the cloud may still "
                    "deliver the action when the lock is back"
                )
            elif progress.seen_running:
                known += " after it had started"
        if _deadline_reached(err, _innermost(err)[0]):
            reason = (
                f"unconfirmed: sent at {sent_at:%H:%M:%S} UTC (Nuki accepted it) but not seen "
                f"completed by the deadline{known}"
            )
        else:
            reason = describe_activity_failure(err, "confirming the action") + known
        self._resolve(
            queued,
            ActionStatus.FAILED,
            reason=reason,
            sent_at=sent_at,
            api_requests=sent.requests + progress.requests,
            state=None if last is None else last.state,
        )

    @staticmethod
    def _completion(completion: int | None) -> str:
        if completion is None:
            return "without a completion state"
        try:
            return LogCompletion(completion).name.lower().replace("_", " ")
        except ValueError:
            return f"with completion state {completion}"

    def _resolve(
        self,
        queued: QueuedAction,
        status: ActionStatus,
        *,
        state: int | None = None,
        seconds: float | None = None,
        sent_at: datetime | None = None,
        api_requests: int = 0,
        confirmed_by: str | None = None,
        reason: str | None = None,
    ) -> None:
        request = queued.request
        self._outcomes[request.request_id] = ActionOutcome(
            status=status,
            request_id=request.request_id,
            smartlock_id=self._input.smartlock_id,
            action=request.action,
            number=queued.number,
            state=state,
            state_name=state_name(state, self._lock_type),
            seconds=seconds,
            sent_at=sent_at,
            api_requests=api_requests,
            confirmed_by=confirmed_by,
            reason=reason,
            workflow_id=workflow.info().workflow_id,
            deadline=queued.deadline,
        )
        workflow.logger.info("action #%d %s %s", queued.number, request.action.value, status.value)

    def _settled_status(self) -> LockStatus:
        last = next(
            (o for o in reversed(self._outcomes.values()) if o.status is not ActionStatus.REJECTED),
            None,
        )
        if last is None:
            return LockStatus.IDLE
        return {
            ActionStatus.CONFIRMED: LockStatus.CONFIRMED,
            ActionStatus.EXPIRED: LockStatus.EXPIRED,
            ActionStatus.FAILED: LockStatus.FAILED,
            ActionStatus.UNKNOWN: LockStatus.UNKNOWN,
        }.get(last.status, LockStatus.IDLE)

    # -- what the Temporal UI shows -----------------------------------------------------

    def _find(self, request_id: str) -> QueuedAction | None:
        if self._current is not None and self._current.request.request_id == request_id:
            return self._current
        return next((q for q in self._queue if q.request.request_id == request_id), None)

    @staticmethod
    def _view(queued: QueuedAction) -> QueuedActionView:
        return QueuedActionView(
            number=queued.number,
            request_id=queued.request.request_id,
            action=queued.request.action,
            accepted_at=queued.accepted_at,
            deadline=queued.deadline,
        )

    def _set_status(self, status: LockStatus) -> None:
        self._status = status
        self._publish_status()
        self._show_details()

    def _publish_status(self) -> None:
        if self._status_published is self._status:
            return
        workflow.upsert_search_attributes(
            [
                sa.SMARTLOCK_ID.value_set(self._input.smartlock_id),
                sa.KIND.value_set("lock"),
                sa.STATUS.value_set(self._status.value),
            ]
        )
        self._status_published = self._status

    def _show_details(self) -> None:
        kind = "Opener" if self._lock_type == SmartlockType.OPENER else "Smartlock"
        lines = [
            f"**{kind}** `{self._input.smartlock_id}` · **status:** {self._status.value} · "
            f"actions: {self._counter}",
        ]
        if self._last_state is not None:
            lines.append(f"**Last seen state:** {state_name(self._last_state, self._lock_type)}")
        if self._current is not None:
            current = self._current
            lines.append(
                f"**Now:** #{current.number} {current.request.action.value} "
                f"({self._step or 'starting'}), send before {current.deadline:%H:%M:%S} UTC"
            )
        if self._queue:
            waiting = ", ".join(f"#{q.number} {q.request.action.value}" for q in self._queue[:10])
            more = f" and {len(self._queue) - 10} more" if len(self._queue) > 10 else ""
            lines.append(f"**Waiting:** {waiting}{more}")
        if self._outcomes:
            last = list(self._outcomes.values())[-1]
            action = "-" if last.action is None else last.action.value
            line = f"**Last outcome:** #{last.number} {action} {last.status.value}"
            if last.seconds is not None:
                line += f" in {last.seconds:.2f} s"
            lines.append(line + f" ({last.api_requests} API requests)")
            if last.reason:
                lines.append(f"> {last.reason}")
        learned = self._learned()
        if learned:
            times = ", ".join(f"{k} {v:.2f} s" for k, v in learned.items())
            lines.append(f"**Action times learned:** {times}")
        workflow.set_current_details("\n\n".join(lines))

    def _retry_policy(self) -> RetryPolicy:
        retry = self._input.timing.retry
        return RetryPolicy(
            initial_interval=timedelta(seconds=retry.initial_interval_seconds),
            backoff_coefficient=retry.backoff,
            maximum_interval=timedelta(seconds=retry.max_interval_seconds),
        )
