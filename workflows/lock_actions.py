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
confirmed). With the lock's webhooks, its reports confirm the action first when they show it
(:mod:`workflows.action_reports`). A retry after an unclear send reads the lock's state and log
first, so an action that already reached the lock is never sent a second time.

Outcomes are decided from what Temporal recorded and what the lock reports, never from heartbeat
details (:mod:`workflows.action_outcomes`, :mod:`workflows.action_record`); the confirmation
learns when this lock shows an action done (:mod:`workflows.action_timing`).

Decisions: the lock's type is learned from the first send; until then an action the lock
cannot do (an Opener action on a lock) is refused by the send activity, afterwards by the
update's validator. Temporal accepts at most 10 updates in flight per workflow; callers beyond
that are retried by the client and may lose their arrival order.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import nukiflow.contracts.search_attributes as sa
    import nukiflow.workflows.action_calls as call
    import nukiflow.workflows.action_outcomes as judge
    import nukiflow.workflows.action_timing as timing
    import nukiflow.workflows.logic_version as logic_version
    from nukiflow.contracts.action import (
        ActionOutcome,
        ActionRequest,
        ActionStatus,
        LockActionsInput,
        LockActionsMemory,
        LockActionsView,
        LockStatus,
        QueuedAction,
        state_name,
        supported,
    )
    from nukiflow.contracts.action_io import (
        ConfirmProgress,
        SendActionResult,
        SendProgress,
        progress_from,
    )
    from nukiflow.contracts.events import LockEvent
    from nukiflow.contracts.names import (
        LOCK_ACT_UPDATE,
        LOCK_ACTIONS_WORKFLOW,
        LOCK_EVENT_SIGNAL,
        LOCK_ROLLING_OVER_ERROR,
        STATE_QUERY,
    )
    from nukiflow.workflows.action_outcomes import Answer
    from nukiflow.workflows.action_outcomes_legacy import (
        confirm_failed_without_look,
        send_failed_by_heartbeat,
    )
    from nukiflow.workflows.action_record import failure_details, unclear_send, unsent_proof
    from nukiflow.workflows.action_reports import REPORTS_PATCH, ActionReports
    from nukiflow.workflows.lock_details import details_text, queued_view

# Outcomes kept for request-id idempotency across continue-as-new.
REMEMBERED_OUTCOMES = 200
# Outcomes the state query shows.
OUTCOMES_SHOWN = 10
# Marks runs whose failed sends and confirmations are decided from Temporal's record and a
# look at the lock's log (runs before it read heartbeat details and answered at once).
RECORD_PATCH = "action-outcome-from-record"
# Marks runs that start with an action and upsert ``acting`` only, not first the status they
# started from (replaced in the same workflow task). Earlier runs upserted that status at the
# start of every run.
STATUS_PATCH = "lock-status-upserted-once-per-task"


