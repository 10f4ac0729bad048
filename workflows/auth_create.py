"""Creating an authorization exactly once, then handing it to its entity workflow.

Nuki's create answers 204 without an id, so a naive retry after a timeout can make two auths.
The workflow id carries the caller's request id (a retried call attaches to the same run), and
the create activity looks for the auth before and after creating it (see
:mod:`activities.auth_create_attempt` for the cadence: a lost create is
sent again one fast window after it went out, an offline lock is waited for like a write).
The lock's auths are listed once before the first attempt and that snapshot is kept in history:
an auth that was there before is never taken for the new one, however well it matches.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    import nukiflow.contracts.search_attributes as sa
    import nukiflow.workflows.auth_calls as calls
    import nukiflow.workflows.auth_details as say
    import nukiflow.workflows.logic_version as logic_version
    from nukiflow.contracts.auth import (
        AuthFields,
        AuthOutcome,
        ChangeKind,
        CreateAuthRequest,
        OutcomeStatus,
    )
    from nukiflow.contracts.auth_io import AwaitAuthResult, CreateAuthInput
    from nukiflow.contracts.deadline import clock
    from nukiflow.contracts.entity import (
        AuthCreateInput,
        AuthEntityInput,
        AuthEntityResult,
        DriftPolicy,
        EntityMemory,
        EntityStatus,
        auth_workflow_id,
        pack_memory,
    )
    from nukiflow.contracts.names import (
        AUTH_CREATE_FAILED_ERROR,
        AUTH_CREATE_WORKFLOW,
        AUTH_ENTITY_WORKFLOW,
    )
    from nukiflow.workflows.auth_watch import WaitNotes, start_watch, stop_watch
    from nukiflow.workflows.failure_reasons import describe_activity_failure


SNAPSHOT_PATCH = "create-lists-existing-auths-first"
# Marks runs whose entity takes the creator's drift policy (earlier runs started it with alert).
POLICY_PATCH = "create-hands-its-drift-policy-over"
# Marks runs that fail (Temporal status Failed, the outcome in the failure's details) when the
# create failed; earlier runs completed with the failed outcome as their result.
FAILS_PATCH = "create-fails-when-it-failed"
# Marks runs that watch the create (why it waits) beside its activities.
WATCH_PATCH = "create-watch-why-it-waits"
# Marks runs that take the listing which found the new auth as its read-back when it shows no
# operation pending (earlier runs always waited and read it again).
LISTED_PATCH = "create-settled-by-its-listing"
# Marks runs that show the new auth's id with their end when nothing else happens in between
# (the listing that found it shows it applied): its own upsert would cost the server a
# visibility write during the entity's start, an instant nobody sees; an upsert in the task
# that ends the run is part of its closing record. Runs that wait for the lock to apply the
# new auth show its id at once, as before. Checked in the run's first task, where the marker's
# own upsert joins the server's first visibility update of the run.
AUTH_ID_AT_END_PATCH = "create-auth-id-shown-with-its-end"


@workflow.defn(name=AUTH_CREATE_WORKFLOW)
class AuthCreateWorkflow:
    def __init__(self) -> None:
        # What the current details show (set once the create begins).
        self._request: CreateAuthRequest | None = None
        self._deadline = datetime.min.replace(tzinfo=UTC)
        self._notes = WaitNotes()
        self._auth_type: int | None = None
        self._auth_id: str | None = None
        self._step_name = ""
        self._step_since = self._deadline
        # Whether the search attributes show the auth id already, and whether a settled create
        # may leave it to the end (AUTH_ID_AT_END_PATCH).
        self._auth_id_shown = False
        self._auth_id_at_end = False

    @workflow.run
    async def run(self, input: AuthCreateInput) -> AuthOutcome:
        request = input.request
        timing = input.timing
        # The caller's instant (requests recorded before there was one: counted from here).
        deadline = request.deadline_from(workflow.now())
        if not input.attributes_at_start:
            # Started without them (by hand, or a caller from before): show them now.
            workflow.upsert_search_attributes(
                sa.create_attributes(
                    request.smartlock_id, EntityStatus.APPLYING.value, input.account
                )
            )
        self._request, self._deadline = request, deadline
        self._auth_type = request.effective_type
        if deadline <= workflow.now():
            # Taken up too late (no worker could start it sooner): nothing is sent.
            return self._finish(
                input,
                OutcomeStatus.FAILED,
                reason=f"its deadline ({clock(deadline, date=True)}) had passed when the "
                f"create started at {clock(workflow.now())}; nothing was sent",
            )
        self._step(say.READING_LOCK)
        watch = None
        if logic_version.since(WATCH_PATCH):
            watch = start_watch(
                request.smartlock_id, None, timing, self._notes, self._show_details, input.account
            )
        self._auth_id_at_end = logic_version.patched_after(AUTH_ID_AT_END_PATCH)
        try:
            return await self._create(input, deadline)
        finally:
            if watch is not None:
                await stop_watch(watch, self._notes)

    async def _create(self, input: AuthCreateInput, deadline: datetime) -> AuthOutcome:
        request = input.request
        desired = request.fields()
        timing = input.timing
        existing_ids: list[str] | None = None
        snapshot_reads = 0
        try:
            # Runs started before the snapshot existed go on without it (replay-safe).
            if logic_version.since(SNAPSHOT_PATCH):
                step = "listing the lock's auths before creating"
                listed = await calls.list_auth_ids(
                    request.smartlock_id, timing, deadline=deadline, account=input.account
                )
                existing_ids, snapshot_reads = listed.ids, 1
            step = "creating the auth"
            self._step(say.CREATING)
            if deadline <= workflow.now():
                return self._finish(
                    input,
                    OutcomeStatus.FAILED,
                    reason=f"its deadline ({clock(deadline, date=True)}) passed while listing the "
                    "lock's auths; nothing was sent",
                    reads=snapshot_reads,
                )
            created = await calls.create_auth(
                CreateAuthInput(
                    smartlock_id=request.smartlock_id,
                    auth_type=request.effective_type,
                    desired=desired,
                    not_after=deadline,
                    timing=timing.poll,
                    existing_ids=existing_ids,
                ),
                timing,
                summary=f"create auth {request.name!r} on smartlock {request.smartlock_id}",
                account=input.account,
            )
            listed_auth = created.auth
            applied_in_listing = listed_auth is not None and listed_auth.operation_id is None
            # Runs since AUTH_ID_AT_END_PATCH record the logic generation in their first task,
            # so they take LISTED_PATCH's branch below: only the entity's start comes before
            # their end. Older runs upsert here, before that check, as they did.
            self._auth_id = created.auth_id
            if not (applied_in_listing and self._auth_id_at_end):
                self._show_auth_id()
            step = "waiting for the lock to apply the new auth"
            self._step(say.WAITING)
            if listed_auth is not None and applied_in_listing and logic_version.since(LISTED_PATCH):
                # The listing that found it shows it applied: that listing is the read-back.
                settled = AwaitAuthResult(auth=listed_auth, reads=0)
            else:
                settled = await calls.await_auth(
                    request.smartlock_id,
                    created.auth_id,
                    timing,
                    deadline=deadline,
                    summary="wait for the new auth to be applied, then read it back",
                    account=input.account,
                )
        except ActivityError as err:
            return self._finish(
                input, OutcomeStatus.FAILED, reason=describe_activity_failure(err, step)
            )

        if settled.auth is None:
            return self._finish(
                input,
                OutcomeStatus.FAILED,
                auth_id=created.auth_id,
                reason="the new auth vanished before it could be verified",
                writes=created.writes,
                reads=snapshot_reads + created.reads + settled.reads,
            )
        verified = AuthFields.from_wire(settled.auth)
        differences = desired.differences(verified)
        # Hand the auth to its entity, which serializes every later change. Verified fields
        # become its known state; if the create did not land exactly, the entity is started
        # with the request as desired state and the caller is told what differs.
        entity_id = auth_workflow_id(request.smartlock_id, created.auth_id)
        # A retried create may find its auth already managed: nothing to hand over then.
        status = EntityStatus.IN_SYNC if not differences else EntityStatus.FAILED
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await workflow.start_child_workflow(
                AUTH_ENTITY_WORKFLOW,
                AuthEntityInput(
                    smartlock_id=request.smartlock_id,
                    auth_id=created.auth_id,
                    timing=timing,
                    max_rewrites=input.max_rewrites,
                    drift_policy=self._drift_policy(input),
                    account=input.account,
                    carried_memory=pack_memory(
                        EntityMemory(
                            desired=verified,
                            verified=verified,
                            auth_type=settled.auth.type,
                            status=status,
                            verified_at=workflow.now(),
                        )
                    ),
                    # Its search attributes come with its start: its first task upserts none.
                    status_at_start=status,
                ),
                id=entity_id,
                search_attributes=sa.at_start(
                    sa.auth_attributes(
                        request.smartlock_id, created.auth_id, status.value, input.account
                    )
                ),
                result_type=AuthEntityResult,
                parent_close_policy=ParentClosePolicy.ABANDON,
                static_summary=say.static_summary(
                    request.name, settled.auth.type, request.smartlock_id, created.auth_id
                ),
            )
        if differences:
            return self._finish(
                input,
                OutcomeStatus.FAILED,
                auth_id=created.auth_id,
                verified=verified,
                writes=created.writes,
                reads=snapshot_reads + created.reads + settled.reads,
                reason=f"the auth was created but differs in {', '.join(differences)}; "
                "send an update to correct it",
            )
        return self._finish(
            input,
            OutcomeStatus.APPLIED,
            auth_id=created.auth_id,
            verified=verified,
            writes=created.writes,
            reads=snapshot_reads + created.reads + settled.reads,
        )

    @staticmethod
    def _drift_policy(input: AuthCreateInput) -> DriftPolicy:
        """The creator's policy; alert for inputs (and runs) from before creates passed one."""
        if input.drift_policy is None or not logic_version.since(POLICY_PATCH):
            return DriftPolicy.ALERT
        return input.drift_policy

    def _finish(
        self,
        input: AuthCreateInput,
        status: OutcomeStatus,
        *,
        auth_id: str | None = None,
        verified: AuthFields | None = None,
        writes: int = 0,
        reads: int = 0,
        reason: str | None = None,
    ) -> AuthOutcome:
        # In the task that ends the run: part of its closing record, no visibility write of
        # its own.
        workflow.upsert_search_attributes(
            [
                *self._auth_id_unshown(auth_id),
                sa.STATUS.value_set(
                    EntityStatus.IN_SYNC.value
                    if status is OutcomeStatus.APPLIED
                    else EntityStatus.FAILED.value
                ),
            ]
        )
        outcome = AuthOutcome(
            status=status,
            request_id=input.request.request_id,
            smartlock_id=input.request.smartlock_id,
            auth_id=auth_id,
            kind=ChangeKind.CREATE,
            verified=None if verified is None else verified.redacted(),
            writes=writes,
            reads=reads,
            reason=reason,
            workflow_id=workflow.info().workflow_id,
        )
        self._show_details(outcome)
        if status is OutcomeStatus.FAILED and logic_version.since(FAILS_PATCH):
            # The create's purpose failed: so does the run (the Failures view and
            # ``ExecutionStatus = 'Failed'`` find it); callers read the outcome from the details.
            raise ApplicationError(
                reason or "the create failed",
                outcome,
                type=AUTH_CREATE_FAILED_ERROR,
                non_retryable=True,
            )
        return outcome

    # -- what the Temporal UI shows ------------------------------------------------------

    def _show_auth_id(self) -> None:
        assert self._auth_id is not None
        workflow.upsert_search_attributes([sa.AUTH_ID.value_set(self._auth_id)])
        self._auth_id_shown = True

    def _auth_id_unshown(self, auth_id: str | None) -> list[SearchAttributeUpdate[str]]:
        """The auth id's update when the run ends without having shown it (runs since
        AUTH_ID_AT_END_PATCH only: earlier runs showed it as soon as it was known)."""
        if auth_id is None or self._auth_id_shown or not self._auth_id_at_end:
            return []
        return [sa.AUTH_ID.value_set(auth_id)]

    def _step(self, step: str) -> None:
        self._step_name, self._step_since = step, workflow.now()
        self._show_details()

    def _show_details(self, outcome: AuthOutcome | None = None) -> None:
        request = self._request
        if request is None:  # answered before it began (its deadline had passed)
            return
        workflow.set_current_details(
            say.create_details(
                request.name,
                self._auth_type,
                request.smartlock_id,
                request.fields(),
                step=self._step_name,
                since=self._step_since,
                deadline=self._deadline,
                notes=self._notes,
                auth_id=self._auth_id,
                outcome=outcome,
            )
        )
