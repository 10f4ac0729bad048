"""The Python face of nukiflow: change authorizations through their entity workflows.

Every call returns an :class:`~nukiflow.contracts.auth.AuthOutcome`: applied (verified), superseded,
rejected (bad input, refused before it reaches Temporal) or failed (with the reason).

Deadlines (``deadline=``: a ``timedelta`` from now or an aware ``datetime``) become a UTC
instant the moment a method is called (:mod:`nukiflow.contracts.deadline`); that instant travels
with the change or action, so a workflow that takes it up late, or a retry, never stretches it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import ValidationError
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from nukiflow.contracts.action import (
    MAX_DEADLINE,
    ActionName,
    ActionOutcome,
    ActionRequest,
    ActionStatus,
    LockActionsInput,
    LockActionsView,
    lock_workflow_id,
)
from nukiflow.contracts.auth import (
    MAX_CHANGE_DEADLINE,
    AuthChange,
    AuthOutcome,
    AuthPatch,
    ChangeKind,
    CreateAuthRequest,
    OutcomeRequest,
    OutcomeStatus,
)
from nukiflow.contracts.deadline import Deadline, DeadlineError, resolve_deadline
from nukiflow.contracts.entity import (
    AuthCreateInput,
    AuthEntityInput,
    AuthEntityResult,
    AuthEntityView,
    auth_workflow_id,
    create_workflow_id,
)
from nukiflow.contracts.messages import validation_message as validation_message
from nukiflow.contracts.names import LOCK_ROLLING_OVER_ERROR as LOCK_ROLLING_OVER
from nukiflow.contracts.timing import WorkflowTiming
from nukiflow.contracts.validation import InputError, check_auth_target, check_target
from nukiflow.settings import Settings
from nukiflow.temporal.connect import connect_temporal
from nukiflow.workflows.auth_create import AuthCreateWorkflow
from nukiflow.workflows.auth_entity import DELETED, ROLLING_OVER, AuthEntityWorkflow
from nukiflow.workflows.lock_actions import LockActionsWorkflow

# An entity that is continuing-as-new refuses changes until the changes it holds have ended
# (one may wait hours for an offline lock): retried with growing pauses, for as long as the
# change's own deadline allows.
ROLLOVER_RETRY_DELAY = 0.1
ROLLOVER_RETRY_MAX_DELAY = 5.0

R = TypeVar("R")


class RolloverTimeout(Exception):
    """The workflow was continuing as new until the change's deadline: the change was never
    accepted (the facade turns this into a failed or expired outcome)."""


async def send_update_with_start(
    client: Client,
    update: Any,
    arg: Any,
    *,
    operation: Any,
    update_id: str,
    rolling_over: str,
    deadline_at: datetime,
    wait_for_stage: WorkflowUpdateStage = WorkflowUpdateStage.COMPLETED,
) -> WorkflowUpdateHandle[Any]:
    """Update-with-Start that rides out an entity's continue-as-new.

    ``operation`` builds a fresh ``WithStartWorkflowOperation`` per attempt (one cannot be
    reused). A validator refusal typed ``rolling_over`` and the server's abort of an update that
    races a closing run are retried until the caller's ``deadline_at`` (then
    :class:`RolloverTimeout`); every other refusal raises ``WorkflowUpdateFailedError``.
    Every attempt sends the same ``arg``: it carries the caller's deadline as an instant, so a
    retry neither stretches nor recounts it.
    """
    delay = ROLLOVER_RETRY_DELAY
    while True:
        try:
            handle = await client.start_update_with_start_workflow(
                update,
                arg,
                start_workflow_operation=operation(),
                id=update_id,
                wait_for_stage=wait_for_stage,
            )
            if not _refused_on_arrival(handle):
                return handle
            await handle.result()  # raises the refusal, without another call
            return handle
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if not (isinstance(cause, ApplicationError) and cause.type == rolling_over):
                raise
        except RPCError as exc:
            if "closing workflow" not in str(exc) and "aborted" not in str(exc):
                raise
        left = (deadline_at - datetime.now(UTC)).total_seconds()
        if delay < left:
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, ROLLOVER_RETRY_MAX_DELAY)
            continue
        raise RolloverTimeout(
            "the workflow was continuing as new (finishing the changes it holds) until the "
            "deadline; the change was never accepted: send it again"
        )


def _refused_on_arrival(handle: WorkflowUpdateHandle[Any]) -> bool:
    """Whether the server answered the update with a failure already: a validator's refusal,
    which the SDK keeps on the handle (raised by ``result()`` without a call) when the caller
    waits for acceptance only. Without this look a rollover's refusal would reach the caller
    as the change's answer instead of being sent again."""
    outcome = getattr(handle, "_known_outcome", None)
    has_field = getattr(outcome, "HasField", None)
    return has_field is not None and bool(has_field("failure"))


