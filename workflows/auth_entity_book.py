"""The authorization entity's memory and its answers: desired and verified state, the changes
waiting and being written, the outcomes given, and what the Temporal UI shows of them.

Workflow code (deterministic; it reads the workflow's clock and info and sets its search
attributes and details), split from :mod:`nukiflow.workflows.auth_entity`, which holds the
handlers and the main loop and inherits this.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import nukiflow.contracts.search_attributes as sa
    import nukiflow.workflows.auth_details as say
    import nukiflow.workflows.logic_version as logic_version
    from nukiflow.contracts.auth import AuthFields, AuthOutcome, OutcomeStatus
    from nukiflow.contracts.entity import (
        AuthEntityInput,
        AuthEntityResult,
        AuthEntityView,
        DriftPolicy,
        EntityMemory,
        EntityStatus,
        PendingChange,
        pack_memory,
    )
    from nukiflow.contracts.events import AuthEvent
    from nukiflow.workflows.auth_watch import WaitNotes

# Outcomes kept for request-id idempotency across continue-as-new.
REMEMBERED_OUTCOMES = 200
# Marks runs that upsert their status once per workflow task: ``applying`` right before the
# read or write it describes is scheduled, any other status once the main loop has nothing more
# to do in the task (it waits, or the run ends), so a status the same task replaces is never
# upserted. Earlier runs upserted every status as it was set (and at the start of each run).
STATUS_PATCH = "entity-status-upserted-once-per-task"


class EntityBook:
    def __init__(self, input: AuthEntityInput) -> None:
        self._input = input
        memory = input.remembered()
        self._desired: AuthFields | None = memory.desired
        self._verified: AuthFields | None = memory.verified
        self._auth_type: int | None = memory.auth_type
        self._counter = memory.counter
        self._status = memory.status
        self._outcomes: dict[str, AuthOutcome] = {o.request_id: o for o in memory.outcomes}
        self._pending: list[PendingChange] = []
        # The changes taken from ``_pending`` and being written now.
        self._segment: list[PendingChange] = []
        # Set once the main loop decided to continue as new: new changes are refused.
        self._rolling_over = False
        self._deleted_by: int | None = None
        # The auth was not found when read: nothing to manage, the run ends.
        self._missing = False
        # What the search attributes show: what the run was started with, if its starter set
        # them (a create hands its auth over so), else nothing yet.
        self._status_published: EntityStatus | None = input.status_at_start
        # Webhook events waiting to be judged (while the entity is idle).
        self._events: list[AuthEvent] = []
        self._drift: list[str] = list(memory.drift)
        self._lock_date: datetime | None = memory.lock_date
        self._recent_digests: list[str] = list(memory.recent_digests)
        self._drift_policy: DriftPolicy = input.drift_policy
        # Writes in a row that polling settled although the lock's webhooks were expected.
        self._webhook_misses = memory.webhook_misses
        # When the verified state was last read back (shown in the details).
        self._verified_at: datetime | None = memory.verified_at
        # What the change under way is doing, since when, and what the watch saw.
        self._step = ""
        self._step_since: datetime | None = None
        self._notes = WaitNotes()

    # -- what the entity knows ----------------------------------------------------------

    def _knows(self, request_id: str) -> bool:
        """Whether a change with this request id is waiting or being written."""
        return any(p.change.request_id == request_id for p in self._pending + self._segment)

    def _ended(self) -> bool:
        return self._deleted_by is not None or self._missing

    def _end_reason(self) -> str:
        if self._deleted_by is not None:
            return say.deleted_by(self._input.auth_id, self._deleted_by)
        return say.not_found(self._input.smartlock_id, self._input.auth_id)

    def _rollover_due(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._input.max_history_events
        )

    def _recent_outcomes(self) -> list[AuthOutcome]:
        return list(self._outcomes.values())[-REMEMBERED_OUTCOMES:]

    def _next_input(self) -> AuthEntityInput:
        """This run's input with its memory: what the next run starts from."""
        return self._input.model_copy(
            update={
                "drift_policy": self._drift_policy,
                "memory": None,
                # The next run's start attributes are not this run's to vouch for.
                "status_at_start": None,
                "carried_memory": pack_memory(
                    EntityMemory(
                        desired=self._desired,
                        verified=self._verified,
                        auth_type=self._auth_type,
                        counter=self._counter,
                        status=self._status,
                        outcomes=self._recent_outcomes(),
                        drift=self._drift,
                        lock_date=self._lock_date,
                        recent_digests=self._recent_digests,
                        verified_at=self._verified_at,
                        webhook_misses=self._webhook_misses,
                    )
                ),
            }
        )

    def _result(self) -> AuthEntityResult:
        return AuthEntityResult(
            smartlock_id=self._input.smartlock_id,
            auth_id=self._input.auth_id,
            status=self._status,
            change_counter=self._counter,
            ended_because=self._end_reason(),
            # A caller retrying with a request id after the run ended gets its outcome here.
            outcomes=self._recent_outcomes(),
        )

    def _view(self) -> AuthEntityView:
        under_way = self._picture().under_way
        return AuthEntityView(
            under_way=None if under_way is None else under_way.number,
            step=None if under_way is None else under_way.step,
            why_waiting=None if under_way is None else say.why_waiting(under_way),
            verified_at=self._verified_at,
            smartlock_id=self._input.smartlock_id,
            auth_id=self._input.auth_id,
            status=self._status,
            desired=None if self._desired is None else self._desired.redacted(),
            verified=None if self._verified is None else self._verified.redacted(),
            pending_changes=len(self._pending),
            change_counter=self._counter,
            last_outcomes=list(self._outcomes.values())[-10:],
            history_length=workflow.info().get_current_history_length(),
            drift_policy=self._drift_policy,
            drift=list(self._drift),
        )

    # -- outcomes -----------------------------------------------------------------------

    def _resolve(
        self,
        pending: PendingChange,
        status: OutcomeStatus,
        *,
        writes: int = 0,
        reads: int = 0,
        reason: str | None = None,
        superseded_by: PendingChange | None = None,
    ) -> None:
        verified = None
        if status is OutcomeStatus.APPLIED and self._verified is not None:
            verified = self._verified.redacted()
        self._outcomes[pending.change.request_id] = AuthOutcome(
            status=status,
            request_id=pending.change.request_id,
            smartlock_id=self._input.smartlock_id,
            auth_id=self._input.auth_id,
            change_number=pending.number,
            kind=pending.change.kind,
            verified=verified,
            writes=writes,
            reads=reads,
            superseded_by=None if superseded_by is None else superseded_by.change.request_id,
            superseded_by_change=None if superseded_by is None else superseded_by.number,
            reason=reason,
            workflow_id=workflow.info().workflow_id,
        )
        workflow.logger.info("change #%d %s", pending.number, status.value)

    def _supersede(
        self, pending: PendingChange, *, by: PendingChange, writes: int = 0, reads: int = 0
    ) -> None:
        self._resolve(
            pending,
            OutcomeStatus.SUPERSEDED,
            writes=writes,
            reads=reads,
            superseded_by=by,
            reason=say.superseded(by.number),
        )

    def _fail(self, pending: PendingChange, reason: str, writes: int, reads: int) -> None:
        # Forget the desired state: the next change starts from what the lock really holds.
        self._desired = None
        self._resolve(pending, OutcomeStatus.FAILED, writes=writes, reads=reads, reason=reason)
        self._set_status(EntityStatus.FAILED)

    def _fail_remaining(self) -> None:
        for pending in self._pending:
            self._resolve(pending, OutcomeStatus.FAILED, reason=self._end_reason())
        self._pending = []

    def _settled_status(self) -> EntityStatus:
        if self._deleted_by is not None:
            return EntityStatus.DELETED
        if self._status is EntityStatus.FAILED:
            return EntityStatus.FAILED
        return EntityStatus.IN_SYNC if self._verified is not None else EntityStatus.IDLE

    def _took_read(self, date: datetime | None) -> None:
        """The auth was read with this ``updateDate``: events about older states are stale."""
        if date is not None and (self._lock_date is None or date > self._lock_date):
            self._lock_date = date

    # -- what the Temporal UI shows -----------------------------------------------------

    def _set_status(self, status: EntityStatus) -> None:
        self._status = status
        if not logic_version.since(STATUS_PATCH):
            self._publish_status()
        self._show_details()

    def _publish_first_status(self) -> None:
        """The status a run starts from: published now when it starts idle (both ways, and no
        patch checked, so an idle run records no marker); when it starts with a change, runs
        since STATUS_PATCH publish only the applying that follows in this task."""
        if not self._pending or not logic_version.since(STATUS_PATCH):
            self._publish_status()

    def _loop_has_work(self) -> bool:
        """What the main loop waits for: changes, events, the rollover, a status to show."""
        return (
            bool(self._pending)
            or bool(self._events)
            or self._rollover_due()
            or self._status_unpublished()
        )

    def _status_unpublished(self) -> bool:
        """A status was set that the search attributes do not show yet (the main loop
        publishes it once the workflow task has nothing more to do)."""
        return self._status_published is not self._status

    def _publish_status(self) -> None:
        if self._status_published is self._status:
            return
        workflow.upsert_search_attributes(
            sa.auth_attributes(
                self._input.smartlock_id,
                self._input.auth_id,
                self._status.value,
                self._input.account,
            )
        )
        self._status_published = self._status

    def _begin_step(self, step: str) -> None:
        """The change under way moved on to ``step`` (shown in the details)."""
        self._step = step
        self._step_since = workflow.now()
        self._show_details()

    def _took_verified(self) -> None:
        self._verified_at = workflow.now()

    def _picture(self) -> say.EntityPicture:
        under_way = None
        if self._segment:
            last = self._segment[-1]
            patch = last.change.patch
            fields: tuple[str, ...] = ()
            if patch is not None:
                fields = say.field_words(
                    [
                        name
                        for name in type(patch).model_fields
                        if name != "clear" and getattr(patch, name) is not None
                    ]
                    + sorted(patch.clear)
                )
            under_way = say.ChangeUnderWay(
                number=last.number,
                kind=last.change.kind,
                fields=fields,
                step=self._step or "starting",
                since=self._step_since or last.accepted_at,
                deadline=last.change.deadline_from(last.accepted_at),
                notes=self._notes.model_copy(),
            )
        return say.EntityPicture(
            smartlock_id=self._input.smartlock_id,
            auth_id=self._input.auth_id,
            status=self._status,
            changes=self._counter,
            auth_type=self._auth_type,
            desired=self._desired,
            verified=self._verified,
            verified_at=self._verified_at,
            under_way=under_way,
            waiting=tuple(
                (p.number, p.change.kind, p.change.deadline_from(p.accepted_at))
                for p in self._pending
            ),
            last=list(self._outcomes.values())[-1] if self._outcomes else None,
            drift=tuple(self._drift),
            policy=self._drift_policy.value,
        )

    def _show_details(self) -> None:
        workflow.set_current_details(say.entity_details(self._picture()))
