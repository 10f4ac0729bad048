"""The authorization entity: one long-lived workflow per Nuki auth that serializes its changes.

Callers reach it through Update-with-Start (``change`` update). The workflow keeps the desired
state and a change counter; changes that arrive while a write is in flight coalesce, so only the
latest desired state is written next and the changes it replaced are told they were superseded.
Every write sends the full auth (Nuki replaces, it does not merge), waits until the auth's
``operationId`` is gone, reads the auth back and compares every field; a mismatch (Nuki's lost
update) is written again a bounded number of times.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from nukiflow.activities.auth_activities import (
        AuthActivities,
        AwaitAuthInput,
        ReadAuthInput,
        WriteAuthInput,
    )
    from nukiflow.contracts import search_attributes as sa
    from nukiflow.contracts.auth import (
        MAX_KEYPAD_NAME,
        AuthChange,
        AuthFields,
        AuthOutcome,
        AuthPatch,
        ChangeKind,
        OutcomeRequest,
        OutcomeStatus,
    )
    from nukiflow.contracts.deadline import clock
    from nukiflow.contracts.entity import (
        AuthEntityInput,
        AuthEntityResult,
        AuthEntityView,
        EntityMemory,
        EntityStatus,
        PendingChange,
    )
    from nukiflow.contracts.messages import error_message
    from nukiflow.contracts.wire import AuthType
    from nukiflow.workflows.failure_reasons import describe_activity_failure

# Outcomes kept for request-id idempotency across continue-as-new.
REMEMBERED_OUTCOMES = 200
ROLLING_OVER = "EntityRollingOver"
DELETED = "AuthDeleted"
# Marks runs that write the last change still standing when the last one is rejected, and
# check type rules while merging.
SEGMENT_PATCH = "segment-writes-last-standing-change"
# Marks runs that end when the auth is not found (instead of staying open for nothing).
MISSING_PATCH = "entity-ends-when-auth-missing"
# Marks runs where a change waiting in line is answered at its deadline (never written), and
# where a change whose deadline passed before the auth's first read is not read for.
LINE_PATCH = "change-answered-at-its-deadline-in-line"
AUTH_NOT_FOUND = "AuthNotFound"
WAITING_STEP = "waiting for the lock to apply the change"
READ_TIMEOUT = timedelta(minutes=10)


@workflow.defn(name="NukiAuthEntity")
class AuthEntityWorkflow:
    @workflow.init
    def __init__(self, input: AuthEntityInput) -> None:
        self._input = input
        memory = input.memory
        self._desired: AuthFields | None = memory.desired
        self._verified: AuthFields | None = memory.verified
        self._auth_type: int | None = memory.auth_type
        self._counter = memory.counter
        self._status = memory.status
        self._outcomes: dict[str, AuthOutcome] = {o.request_id: o for o in memory.outcomes}
        self._pending: list[PendingChange] = []
        # The changes taken from ``_pending`` and being written now.
        self._segment: list[PendingChange] = []
        self._deleted_by: int | None = None
        # The auth was not found when read: nothing to manage, the run ends.
        self._missing = False
        self._status_published: EntityStatus | None = None

    # -- the caller's entry point -------------------------------------------------------

    @workflow.update
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
        if workflow.patched(LINE_PATCH):
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
            why = (
                f"its deadline ({clock(deadline, date=True)}) had passed when the auth's "
                f"workflow took it up at {clock(waiting.accepted_at)}"
            )
        else:
            writing = self._segment[-1].number if self._segment else None
            behind = "" if writing is None else f" behind change #{writing}"
            why = f"its deadline ({clock(deadline, date=True)}) passed while it waited{behind}"
        self._resolve(waiting, OutcomeStatus.FAILED, reason=f"{why}; it was never written")
        self._show_details()

    @change.validator
    def _validate_change(self, change: AuthChange) -> None:
        """Refuse, before anything enters history, what this auth cannot take."""
        if change.request_id in self._outcomes:
            return
        if self._ended():
            raise ApplicationError(self._end_reason(), type=DELETED)
        if self._rollover_due():
            raise ApplicationError(
                "this auth's workflow is continuing as new; send the change again",
                type=ROLLING_OVER,
            )
        if change.patch is None:
            return
        self._check_type_rules(change.patch)
        projected = self._desired
        if projected is not None:
            try:
                for pending in self._pending:
                    if pending.change.patch is not None:
                        projected = pending.change.patch.apply_to(projected)
                change.patch.apply_to(projected)
            except ValueError as exc:
                raise ValueError(
                    f"the change does not fit the auth: {error_message(exc)}"
                ) from None

    def _check_type_rules(self, patch: AuthPatch) -> None:
        """Rules that depend on the auth's type. Before the auth was first read the type is
        unknown: the validator lets the change in and the merge, after the read, refuses it
        (answered rejected; nothing is written)."""
        auth_type = self._auth_type
        if auth_type is not None and auth_type != AuthType.KEYPAD_CODE and patch.code:
            raise ValueError("only keypad code auths (type 13) carry a code")
        if (
            auth_type == AuthType.KEYPAD_CODE
            and patch.name is not None
            and len(patch.name) > MAX_KEYPAD_NAME
        ):
            raise ValueError(f"a keypad code's name has at most {MAX_KEYPAD_NAME} characters")

    @workflow.update
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
                "workflow (outcomes of earlier runs are kept for the last 200 changes)"
            )

    def _knows(self, request_id: str) -> bool:
        """Whether a change with this request id is waiting or being written."""
        return any(p.change.request_id == request_id for p in self._pending + self._segment)

    @workflow.query
    def state(self) -> AuthEntityView:
        return AuthEntityView(
            smartlock_id=self._input.smartlock_id,
            auth_id=self._input.auth_id,
            status=self._status,
            desired=None if self._desired is None else self._desired.redacted(),
            verified=None if self._verified is None else self._verified.redacted(),
            pending_changes=len(self._pending),
            change_counter=self._counter,
            last_outcomes=list(self._outcomes.values())[-10:],
            history_length=workflow.info().get_current_history_length(),
        )

    # -- the main loop ------------------------------------------------------------------

    @workflow.run
    async def run(self, input: AuthEntityInput) -> AuthEntityResult:
        self._publish_status()
        while True:
            await workflow.wait_condition(lambda: bool(self._pending) or self._rollover_due())
            if self._pending:
                await self._process_next()
                if self._ended():
                    self._fail_remaining()
                    break
                continue
            break
        # Let every handler hand back its outcome before the run ends. New changes are
        # refused meanwhile (validator), so the wait cannot be starved.
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._missing:
            # Failed, not completed: a later change may start a new run, which reads the auth
            # again (a 404 can be passing, e.g. while account rights change).
            raise ApplicationError(self._end_reason(), type=AUTH_NOT_FOUND, non_retryable=True)
        if not self._ended():
            workflow.continue_as_new(
                AuthEntityInput(
                    smartlock_id=input.smartlock_id,
                    auth_id=input.auth_id,
                    timing=input.timing,
                    max_rewrites=input.max_rewrites,
                    max_history_events=input.max_history_events,
                    memory=EntityMemory(
                        desired=self._desired,
                        verified=self._verified,
                        auth_type=self._auth_type,
                        counter=self._counter,
                        status=self._status,
                        outcomes=list(self._outcomes.values())[-REMEMBERED_OUTCOMES:],
                    ),
                )
            )
        return AuthEntityResult(
            smartlock_id=input.smartlock_id,
            auth_id=input.auth_id,
            status=self._status,
            change_counter=self._counter,
            ended_because=self._end_reason(),
            # A caller retrying with a request id after the run ended gets its outcome here.
            outcomes=list(self._outcomes.values())[-REMEMBERED_OUTCOMES:],
        )

    def _ended(self) -> bool:
        return self._deleted_by is not None or self._missing

    def _end_reason(self) -> str:
        if self._deleted_by is not None:
            return f"auth {self._input.auth_id} was deleted by change #{self._deleted_by}"
        return (
            f"auth {self._input.auth_id} was not found on smartlock {self._input.smartlock_id}; "
            "check both ids"
        )

    def _rollover_due(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._input.max_history_events
        )

    async def _process_next(self) -> None:
        """Take the pending changes up to the first delete; write only the last of them."""
        cut = next(
            (i for i, p in enumerate(self._pending) if p.change.kind is ChangeKind.DELETE),
            len(self._pending) - 1,
        )
        segment, self._pending = self._pending[: cut + 1], self._pending[cut + 1 :]
        self._segment = segment
        try:
            await self._process_segment(segment)
        finally:
            self._segment = []

    async def _process_segment(self, segment: list[PendingChange]) -> None:
        last = segment[-1]
        self._set_status(EntityStatus.APPLYING)

        target: AuthFields | None = None
        if last.change.kind is ChangeKind.UPDATE:
            if self._desired is None and not await self._load(segment):
                return
            assert self._desired is not None
            merged = self._desired
            # Runs from before this patch kept the old walk, which left the changes before a
            # rejected last one without an outcome (replay-safe).
            fixed = workflow.patched(SEGMENT_PATCH)
            for pending in segment:
                patch = pending.change.patch
                if patch is None:
                    continue
                try:
                    if fixed:
                        self._check_type_rules(patch)
                    merged = patch.apply_to(merged)
                except ValueError as exc:
                    self._resolve(pending, OutcomeStatus.REJECTED, reason=error_message(exc))
                    if pending is last and not fixed:
                        self._set_status(self._settled_status())
                        return
            self._desired = target = merged
            # The last change still standing is the one written; a rejected change is answered.
            standing = [p for p in segment if p.change.request_id not in self._outcomes]
            if not standing:
                self._set_status(self._settled_status())
                return
            last = standing[-1]

        for pending in segment[:-1]:
            if pending is not last and pending.change.request_id not in self._outcomes:
                self._supersede(pending, by=last)
        await self._apply(last, target)
        self._set_status(self._settled_status())

    async def _load(self, segment: list[PendingChange]) -> bool:
        """Read the auth as the base of the first change; fail the segment if it is gone.

        The read is bounded by the segment's latest deadline (and READ_TIMEOUT): no caller
        waits on it past the deadline of its change.
        """
        deadline = max(p.change.deadline_from(p.accepted_at) for p in segment)
        remaining = deadline - workflow.now()
        if remaining <= timedelta(0) and workflow.patched(LINE_PATCH):
            for pending in segment:
                self._resolve(
                    pending,
                    OutcomeStatus.FAILED,
                    reason=f"its deadline ({clock(deadline, date=True)}) passed before the auth "
                    "could be read; it was never written",
                )
            self._set_status(self._settled_status())
            return False
        try:
            result = await workflow.execute_activity_method(
                AuthActivities.read_auth,
                ReadAuthInput(smartlock_id=self._input.smartlock_id, auth_id=self._input.auth_id),
                start_to_close_timeout=self._call_timeout(),
                schedule_to_close_timeout=(
                    min(remaining, READ_TIMEOUT) if remaining > timedelta(0) else READ_TIMEOUT
                ),
                retry_policy=self._retry_policy(),
                summary="read the auth as the base of the change",
            )
        except ActivityError as err:
            reason = describe_activity_failure(err, "reading the auth")
            for pending in segment:
                self._resolve(pending, OutcomeStatus.FAILED, reason=reason, reads=1)
            self._set_status(EntityStatus.FAILED)
            return False
        if result.auth is None:
            reason = (
                f"auth {self._input.auth_id} was not found on smartlock "
                f"{self._input.smartlock_id}; check both ids"
            )
            for pending in segment:
                self._resolve(pending, OutcomeStatus.FAILED, reason=reason, reads=1)
            self._set_status(EntityStatus.FAILED)
            # Runs from before this patch stayed open for an auth that is not there.
            if workflow.patched(MISSING_PATCH):
                self._missing = True
            return False
        self._auth_type = result.auth.type
        self._desired = self._verified = AuthFields.from_wire(result.auth)
        return True

    async def _apply(self, pending: PendingChange, target: AuthFields | None) -> None:
        """Write ``target`` (None: delete), wait, read back, compare; rewrite a lost update."""
        deadline = pending.change.deadline_from(pending.accepted_at)
        timing = self._input.timing
        writes = reads = 0
        differences: list[str] = []
        for round_ in range(1 + self._input.max_rewrites):
            remaining = deadline - workflow.now()
            if remaining <= timedelta(0):
                reason = "the change's deadline passed before it landed"
                if writes == 0:
                    reason = (
                        f"its deadline ({clock(deadline, date=True)}) passed before it could be "
                        "written; it was never written"
                    )
                self._fail(pending, reason, writes, reads)
                return
            step = "writing the change"
            try:
                await workflow.execute_activity_method(
                    AuthActivities.write_auth,
                    WriteAuthInput(
                        smartlock_id=self._input.smartlock_id,
                        auth_id=self._input.auth_id,
                        desired=target,
                        not_after=deadline,
                        check_online=round_ > 0,
                        after_accepted_write=round_ > 0,
                    ),
                    start_to_close_timeout=self._call_timeout(),
                    schedule_to_close_timeout=remaining,
                    retry_policy=self._retry_policy(),
                    summary=f"{pending.change.kind.value} #{pending.number}, write {round_ + 1}",
                )
                writes += 1
                step = WAITING_STEP
                settled = await workflow.execute_activity_method(
                    AuthActivities.await_auth,
                    AwaitAuthInput(
                        smartlock_id=self._input.smartlock_id,
                        auth_id=self._input.auth_id,
                        timing=timing.poll,
                    ),
                    start_to_close_timeout=timedelta(
                        seconds=timing.poll.fast_window_seconds + timing.retry.call_timeout_seconds
                    ),
                    schedule_to_close_timeout=max(deadline - workflow.now(), timedelta(seconds=1)),
                    heartbeat_timeout=timedelta(seconds=timing.poll.heartbeat_timeout_seconds),
                    retry_policy=RetryPolicy(
                        initial_interval=timedelta(
                            seconds=timing.poll.slow_initial_interval_seconds
                        ),
                        backoff_coefficient=1.5,
                        maximum_interval=timedelta(seconds=timing.poll.slow_max_interval_seconds),
                    ),
                    summary=f"wait for #{pending.number} to be applied, then read it back",
                )
                reads += settled.reads
            except ActivityError as err:
                reason = describe_activity_failure(err, step)
                if step == WAITING_STEP:
                    # This round's write was accepted and is still pending: offline, Nuki may
                    # hold it and apply it when the lock is back.
                    reason += (
                        "; Nuki accepted the write, so the lock may still take it when it is "
                        "online again (the next change starts from what the lock holds)"
                    )
                self._fail(pending, reason, writes, reads)
                return

            if target is None:
                if settled.auth is None:
                    self._deleted_by = pending.number
                    self._verified = None
                    self._resolve(pending, OutcomeStatus.APPLIED, writes=writes, reads=reads)
                    return
                differences = ["(the auth is still there)"]
            else:
                if settled.auth is None:
                    self._fail(
                        pending,
                        f"auth {self._input.auth_id} disappeared from smartlock "
                        f"{self._input.smartlock_id} (deleted outside nukiflow?)",
                        writes,
                        reads,
                    )
                    return
                self._verified = AuthFields.from_wire(settled.auth)
                differences = target.differences(self._verified)
                if not differences:
                    self._resolve(pending, OutcomeStatus.APPLIED, writes=writes, reads=reads)
                    return
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
        self._fail(
            pending,
            f"the change did not land after {writes} writes; the lock still differs in "
            f"{', '.join(differences)}",
            writes,
            reads,
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
            reason=f"replaced by change #{by.number} before it landed; that change includes "
            "this one's fields unless it overrides them",
        )

    def _fail(self, pending: PendingChange, reason: str, writes: int, reads: int) -> None:
        # Forget the desired state: the next change starts from what the lock really holds.
        self._desired = None
        self._resolve(pending, OutcomeStatus.FAILED, writes=writes, reads=reads, reason=reason)
        self._set_status(EntityStatus.FAILED)

    def _fail_remaining(self) -> None:
        for pending in self._pending:
            self._resolve(
                pending,
                OutcomeStatus.FAILED,
                reason=self._end_reason(),
            )
        self._pending = []

    def _settled_status(self) -> EntityStatus:
        if self._deleted_by is not None:
            return EntityStatus.DELETED
        if self._status is EntityStatus.FAILED:
            return EntityStatus.FAILED
        return EntityStatus.IN_SYNC if self._verified is not None else EntityStatus.IDLE

    # -- what the Temporal UI shows -----------------------------------------------------

    def _set_status(self, status: EntityStatus) -> None:
        self._status = status
        self._publish_status()
        self._show_details()

    def _publish_status(self) -> None:
        if self._status_published is self._status:
            return
        workflow.upsert_search_attributes(
            [
                sa.SMARTLOCK_ID.value_set(self._input.smartlock_id),
                sa.AUTH_ID.value_set(self._input.auth_id),
                sa.KIND.value_set("auth"),
                sa.STATUS.value_set(self._status.value),
            ]
        )
        self._status_published = self._status

    def _show_details(self) -> None:
        lines = [
            f"**Auth** `{self._input.auth_id}` on smartlock `{self._input.smartlock_id}`",
            f"**Status:** {self._status.value} · changes: {self._counter} · "
            f"pending: {len(self._pending)}",
        ]
        if self._verified is not None:
            v = self._verified.redacted()
            lines.append(
                f"**Verified:** name={v.name!r} code={v.code or '-'} enabled={v.enabled} "
                f"remote={v.remote_allowed}"
            )
        if self._outcomes:
            last = list(self._outcomes.values())[-1]
            lines.append(f"**Last outcome:** #{last.change_number} {last.status.value}")
            if last.reason:
                lines.append(f"> {last.reason}")
        workflow.set_current_details("\n\n".join(lines))

    def _call_timeout(self) -> timedelta:
        return timedelta(seconds=self._input.timing.retry.call_timeout_seconds)

    def _retry_policy(self) -> RetryPolicy:
        retry = self._input.timing.retry
        return RetryPolicy(
            initial_interval=timedelta(seconds=retry.initial_interval_seconds),
            backoff_coefficient=retry.backoff,
            maximum_interval=timedelta(seconds=retry.max_interval_seconds),
        )