@workflow.defn(name=LOCK_ACTIONS_WORKFLOW)
class LockActionsWorkflow(ActionReports):
    @workflow.init
    def __init__(self, input: LockActionsInput) -> None:
        self._input = input
        memory = input.memory
        self._counter = memory.counter
        self._status = memory.status
        self._lock_type = memory.lock_type
        # Learned from the lock's reads (no command depends on it: replays as before).
        self._lock_name = memory.lock_name
        self._last_state = memory.last_state
        self._last_settled_at = memory.last_settled_at
        self._samples = {k: list(v) for k, v in memory.samples.items()}
        self._outcomes: dict[str, ActionOutcome] = {o.request_id: o for o in memory.outcomes}
        self._queue: list[QueuedAction] = []
        self._current: QueuedAction | None = None
        # Set once the main loop decided to continue as new: new actions are refused.
        self._rolling_over = False
        self._step = ""
        self._status_published: LockStatus | None = None
        self._init_reports(memory.webhook_misses, memory.reported_state)

    # -- the caller's entry point -------------------------------------------------------

    @workflow.update(name=LOCK_ACT_UPDATE)
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
                    queued,
                    Answer(ActionStatus.EXPIRED, reason=judge.never_sent_reason(queued, ahead)),
                )
                self._show_details()
        await workflow.wait_condition(lambda: request_id in self._outcomes)
        return self._outcomes[request_id]

    @act.validator
    def _validate_act(self, request: ActionRequest) -> None:
        """Refuse, before anything enters history, what this lock cannot take."""
        if request.request_id in self._outcomes or self._find(request.request_id) is not None:
            return
        busy = self._rolling_over or self._current is not None or bool(self._queue)
        if self._rollover_due() and busy:
            # Only while busy or rolling over: an idle workflow takes the action and continues
            # as new after it. A refusal leaves nothing in history, so the SDK re-checks no
            # wait condition on it: an idle workflow whose last workflow task crossed the
            # history limit would otherwise refuse every action without ever rolling over.
            raise ApplicationError(
                "this lock's workflow is continuing as new; send the action again",
                type=LOCK_ROLLING_OVER_ERROR,
            )
        if self._lock_type is not None:
            why = supported(request.action, self._lock_type)
            if why is not None:
                raise ValueError(f"smartlock {self._input.smartlock_id}: {why}")

    @workflow.signal(name=LOCK_EVENT_SIGNAL)
    def lock_event(self, event: LockEvent) -> None:
        """The lock reported its state or a log entry (webhook): kept while an action runs,
        to confirm it (see :mod:`nukiflow.workflows.action_reports`); ignored in between."""
        if logic_version.since(REPORTS_PATCH):
            self._take_report(event)

    @workflow.query(name=STATE_QUERY)
    def state(self) -> LockActionsView:
        return LockActionsView(
            smartlock_id=self._input.smartlock_id,
            status=self._status,
            lock_type=self._lock_type,
            lock_name=self._lock_name,
            last_state=self._last_state,
            last_state_name=state_name(self._last_state, self._lock_type),
            current=None
            if self._current is None
            else queued_view(self._current).model_copy(update={"step": self._step or None}),
            queue=[queued_view(q) for q in self._queue],
            action_counter=self._counter,
            learned_seconds=timing.learned(self._samples),
            last_outcomes=list(self._outcomes.values())[-OUTCOMES_SHOWN:],
            history_length=workflow.info().get_current_history_length(),
        )

    # -- the main loop ------------------------------------------------------------------

    @workflow.run
    async def run(self, input: LockActionsInput) -> None:
        # Started idle, both ways publish the status now (and check no patch: an idle run records
        # no marker). Started with an action, acting follows in this task.
        if not self._queue or not logic_version.since(STATUS_PATCH):
            self._publish_status()
        while True:
            await workflow.wait_condition(lambda: bool(self._queue) or self._rollover_due())
            if self._queue:
                self._current = self._queue.pop(0)
                self._begin_reports()
                try:
                    await self._execute(self._current)
                finally:
                    self._end_reports()
                    self._current = None
                    self._step = ""
                if not self._queue:
                    self._set_status(judge.settled_status(self._outcomes.values()))
                continue
            self._rolling_over = True
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
                account=input.account,
                memory=LockActionsMemory(
                    counter=self._counter,
                    status=self._status,
                    lock_type=self._lock_type,
                    lock_name=self._lock_name,
                    last_state=self._last_state,
                    last_settled_at=self._last_settled_at,
                    samples=self._samples,
                    outcomes=list(self._outcomes.values())[-REMEMBERED_OUTCOMES:],
                    webhook_misses=self._webhook_misses,
                    reported_state=self._reported_state,
                ),
            )
        )

    def _rollover_due(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._input.max_history_events
        )

    # -- one action: send, confirm, settle ------------------------------------------------

    async def _execute(self, queued: QueuedAction) -> None:
        request = queued.request
        self._set_status(LockStatus.ACTING)
        if workflow.now() >= queued.deadline:
            self._resolve(
                queued, Answer(ActionStatus.EXPIRED, reason=judge.never_sent_reason(queued))
            )
            return
        # Recorded before the first send attempt: a retry that must decide whether the action
        # already ran takes log entries from then on as this action.
        log_since = timing.log_window_start(
            workflow.now(), self._input.action_timing, self._last_settled_at
        )
        self._set_step("sending")
        try:
            sent = await call.send(self._input, queued, log_since)
        except ActivityError as err:
            await self._send_failed(queued, err, log_since)
            return
        self._lock_type = sent.before.lock_type
        self._lock_name = sent.before.lock_name or self._lock_name
        self._last_state = sent.before.state
        if sent.executed is not None:
            # An earlier send attempt reached the lock: its log entry is the outcome.
            self._last_settled_at = sent.executed.date
            answer = judge.from_log_entry(
                request.action.value,
                sent.executed,
                state=sent.before.state,
                api_requests=sent.requests,
            )
            self._resolve(queued, answer)
            return
        assert sent.sent_at is not None
        await self._confirm(queued, sent, sent.sent_at, log_since)

    async def _confirm(
        self, queued: QueuedAction, sent: SendActionResult, sent_at: datetime, log_since: datetime
    ) -> None:
        request = queued.request
        self._set_step("confirming")
        try:
            # From the lock's reports when they come in time, else by polling.
            done = await self._await_confirmation(
                queued,
                sent,
                sent_at,
                log_since,
                expected_seconds=timing.expected_seconds(self._samples, request.action.value),
                probe_fraction=timing.probe_fraction(self._input.action_timing, queued.number),
            )
        except ActivityError as err:
            progress = progress_from(failure_details(err), ConfirmProgress) or ConfirmProgress()
            if progress.last is not None:
                self._last_state = progress.last.state
            if logic_version.since(RECORD_PATCH):
                # Nuki accepted the action and it was not seen done: one last look at the log.
                await self._settle_unclear(
                    queued,
                    log_since,
                    None,
                    unclear=judge.unclear_confirmation(err, progress, sent_at),
                    requests=sent.requests + progress.requests,
                    sent_at=sent_at,
                )
            else:
                answer = confirm_failed_without_look(
                    err, progress, sent_requests=sent.requests, sent_at=sent_at
                )
                self._resolve(queued, answer)
            return
        self._last_state = done.state
        self._last_settled_at = done.observed_at
        if done.learnable:
            kept = self._input.action_timing.samples_kept
            timing.add_sample(self._samples, request.action.value, done.done_after, kept)
        answer = judge.from_confirmation(
            request.action.value,
            self._input.smartlock_id,
            done,
            sent_requests=sent.requests,
            sent_at=sent_at,
        )
        self._resolve(queued, answer)

    async def _send_failed(
        self, queued: QueuedAction, err: ActivityError, log_since: datetime
    ) -> None:
        """The send activity ended without a result: never sent (proven by the record), or
        looked for in the lock's log until the deadline plus the grace period. (Runs before
        RECORD_PATCH answered at once from the progress reported; kept for their replay.)"""
        progress = progress_from(failure_details(err), SendProgress) or SendProgress()
        if progress.lock_type is not None:
            self._lock_type = progress.lock_type
        self._lock_name = progress.lock_name or self._lock_name
        if not logic_version.since(RECORD_PATCH):
            self._resolve(queued, send_failed_by_heartbeat(err, progress, self._last_state))
            return
        proof = unsent_proof(err)
        if proof is not None:
            self._resolve(queued, judge.unsent(err, proof, self._last_state))
            return
        until = timing.settle_until(queued.deadline, workflow.now(), self._input.action_timing)
        await self._settle_unclear(
            queued, log_since, until, unclear=unclear_send(err), requests=progress.requests
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
        self._set_step("looking in the lock's log")
        look, failure = await call.look(self._input, queued, log_since, until)
        if look is not None and look.last is not None:
            self._last_state = look.last.state
            self._lock_name = look.last.lock_name or self._lock_name
        if look is not None and look.match is not None:
            self._last_settled_at = look.match.date
        answer = judge.from_look(
            queued.request.action.value,
            look,
            failure,
            log_since,
            unclear=unclear,
            requests=requests,
            sent_at=sent_at,
        )
        self._resolve(queued, answer)

    def _resolve(self, queued: QueuedAction, answer: Answer) -> None:
        self._outcomes[queued.request.request_id] = judge.outcome(
            answer, queued, self._input.smartlock_id, self._lock_type, workflow.info().workflow_id
        )
        workflow.logger.info(
            "action #%d %s %s", queued.number, queued.request.action.value, answer.status.value
        )

    # -- what the Temporal UI shows -----------------------------------------------------

    def _find(self, request_id: str) -> QueuedAction | None:
        if self._current is not None and self._current.request.request_id == request_id:
            return self._current
        return next((q for q in self._queue if q.request.request_id == request_id), None)

    def _set_step(self, step: str) -> None:
        self._step = step
        self._show_details()

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
                *sa.account_updates(self._input.account),
            ]
        )
        self._status_published = self._status

    def _show_details(self) -> None:
        workflow.set_current_details(details_text(self.state()))
