"""The Python face of nukiflow: change authorizations through their entity workflows.

Every call returns an :class:`~nukiflow.models.auth.AuthOutcome`: applied (verified), superseded,
rejected (bad input, refused before it reaches Temporal) or failed (with the reason).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from nukiflow.connect import connect_temporal
from nukiflow.models.auth import (
    AuthChange,
    AuthOutcome,
    AuthPatch,
    ChangeKind,
    CreateAuthRequest,
    OutcomeStatus,
)
from nukiflow.models.entity import (
    AuthCreateInput,
    AuthEntityInput,
    AuthEntityView,
    auth_workflow_id,
    create_workflow_id,
)
from nukiflow.models.timing import WorkflowTiming
from nukiflow.settings import Settings
from workflows.auth_create import AuthCreateWorkflow
from workflows.auth_entity import DELETED, ROLLING_OVER, AuthEntityWorkflow

# An entity that is continuing-as-new refuses changes for a moment; how long to keep trying.
ROLLOVER_RETRY_DELAY = 0.1
ROLLOVER_RETRY_LIMIT = 100


def validation_message(error: ValidationError) -> str:
    """A pydantic error as one readable line, without echoing the input values."""
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in item["loc"] if p != "__root__")
        message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


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
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        self.timing = timing or WorkflowTiming()
        self.max_rewrites = max_rewrites
        self.auth_deadline = auth_deadline

    @classmethod
    async def connect(cls, settings: Settings | None = None) -> NukiFlow:
        settings = settings or Settings()
        client = await connect_temporal(settings)
        return cls(
            client,
            task_queue=settings.task_queue,
            max_rewrites=settings.max_rewrites,
            auth_deadline=settings.auth_change_deadline,
        )

    # -- authorizations -----------------------------------------------------------------

    async def update_auth(
        self,
        smartlock_id: int,
        auth_id: str,
        patch: AuthPatch | Mapping[str, Any],
        *,
        request_id: str | None = None,
        deadline: timedelta | None = None,
    ) -> AuthOutcome:
        """Change some fields of an auth; the others keep their value."""
        request_id = request_id or uuid.uuid4().hex
        try:
            if not isinstance(patch, AuthPatch):
                patch = AuthPatch.model_validate(patch)
            change = AuthChange(
                request_id=request_id,
                kind=ChangeKind.UPDATE,
                patch=patch,
                deadline_seconds=(deadline or self.auth_deadline).total_seconds(),
            )
        except ValidationError as exc:
            return self._rejected(smartlock_id, auth_id, request_id, validation_message(exc))
        return await self.change_auth(smartlock_id, auth_id, change)

    async def delete_auth(
        self,
        smartlock_id: int,
        auth_id: str,
        *,
        request_id: str | None = None,
        deadline: timedelta | None = None,
    ) -> AuthOutcome:
        change = AuthChange(
            request_id=request_id or uuid.uuid4().hex,
            kind=ChangeKind.DELETE,
            deadline_seconds=(deadline or self.auth_deadline).total_seconds(),
        )
        return await self.change_auth(smartlock_id, auth_id, change)

    async def change_auth(self, smartlock_id: int, auth_id: str, change: AuthChange) -> AuthOutcome:
        """Send one change through the auth's entity (started if it is not running)."""
        for _ in range(ROLLOVER_RETRY_LIMIT):
            operation = WithStartWorkflowOperation(
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
                static_summary=f"auth {auth_id} on smartlock {smartlock_id}",
            )
            try:
                return await self.client.execute_update_with_start_workflow(
                    AuthEntityWorkflow.change,
                    change,
                    start_workflow_operation=operation,
                    id=change.request_id,
                )
            except WorkflowUpdateFailedError as exc:
                cause = exc.cause
                if isinstance(cause, ApplicationError) and cause.type == ROLLING_OVER:
                    await asyncio.sleep(ROLLOVER_RETRY_DELAY)
                    continue
                message = getattr(cause, "message", None) or str(cause)
                if isinstance(cause, ApplicationError) and cause.type == DELETED:
                    return self._outcome(
                        OutcomeStatus.FAILED, smartlock_id, auth_id, change, message
                    )
                return self._outcome(OutcomeStatus.REJECTED, smartlock_id, auth_id, change, message)
            except RPCError as exc:
                # The server aborts an update that races a run closing (continue-as-new).
                if "closing workflow" in str(exc) or "aborted" in str(exc):
                    await asyncio.sleep(ROLLOVER_RETRY_DELAY)
                    continue
                raise
        raise RuntimeError(f"auth {auth_id}'s workflow kept refusing the change; try again")

    async def create_auth(
        self,
        smartlock_id: int,
        *,
        name: str,
        request_id: str | None = None,
        deadline: timedelta | None = None,
        **fields: Any,
    ) -> AuthOutcome:
        """Create an auth exactly once (retry with the same ``request_id`` to attach)."""
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
        deadline: timedelta | None = None,
        **fields: Any,
    ) -> WorkflowHandle[Any, AuthOutcome] | AuthOutcome:
        """Start a create; returns its handle, or the rejected outcome for bad input."""
        request_id = request_id or uuid.uuid4().hex
        try:
            request = CreateAuthRequest(
                request_id=request_id,
                smartlock_id=smartlock_id,
                name=name,
                deadline_seconds=(deadline or self.auth_deadline).total_seconds(),
                **fields,
            )
        except ValidationError as exc:
            return self._rejected(smartlock_id, None, request_id, validation_message(exc))
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
                static_summary=f"create auth {name!r} on smartlock {smartlock_id}",
            )
        except WorkflowAlreadyStartedError:
            # The same request id ran before: attach to its result, never create twice.
            return self.client.get_workflow_handle(workflow_id, result_type=AuthOutcome)

    async def auth_state(self, smartlock_id: int, auth_id: str) -> AuthEntityView:
        handle = self.client.get_workflow_handle(auth_workflow_id(smartlock_id, auth_id))
        return await handle.query(AuthEntityWorkflow.state)

    # -- helpers ------------------------------------------------------------------------

    def _rejected(
        self, smartlock_id: int, auth_id: str | None, request_id: str, reason: str
    ) -> AuthOutcome:
        return AuthOutcome(
            status=OutcomeStatus.REJECTED,
            request_id=request_id,
            smartlock_id=smartlock_id,
            auth_id=auth_id,
            reason=reason,
        )

    def _outcome(
        self,
        status: OutcomeStatus,
        smartlock_id: int,
        auth_id: str,
        change: AuthChange,
        reason: str,
    ) -> AuthOutcome:
        return AuthOutcome(
            status=status,
            request_id=change.request_id,
            smartlock_id=smartlock_id,
            auth_id=auth_id,
            kind=change.kind,
            reason=reason,
            workflow_id=auth_workflow_id(smartlock_id, auth_id),
        )