def refusal_message(exc: WorkflowUpdateFailedError) -> tuple[str | None, str]:
    """The (type, message) of a validator's refusal."""
    cause = exc.cause
    kind = cause.type if isinstance(cause, ApplicationError) else None
    return kind, getattr(cause, "message", None) or str(cause)


class NukiFlow:
    """Client facade. Build it with :meth:`connect` or from an existing Temporal client."""

    def __init__(
        self,
        client: Client,
        *,
        task_queue: str,
        timing: WorkflowTiming | None = None,
        max_rewrites: int = 3,
        auth_deadline: timedelta = timedelta(hours=24),
        action_deadline: timedelta = timedelta(seconds=60),
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        self.timing = timing or WorkflowTiming()
        self.max_rewrites = max_rewrites
        self.auth_deadline = auth_deadline
        self.action_deadline = action_deadline

    @classmethod
    async def connect(cls, settings: Settings | None = None) -> NukiFlow:
        """Connect to Temporal as the settings say (encrypted payloads)."""
        settings = settings or Settings()
        return cls.from_settings(await connect_temporal(settings), settings)

    @classmethod
    def from_settings(cls, client: Client, settings: Settings) -> NukiFlow:
        return cls(
            client,
            task_queue=settings.task_queue,
            max_rewrites=settings.max_rewrites,
            auth_deadline=settings.auth_change_deadline,
            action_deadline=settings.action_deadline,
        )

    # -- authorizations -----------------------------------------------------------------

    async def update_auth(
        self,
        smartlock_id: int,
        auth_id: str,
        patch: AuthPatch | Mapping[str, Any],
        *,
        request_id: str | None = None,
        deadline: Deadline | None = None,
    ) -> AuthOutcome:
        """Change some fields of an auth; the others keep their value.

        ``deadline``: a ``timedelta`` from now or an aware ``datetime`` (default: the
        facade's ``auth_deadline``); nothing is written after it. A deadline that is not in
        the future, or further ahead than 30 days, is answered ``rejected``.
        """
        request_id = request_id or uuid.uuid4().hex
        started = await self.start_update_auth(
            smartlock_id, auth_id, patch, request_id=request_id, deadline=deadline
        )
        return await _result(
            started, lambda exc: self._refused(exc, smartlock_id, auth_id, request_id)
        )

    async def start_update_auth(
        self,
        smartlock_id: int,
        auth_id: str,
        patch: AuthPatch | Mapping[str, Any],
        *,
        request_id: str | None = None,
        deadline: Deadline | None = None,
    ) -> WorkflowUpdateHandle[AuthOutcome] | AuthOutcome:
        """Hand a change to the auth's workflow and return once it accepted it.

        Returns the update handle (``await handle.result()`` for the outcome), or the final
        outcome at once when the change was refused (rejected) before it entered history.
        """
        request_id = request_id or uuid.uuid4().hex
        try:
            smartlock_id, auth_id = check_auth_target(smartlock_id, auth_id, request_id=request_id)
        except InputError as exc:
            return self._rejected(smartlock_id, auth_id, request_id, str(exc))
        try:
            deadline_at = self._auth_deadline_at(deadline)
            if not isinstance(patch, AuthPatch):
                patch = AuthPatch.model_validate(patch)
            change = AuthChange(
                request_id=request_id,
                kind=ChangeKind.UPDATE,
                patch=patch,
                deadline_at=deadline_at,
            )
        except ValidationError as exc:
            return self._rejected(smartlock_id, auth_id, request_id, validation_message(exc))
        except DeadlineError as exc:
            return self._rejected(smartlock_id, auth_id, request_id, str(exc))
        return await self.start_change_auth(smartlock_id, auth_id, change)

    async def delete_auth(
        self,
        smartlock_id: int,
        auth_id: str,
        *,
        request_id: str | None = None,
        deadline: Deadline | None = None,
    ) -> AuthOutcome:
        """Delete an auth (verified gone) and end its workflow (``deadline`` as for
        :meth:`update_auth`)."""
        request_id = request_id or uuid.uuid4().hex
        started = await self.start_delete_auth(
            smartlock_id, auth_id, request_id=request_id, deadline=deadline
        )
        return await _result(
            started,
            lambda exc: self._refused(exc, smartlock_id, auth_id, request_id, ChangeKind.DELETE),
        )

    async def start_delete_auth(
        self,
        smartlock_id: int,
        auth_id: str,
        *,
        request_id: str | None = None,
        deadline: Deadline | None = None,
    ) -> WorkflowUpdateHandle[AuthOutcome] | AuthOutcome:
        request_id = request_id or uuid.uuid4().hex
        try:
            smartlock_id, auth_id = check_auth_target(smartlock_id, auth_id, request_id=request_id)
        except InputError as exc:
            return self._rejected(smartlock_id, auth_id, request_id, str(exc), ChangeKind.DELETE)
        try:
            change = AuthChange(
                request_id=request_id,
                kind=ChangeKind.DELETE,
                deadline_at=self._auth_deadline_at(deadline),
            )
        except ValidationError as exc:
            reason = validation_message(exc)
            return self._rejected(smartlock_id, auth_id, request_id, reason, ChangeKind.DELETE)
        except DeadlineError as exc:
            return self._rejected(smartlock_id, auth_id, request_id, str(exc), ChangeKind.DELETE)
        return await self.start_change_auth(smartlock_id, auth_id, change)

    async def change_auth(self, smartlock_id: int, auth_id: str, change: AuthChange) -> AuthOutcome:
        """Send one change through the auth's entity (started if it is not running).

        A change without ``deadline_at`` gets one now (from its ``deadline_seconds`` or the
        facade's default). A ``deadline_at`` it carries is kept as it is, also one that has
        passed: the entity then answers the change failed without writing it, or, for a
        request id it already knows, with that change's outcome (how a retry attaches).
        """
        started = await self.start_change_auth(smartlock_id, auth_id, change)
        return await _result(
            started,
            lambda exc: self._refused(exc, smartlock_id, auth_id, change.request_id, change.kind),
        )

    async def start_change_auth(
        self, smartlock_id: int, auth_id: str, change: AuthChange
    ) -> WorkflowUpdateHandle[AuthOutcome] | AuthOutcome:
        try:
            smartlock_id, auth_id = check_auth_target(
                smartlock_id, auth_id, request_id=change.request_id
            )
        except InputError as exc:
            return self._rejected(smartlock_id, auth_id, change.request_id, str(exc), change.kind)
        if change.deadline_at is None:
            try:
                change = change.model_copy(
                    update={
                        "deadline_at": self._auth_deadline_at(
                            None
                            if change.deadline_seconds is None
                            else timedelta(seconds=change.deadline_seconds)
                        ),
                        "deadline_seconds": None,
                    }
                )
            except DeadlineError as exc:
                return self._rejected(smartlock_id, auth_id, change.request_id, str(exc))
        deadline_at = change.deadline_at
        assert deadline_at is not None

        def operation() -> WithStartWorkflowOperation[Any, Any]:
            return WithStartWorkflowOperation(
                AuthEntityWorkflow.run,
                AuthEntityInput(
                    smartlock_id=smartlock_id,
                    auth_id=auth_id,
                    timing=self.timing,
                    max_rewrites=self.max_rewrites,
                ),
                id=auth_workflow_id(smartlock_id, auth_id),
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                # An entity that completed (verified delete, auth not found) is not started
                # again: its result answers (see _ended_entity). One that failed or was
                # terminated may be.
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                static_summary=f"auth {auth_id} on smartlock {smartlock_id}",
            )

        try:
            return await send_update_with_start(
                self.client,
                AuthEntityWorkflow.change,
                change,
                operation=operation,
                update_id=change.request_id,
                rolling_over=ROLLING_OVER,
                deadline_at=deadline_at,
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            )
        except WorkflowUpdateFailedError as exc:
            return self._refused(exc, smartlock_id, auth_id, change.request_id, change.kind)
        except WorkflowAlreadyStartedError:
            return await self._ended_entity(smartlock_id, auth_id, change)
        except RolloverTimeout as exc:
            return _entity_answer(OutcomeStatus.FAILED, smartlock_id, auth_id, change, str(exc))

    async def wait_for_change(
        self, smartlock_id: int, auth_id: str, request_id: str
    ) -> AuthOutcome:
        """The outcome of a change known to the auth's workflow, waiting while it is pending
        (e.g. the change named in a ``superseded`` outcome's ``superseded_by``).

        Raises :class:`~nukiflow.contracts.validation.InputError` (a ``ValueError``) for ids that
        cannot name an auth."""
        smartlock_id, auth_id = check_auth_target(smartlock_id, auth_id, request_id=request_id)
        handle = self.client.get_workflow_handle(auth_workflow_id(smartlock_id, auth_id))
        return await handle.execute_update(
            AuthEntityWorkflow.outcome, OutcomeRequest(request_id=request_id)
        )

    async def create_auth(
        self,
        smartlock_id: int,
        *,
        name: str,
        request_id: str | None = None,
        deadline: Deadline | None = None,
        **fields: Any,
    ) -> AuthOutcome:
        """Create an auth exactly once (retry with the same ``request_id`` to attach);
        ``deadline`` as for :meth:`update_auth`."""
        handle = await self.start_create_auth(
            smartlock_id, name=name, request_id=request_id, deadline=deadline, **fields
        )
        if isinstance(handle, AuthOutcome):
            return handle
        return await handle.result()

    async def start_create_auth(
        self,
        smartlock_id: int,
        *,
        name: str,
        request_id: str | None = None,
        deadline: Deadline | None = None,
        **fields: Any,
    ) -> WorkflowHandle[Any, AuthOutcome] | AuthOutcome:
        """Start a create; returns its handle, or the rejected outcome for bad input."""
        request_id = request_id or uuid.uuid4().hex
        try:
            smartlock_id = check_target(smartlock_id, request_id=request_id)
        except InputError as exc:
            return self._rejected(smartlock_id, None, request_id, str(exc), ChangeKind.CREATE)
        try:
            request = CreateAuthRequest(
                request_id=request_id,
                smartlock_id=smartlock_id,
                name=name,
                deadline_at=self._auth_deadline_at(deadline),
                **fields,
            )
        except ValidationError as exc:
            return self._rejected(smartlock_id, None, request_id, validation_message(exc))
        except DeadlineError as exc:
            return self._rejected(smartlock_id, None, request_id, str(exc))
        return await self.start_create(request)

    async def create(self, request: CreateAuthRequest) -> AuthOutcome:
        """Create the auth a validated request describes (see :meth:`start_create`)."""
        handle = await self.start_create(request)
        if isinstance(handle, AuthOutcome):
            return handle
        return await handle.result()

    async def start_create(
        self, request: CreateAuthRequest
    ) -> WorkflowHandle[Any, AuthOutcome] | AuthOutcome:
        """Start the create a validated request describes, or attach to the one its request
        id started. A request without ``deadline_at`` gets one now; one it carries is kept,
        also when it has passed (the create then fails without sending anything)."""
        smartlock_id, request_id = request.smartlock_id, request.request_id
        if request.deadline_at is None:
            seconds = request.deadline_seconds
            try:
                request = request.model_copy(
                    update={
                        "deadline_at": self._auth_deadline_at(
                            None if seconds is None else timedelta(seconds=seconds)
                        ),
                        "deadline_seconds": None,
                    }
                )
            except DeadlineError as exc:
                return self._rejected(smartlock_id, None, request_id, str(exc))
        workflow_id = create_workflow_id(smartlock_id, request_id)
        try:
            return await self.client.start_workflow(
                AuthCreateWorkflow.run,
                AuthCreateInput(
                    request=request, timing=self.timing, max_rewrites=self.max_rewrites
                ),
                id=workflow_id,
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=f"create auth {request.name!r} on smartlock {smartlock_id}",
            )
        except WorkflowAlreadyStartedError:
            # The same request id ran before: attach to its result, never create twice.
            return self.client.get_workflow_handle(workflow_id, result_type=AuthOutcome)

    async def auth_state(self, smartlock_id: int, auth_id: str) -> AuthEntityView:
        """The auth's desired and verified state (codes redacted), pending changes and last
        outcomes. Raises :class:`~nukiflow.contracts.validation.InputError` for bad ids."""
        smartlock_id, auth_id = check_auth_target(smartlock_id, auth_id)
        handle = self.client.get_workflow_handle(auth_workflow_id(smartlock_id, auth_id))
        return await handle.query(AuthEntityWorkflow.state)

    # -- helpers ------------------------------------------------------------------------

    def _auth_deadline_at(self, deadline: Deadline | None) -> datetime:
        """The instant of an auth change's or create's deadline, fixed now."""
        return resolve_deadline(deadline, default=self.auth_deadline, maximum=MAX_CHANGE_DEADLINE)

    def _rejected(
        self,
        smartlock_id: object,
        auth_id: object,
        request_id: object,
        reason: str,
        kind: ChangeKind = ChangeKind.UPDATE,
    ) -> AuthOutcome:
        shown_lock, shown_auth, shown_request = _as_given(smartlock_id, auth_id, request_id)
        return AuthOutcome(
            status=OutcomeStatus.REJECTED,
            request_id=shown_request,
            smartlock_id=shown_lock,
            auth_id=shown_auth,
            kind=kind,
            reason=reason,
        )

    async def _ended_entity(
        self, smartlock_id: int, auth_id: str, change: AuthChange
    ) -> AuthOutcome:
        """The auth's entity has completed: the first outcome of a retried change, or a
        failure that says why the auth is no longer managed."""
        handle = self.client.get_workflow_handle(
            auth_workflow_id(smartlock_id, auth_id), result_type=AuthEntityResult
        )
        ended: AuthEntityResult = await handle.result()
        for outcome in ended.outcomes:
            if outcome.request_id == change.request_id:
                return outcome
        reason = ended.ended_because or f"auth {auth_id} is no longer managed"
        return _entity_answer(OutcomeStatus.FAILED, smartlock_id, auth_id, change, reason)

    def _refused(
        self,
        exc: WorkflowUpdateFailedError,
        smartlock_id: int,
        auth_id: str,
        request_id: str,
        kind: ChangeKind = ChangeKind.UPDATE,
    ) -> AuthOutcome:
        """A change the auth's workflow refused: rejected, or failed if the auth is deleted."""
        refusal, message = refusal_message(exc)
        status = OutcomeStatus.FAILED if refusal == DELETED else OutcomeStatus.REJECTED
        return AuthOutcome(
            status=status,
            request_id=request_id,
            smartlock_id=smartlock_id,
            auth_id=auth_id,
            kind=kind,
            reason=message,
            workflow_id=auth_workflow_id(smartlock_id, auth_id),
        )

    # -- lock actions -------------------------------------------------------------------

    async def action(
        self,
        smartlock_id: int,
        action: ActionName | str,
        *,
        force: bool = False,
        full_lock: bool = False,
        deadline: Deadline | None = None,
        request_id: str | None = None,
    ) -> ActionOutcome:
        """Run one action (unlock, lock, unlatch, ...) on a lock, after those before it.

        ``deadline``: a ``timedelta`` from now or an aware ``datetime`` (default: the facade's
        ``action_deadline``, 60 s); the action is never sent after it, however late the lock's
        workflow takes it up. A deadline that is not in the future, or more than 24 h ahead,
        is answered ``rejected``.

        Returns confirmed (the lock ran it), expired (never sent, and never will be), failed
        (the lock or Nuki says why), unknown (it may have run: sent, or maybe sent, and its
        outcome not seen by the deadline and a grace period; the reason says what was seen)
        or rejected (bad input, refused before it reaches Temporal). Retry with the same
        ``request_id`` to get the first outcome back instead of acting again.
        """
        request_id = request_id or uuid.uuid4().hex
        known = action if isinstance(action, ActionName) else None
        if known is None and action in {a.value for a in ActionName}:
            known = ActionName(action)
        try:
            deadline_at = self._action_deadline_at(deadline)
        except DeadlineError as exc:
            return self._action_rejected(smartlock_id, known, request_id, str(exc))
        values: dict[str, Any] = {
            "request_id": request_id,
            "action": action,
            "force": force,
            "full_lock": full_lock,
            "deadline_at": deadline_at,
        }
        try:
            smartlock_id = check_target(smartlock_id, request_id=request_id)
        except InputError as exc:
            return self._action_rejected(smartlock_id, known, request_id, str(exc))
        try:
            request = ActionRequest.model_validate(values)
        except ValidationError as exc:
            return self._action_rejected(smartlock_id, known, request_id, validation_message(exc))
        return await self.run_action(smartlock_id, request)

    async def run_action(self, smartlock_id: int, request: ActionRequest) -> ActionOutcome:
        """Send one validated request through the lock's workflow (started if not running)."""
        started = await self.start_action(smartlock_id, request)
        return await _result(started, lambda exc: self._action_refused(exc, smartlock_id, request))

    async def start_action(
        self, smartlock_id: int, request: ActionRequest
    ) -> WorkflowUpdateHandle[ActionOutcome] | ActionOutcome:
        """Queue an action and return once the lock's workflow accepted it (or the refusal).

        A request without ``deadline_at`` gets one now (from its ``deadline_seconds`` or the
        facade's default); one it carries is kept as it is.
        """
        try:
            smartlock_id = check_target(smartlock_id, request_id=request.request_id)
        except InputError as exc:
            return self._action_rejected(smartlock_id, request.action, request.request_id, str(exc))
        workflow_id = lock_workflow_id(smartlock_id)
        if request.deadline_at is None:
            seconds = request.deadline_seconds
            try:
                request = request.model_copy(
                    update={
                        "deadline_at": self._action_deadline_at(
                            None if seconds is None else timedelta(seconds=seconds)
                        ),
                        "deadline_seconds": None,
                    }
                )
            except DeadlineError as exc:
                return self._action_rejected(
                    smartlock_id, request.action, request.request_id, str(exc)
                )
        deadline_at = request.deadline_at
        assert deadline_at is not None

        def operation() -> WithStartWorkflowOperation[Any, Any]:
            return WithStartWorkflowOperation(
                LockActionsWorkflow.run,
                LockActionsInput(smartlock_id=smartlock_id, timing=self.timing),
                id=workflow_id,
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                static_summary=f"actions on smartlock {smartlock_id}",
            )

        try:
            return await send_update_with_start(
                self.client,
                LockActionsWorkflow.act,
                request,
                operation=operation,
                update_id=request.request_id,
                rolling_over=LOCK_ROLLING_OVER,
                deadline_at=deadline_at,
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            )
        except WorkflowUpdateFailedError as exc:
            return self._action_refused(exc, smartlock_id, request)
        except RolloverTimeout as exc:
            # Never accepted, so never sent: the action's deadline passed in line.
            return ActionOutcome(
                status=ActionStatus.EXPIRED,
                request_id=request.request_id,
                smartlock_id=smartlock_id,
                action=request.action,
                reason=str(exc),
                workflow_id=workflow_id,
                deadline=deadline_at,
            )

    async def lock_state(self, smartlock_id: int) -> LockActionsView:
        """The lock workflow's queue, current action, last outcomes and learned timing.
        Raises :class:`~nukiflow.contracts.validation.InputError` for a bad smartlock id."""
        smartlock_id = check_target(smartlock_id)
        handle = self.client.get_workflow_handle(lock_workflow_id(smartlock_id))
        return await handle.query(LockActionsWorkflow.state)

    def _action_deadline_at(self, deadline: Deadline | None) -> datetime:
        """The instant of an action's deadline, fixed now."""
        return resolve_deadline(deadline, default=self.action_deadline, maximum=MAX_DEADLINE)

    def _action_refused(
        self, exc: WorkflowUpdateFailedError, smartlock_id: int, request: ActionRequest
    ) -> ActionOutcome:
        _, message = refusal_message(exc)
        outcome = self._action_rejected(smartlock_id, request.action, request.request_id, message)
        outcome.workflow_id = lock_workflow_id(smartlock_id)
        return outcome

    def _action_rejected(
        self, smartlock_id: object, action: ActionName | None, request_id: object, reason: str
    ) -> ActionOutcome:
        shown_lock, _, shown_request = _as_given(smartlock_id, None, request_id)
        return ActionOutcome(
            status=ActionStatus.REJECTED,
            request_id=shown_request,
            smartlock_id=shown_lock,
            action=action,
            reason=reason,
        )


def _as_given(
    smartlock_id: object, auth_id: object, request_id: object
) -> tuple[int, str | None, str]:
    """The ids of a refused call as an outcome can carry them: a smartlock id that is no
    number is 0, an auth or request id that is no short text is left out."""
    lock = (
        smartlock_id if isinstance(smartlock_id, int) and not isinstance(smartlock_id, bool) else 0
    )
    auth = auth_id if isinstance(auth_id, str) and len(auth_id) <= 200 else None
    request = request_id if isinstance(request_id, str) and len(request_id) <= 200 else ""
    return lock, auth, request


def _entity_answer(
    status: OutcomeStatus, smartlock_id: int, auth_id: str, change: AuthChange, reason: str
) -> AuthOutcome:
    """An outcome the client gives for the auth's workflow, which never took the change."""
    return AuthOutcome(
        status=status,
        request_id=change.request_id,
        smartlock_id=smartlock_id,
        auth_id=auth_id,
        kind=change.kind,
        reason=reason,
        workflow_id=auth_workflow_id(smartlock_id, auth_id),
    )


async def _result(
    started: WorkflowUpdateHandle[R] | R, refused: Callable[[WorkflowUpdateFailedError], R]
) -> R:
    """The outcome of a ``start_*`` call: wait on the handle, or the refusal as it is.

    A validator's refusal can also surface only when the result is fetched, so it is converted
    here too.
    """
    if not isinstance(started, WorkflowUpdateHandle):
        return started
    try:
        result: R = await started.result()
    except WorkflowUpdateFailedError as exc:
        return refused(exc)
    return result
