"""The authorization entity: one long-lived workflow per Nuki auth that serializes its changes.

Callers reach it through Update-with-Start (``change`` update). The workflow keeps the desired
state and a change counter; changes that arrive while a write is in flight coalesce, so only the
latest desired state is written next and the changes it replaced are told they were superseded.
Every write sends the full auth (Nuki replaces, it does not merge), waits until the auth's
``operationId`` is gone, reads the auth back and compares every field; a mismatch (Nuki's lost
update) is written again a bounded number of times.

Its memory and answers live in :mod:`nukiflow.workflows.auth_entity_book`, the merging of
changes and the judging of a read-back in :mod:`nukiflow.workflows.auth_merge`, its calls to the
activities in :mod:`nukiflow.workflows.auth_calls`, what it does with the lock's reports (drift)
in :mod:`nukiflow.workflows.auth_entity_events`, a first change read and written in one
activity in :mod:`nukiflow.workflows.auth_first_write`, one write round (the fast path that writes
and settles in one activity, or the write and the settling apart) in
:mod:`nukiflow.workflows.auth_write_round`, how a write settles (the lock's report or polling)
in :mod:`nukiflow.workflows.auth_completion`.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import nukiflow.workflows.auth_calls as calls
    import nukiflow.workflows.auth_details as say
    import nukiflow.workflows.logic_version as logic_version
    from nukiflow.contracts.auth import (
        AuthChange,
        AuthFields,
        AuthOutcome,
        ChangeKind,
        OutcomeRequest,
        OutcomeStatus,
    )
    from nukiflow.contracts.entity import (
        AUTH_NOT_FOUND_ERROR,
        AuthEntityInput,
        AuthEntityResult,
        AuthEntityView,
        DriftPolicyRequest,
        EntityStatus,
        PendingChange,
    )
    from nukiflow.contracts.events import AuthEvent
    from nukiflow.contracts.names import (
        AUTH_CHANGE_UPDATE,
        AUTH_DELETED_ERROR,
        AUTH_DRIFT_POLICY_UPDATE,
        AUTH_ENTITY_WORKFLOW,
        AUTH_EVENT_SIGNAL,
        AUTH_OUTCOME_UPDATE,
        ENTITY_ROLLING_OVER_ERROR,
        STATE_QUERY,
    )
    from nukiflow.workflows.auth_entity_book import REMEMBERED_OUTCOMES
    from nukiflow.workflows.auth_first_write import EntityFirstWrite, Folded
    from nukiflow.workflows.auth_merge import (
        check_fits,
        check_type_rules,
        compare,
        merge_segment,
        next_segment,
    )
    from nukiflow.workflows.auth_watch import WaitNotes, stop_watch
    from nukiflow.workflows.auth_write_round import FAST_WRITE_PATCH
    from nukiflow.workflows.failure_reasons import describe_activity_failure
    from nukiflow.workflows.named_updates import async_update

# The error types callers tell apart (the facade imports them from here too).
ROLLING_OVER = ENTITY_ROLLING_OVER_ERROR
DELETED = AUTH_DELETED_ERROR
AUTH_NOT_FOUND = AUTH_NOT_FOUND_ERROR
# Marks runs that write the last change still standing when the last one is rejected, and
# check type rules while merging.
SEGMENT_PATCH = "segment-writes-last-standing-change"
# Marks runs where a change waiting in line is answered at its deadline (never written), and
# where a change whose deadline passed before the auth's first read is not read for.
LINE_PATCH = "change-answered-at-its-deadline-in-line"
# Marks runs that take ``nuki_auth_event`` signals (earlier runs left them unread; replaying
# one, the handler ignores them so it decides as it did).
EVENTS_PATCH = "auth-events"
# Marks runs that watch the change under way and say in their details why it waits (see
# nukiflow.workflows.auth_watch); earlier runs scheduled no watch timer or look.
WATCH_PATCH = "watch-why-a-change-waits"

__all__ = [
    "AUTH_NOT_FOUND",
    "DELETED",
    "REMEMBERED_OUTCOMES",
    "ROLLING_OVER",
    "AuthEntityWorkflow",
]


@workflow.defn(name=AUTH_ENTITY_WORKFLOW)
class AuthEntityWorkflow(EntityFirstWrite):
    @workflow.init
    def __init__(self, input: AuthEntityInput) -> None:
        super().__init__(input)

    # -- the caller's entry point -------------------------------------------------------

    @async_update(AUTH_CHANGE_UPDATE)
    async def change(self, change: AuthChange) -> AuthOutcome:
        """Apply one change; returns when it is applied (verified), superseded or failed."""
        known = self._outcomes.get(change.request_id)
        if known is not None:
            return known
        if not self._knows(change.request_id):
            self._counter += 1
            self._pending.append(
                PendingChange(number=self._counter, change=change, accepted_at=workflow.now())
            )
            workflow.logger.info(
                "change #%d (%s) accepted, %d pending",
                self._counter,
                change.kind.value,
                len(self._pending),
            )
            self._show_details()
        if logic_version.since(LINE_PATCH):
            await self._answer_by_deadline(change.request_id)
        await workflow.wait_condition(lambda: change.request_id in self._outcomes)
        return self._outcomes[change.request_id]

    async def _answer_by_deadline(self, request_id: str) -> None:
        """Wait for the change's outcome until its deadline; a change still waiting in line
        then is taken out and answered failed, never written. One being written is answered
        by the write, which sends nothing after the deadline either."""
        waiting = next((p for p in self._pending if p.change.request_id == request_id), None)
        if waiting is None:
            return
        deadline = waiting.change.deadline_from(waiting.accepted_at)
        remaining = (deadline - workflow.now()).total_seconds()
        if remaining > 0:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: request_id in self._outcomes or waiting not in self._pending,
                    timeout=remaining,
                    timeout_summary=f"deadline of change #{waiting.number}",
                )
        if request_id in self._outcomes or waiting not in self._pending:
            return
        self._pending.remove(waiting)
        if deadline <= waiting.accepted_at:
            reason = say.taken_up_late(deadline, waiting.accepted_at)
        else:
            writing = self._segment[-1].number if self._segment else None
            reason = say.expired_in_line(deadline, writing)
        self._resolve(waiting, OutcomeStatus.FAILED, reason=reason)
        self._show_details()

    @change.validator
    def _validate_change(self, change: AuthChange) -> None:
        """Refuse, before anything enters history, what this auth cannot take."""
        if change.request_id in self._outcomes:
            return
        if self._ended():
            raise ApplicationError(self._end_reason(), type=DELETED)
        if self._rollover_due() and (self._rolling_over or self._pending or self._segment):
            # Only while busy or already rolling over: the main loop then continues as new once
            # the changes it holds have ended. An idle entity takes the change (it continues
            # as new after writing it): a refusal leaves nothing in history, so the SDK
            # re-checks no wait condition on it, and an idle entity whose last workflow task
            # crossed the history limit would refuse every change without ever rolling over.
            raise ApplicationError(
                "this auth's workflow is continuing as new; send the change again",
                type=ROLLING_OVER,
            )
        if change.patch is None:
            return
        check_type_rules(self._auth_type, change.patch)
        if self._desired is not None:
            check_fits(self._desired, self._pending, change.patch)

    @async_update(AUTH_OUTCOME_UPDATE)
    async def outcome(self, request: OutcomeRequest) -> AuthOutcome:
        """Wait for the outcome of a change this workflow knows (answered or pending)."""
        await workflow.wait_condition(lambda: request.request_id in self._outcomes)
        return self._outcomes[request.request_id]

    @outcome.validator
    def _validate_outcome(self, request: OutcomeRequest) -> None:
        if request.request_id in self._outcomes:
            return
        if not self._knows(request.request_id):
            raise ValueError(
                f"no change with request id {request.request_id!r} is known to this auth's "
                f"workflow (outcomes of earlier runs are kept for the last {REMEMBERED_OUTCOMES} "
                "changes)"
            )

    @workflow.signal(name=AUTH_EVENT_SIGNAL)
    def auth_event(self, event: AuthEvent) -> None:
        """The lock reported this auth (webhook): judged now if the entity is idle, else by
        the main loop once the write in flight is done (its read-back dates what is stale)."""
        if not logic_version.since(EVENTS_PATCH):
            return
        self._events.append(event)
        if not self._pending and not self._segment:
            self._take_events()

    @workflow.update(name=AUTH_DRIFT_POLICY_UPDATE)
    def set_drift_policy(self, request: DriftPolicyRequest) -> AuthEntityView:
        """Set what the entity does about the drifts reported from now on."""
        self._drift_policy = request.policy
        self._show_details()
        return self._view()

    @set_drift_policy.validator
    def _validate_drift_policy(self, request: DriftPolicyRequest) -> None:
        if self._ended():
            raise ApplicationError(self._end_reason(), type=DELETED)

    @workflow.query(name=STATE_QUERY)
    def state(self) -> AuthEntityView:
        return self._view()

    # -- the main loop ------------------------------------------------------------------

    @workflow.run
    async def run(self, input: AuthEntityInput) -> AuthEntityResult:
        self._publish_first_status()
        while True:
            await workflow.wait_condition(self._loop_has_work)
            if self._pending:
                await self._process_next()
                if self._ended():
                    self._fail_remaining()
                    break
                continue
            if self._events:
                self._take_events()
                continue
            if self._rollover_due() or not self._status_unpublished():
                break
            self._publish_status()  # nothing more to do in this task: show where it stands
        self._publish_status()
        self._rolling_over = True
        # Let every handler hand back its outcome before the run ends. New changes are
        # refused meanwhile (validator), so the wait cannot be starved.
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._missing:
            # Failed, not completed: a later change may start a new run, which reads the auth
            # again (a 404 can be passing, e.g. while account rights change).
            raise ApplicationError(self._end_reason(), type=AUTH_NOT_FOUND, non_retryable=True)
        if not self._ended():
            workflow.continue_as_new(self._next_input())
        return self._result()

    # -- writing ------------------------------------------------------------------------

    async def _process_next(self) -> None:
        """Take the pending changes up to the first delete; write only the last of them."""
        cut = next_segment(self._pending)
        segment, self._pending = self._pending[:cut], self._pending[cut:]
        self._segment = segment
        self._step, self._step_since, self._notes = "", None, WaitNotes()
        # The fast path starts the watch only when its attempt does not settle the change.
        self._fast = logic_version.since(FAST_WRITE_PATCH)
        self._watch = None
        if not self._fast and logic_version.since(WATCH_PATCH):
            self._ensure_watch()
        try:
            await self._process_segment(segment)
        finally:
            if self._watch is not None:
                await stop_watch(self._watch, self._notes)
                self._watch = None
            self._segment, self._first_attempt, self._first_unclear = [], None, False
            self._show_details()

    async def _process_segment(self, segment: list[PendingChange]) -> None:
        last = segment[-1]
        self._set_status(EntityStatus.APPLYING)

        target: AuthFields | None = None
        if last.change.kind is ChangeKind.UPDATE:
            if self._desired is None:
                folded = await self._first_write(segment)
                if folded is Folded.ANSWERED:
                    return
                if folded is Folded.NOT_TAKEN and not await self._load(segment):
                    return
            assert self._desired is not None
            # Runs from before this patch kept the old walk, which left the changes before a
            # rejected last one without an outcome (replay-safe).
            merge = merge_segment(
                self._desired,
                segment,
                self._auth_type,
                check_types=logic_version.since(SEGMENT_PATCH),
            )
            for pending, reason in merge.rejected:
                self._resolve(pending, OutcomeStatus.REJECTED, reason=reason)
            if merge.stopped:
                self._set_status(self._settled_status())
                return
            self._desired = target = merge.merged
            # The last change still standing is the one written; a rejected change is answered.
            standing = [p for p in segment if p.change.request_id not in self._outcomes]
            if not standing:
                self._set_status(self._settled_status())
                return
            last = standing[-1]

        for pending in segment[:-1]:
            if pending is not last and pending.change.request_id not in self._outcomes:
                self._supersede(pending, by=last)
        self._publish_status()  # applying, while the write's activities run
        await self._apply(last, target)
        self._set_status(self._settled_status())

    async def _load(self, segment: list[PendingChange]) -> bool:
        """Read the auth as the base of the first change; fail the segment if it is gone.

        The read is bounded by the segment's latest deadline (and a ceiling of its own): no
        caller waits on it past the deadline of its change.
        """
        deadline = max(p.change.deadline_from(p.accepted_at) for p in segment)
        remaining = deadline - workflow.now()
        if remaining <= timedelta(0) and logic_version.since(LINE_PATCH):
            for pending in segment:
                self._resolve(
                    pending, OutcomeStatus.FAILED, reason=say.expired_before_read(deadline)
                )
            self._set_status(self._settled_status())
            return False
        self._begin_step(say.READING)
        self._publish_status()  # applying, while the read runs
        try:
            result = await calls.read_auth(
                self._input.smartlock_id,
                self._input.auth_id,
                self._input.timing,
                remaining=remaining,
                account=self._input.account,
                listed_within=self._listed_within(),
            )
        except ActivityError as err:
            reason = describe_activity_failure(err, "reading the auth")
            for pending in segment:
                self._resolve(pending, OutcomeStatus.FAILED, reason=reason, reads=1)
            self._set_status(EntityStatus.FAILED)
            return False
        if result.auth is None:
            self._answer_not_found(segment)
            return False
        self._take_base(result.auth)
        return True

    async def _apply(self, pending: PendingChange, target: AuthFields | None) -> None:
        """Write ``target`` (None: delete), wait, read back, compare; rewrite a lost update.
        Each round is :mod:`nukiflow.workflows.auth_write_round`'s (the fast path, or the
        write and the settling in activities of their own)."""
        deadline = pending.change.deadline_from(pending.accepted_at)
        smartlock_id, auth_id = self._input.smartlock_id, self._input.auth_id
        writes = reads = 0
        differences: list[str] = []
        for round_ in range(1 + self._input.max_rewrites):
            remaining = deadline - workflow.now()
            # The first change's attempt went out already: its round says what came of it.
            if remaining <= timedelta(0) and (round_ or not self._holds_first_attempt()):
                self._fail(pending, say.expired_before_landing(deadline, writes), writes, reads)
                return
            if self._fast:
                done = await self._fast_round(pending, target, deadline, round_, writes)
            else:
                done = await self._classic_round(pending, target, deadline, round_)
            writes, reads = writes + done.writes, reads + done.reads
            if done.settled is None:
                self._fail(pending, done.failure or "the write failed", writes, reads)
                return
            settled = done.settled

            back = compare(target, settled.auth)
            if settled.auth is not None:
                self._took_read(settled.auth.update_date)
            if settled.auth is None:
                if target is None:
                    self._deleted_by = pending.number
                    self._verified = None
                    self._resolve(pending, OutcomeStatus.APPLIED, writes=writes, reads=reads)
                else:
                    self._fail(pending, say.disappeared(smartlock_id, auth_id), writes, reads)
                return
            if target is not None:
                self._verified = back.verified
                self._took_verified()
                if back.landed:
                    self._resolve(pending, OutcomeStatus.APPLIED, writes=writes, reads=reads)
                    return
            differences = back.differences
            workflow.logger.warning(
                "change #%d did not land (differs in %s); %s",
                pending.number,
                ", ".join(differences),
                "a newer change takes over" if self._pending else "writing it again",
            )
            if target is not None and self._pending:
                # A newer change is waiting and its desired state includes this one's fields:
                # write that instead of repeating this one.
                self._supersede(pending, by=self._pending[-1], writes=writes, reads=reads)
                return
        self._fail(pending, say.did_not_land(writes, differences), writes, reads)
