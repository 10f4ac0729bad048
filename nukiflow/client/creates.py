"""The facade's creates: one workflow per create, its id derived from the request id, so a
retry attaches to the create it started instead of creating twice."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from nukiflow.client.base import FacadeBase, account_priority
from nukiflow.client.outcomes import rejected_change
from nukiflow.contracts import search_attributes as sa
from nukiflow.contracts.auth import AuthOutcome, ChangeKind, CreateAuthRequest
from nukiflow.contracts.deadline import Deadline, DeadlineError
from nukiflow.contracts.entity import (
    AuthCreateInput,
    DriftPolicy,
    EntityStatus,
    create_workflow_id,
)
from nukiflow.contracts.messages import validation_message
from nukiflow.contracts.names import AUTH_CREATE_FAILED_ERROR, AUTH_CREATE_WORKFLOW
from nukiflow.contracts.validation import InputError, check_target


def failed_create_outcome(err: WorkflowFailureError) -> AuthOutcome | None:
    """The outcome a create that failed carries in its failure (None: it failed otherwise)."""
    cause = err.cause
    if not isinstance(cause, ApplicationError) or cause.type != AUTH_CREATE_FAILED_ERROR:
        return None
    if not cause.details:
        return None
    return AuthOutcome.model_validate(cause.details[0])


class CreateHandle(WorkflowHandle[Any, AuthOutcome]):
    """A create's workflow handle whose ``result()`` is the create's outcome, failed ones
    included (the run of a create that failed fails, its outcome in the failure)."""

    @classmethod
    def of(cls, handle: WorkflowHandle[Any, AuthOutcome]) -> CreateHandle:
        return cls(
            handle._client,
            handle.id,
            run_id=handle.run_id,
            result_run_id=handle.result_run_id,
            first_execution_run_id=handle.first_execution_run_id,
            result_type=AuthOutcome,
        )

    async def result(
        self,
        *,
        follow_runs: bool = True,
        rpc_metadata: Mapping[str, str | bytes] = {},
        rpc_timeout: timedelta | None = None,
    ) -> AuthOutcome:
        try:
            return await super().result(
                follow_runs=follow_runs, rpc_metadata=rpc_metadata, rpc_timeout=rpc_timeout
            )
        except WorkflowFailureError as err:
            outcome = failed_create_outcome(err)
            if outcome is None:
                raise
            return outcome


class AuthCreateCalls(FacadeBase):
    """Creates of new auths (part of :class:`~nukiflow.client.NukiFlow`)."""

    async def create_auth(
        self,
        smartlock_id: int,
        *,
        name: str,
        request_id: str | None = None,
        deadline: Deadline | None = None,
        drift_policy: DriftPolicy | str | None = None,
        account: str | None = None,
        **fields: Any,
    ) -> AuthOutcome:
        """Create an auth exactly once (retry with the same ``request_id`` to attach);
        ``deadline`` as for :meth:`update_auth`; ``drift_policy`` is the new auth's (default:
        this facade's, ``NUKIFLOW_DRIFT_POLICY``)."""
        handle = await self.start_create_auth(
            smartlock_id,
            name=name,
            request_id=request_id,
            deadline=deadline,
            drift_policy=drift_policy,
            account=account,
            **fields,
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
        drift_policy: DriftPolicy | str | None = None,
        account: str | None = None,
        **fields: Any,
    ) -> WorkflowHandle[Any, AuthOutcome] | AuthOutcome:
        """Start a create; returns its handle, or the rejected outcome for bad input."""
        request_id = request_id or uuid.uuid4().hex
        try:
            smartlock_id = check_target(smartlock_id, request_id=request_id)
        except InputError as exc:
            return rejected_change(smartlock_id, None, request_id, str(exc), ChangeKind.CREATE)
        try:
            policy = None if drift_policy is None else DriftPolicy(drift_policy)
        except ValueError:
            choices = ", ".join(p.value for p in DriftPolicy)
            reason = f"drift_policy: {drift_policy!r} is not one of {choices}"
            return rejected_change(smartlock_id, None, request_id, reason, ChangeKind.CREATE)
        try:
            request = CreateAuthRequest(
                request_id=request_id,
                smartlock_id=smartlock_id,
                name=name,
                deadline_at=self._auth_deadline_at(deadline),
                **fields,
            )
        except ValidationError as exc:
            return rejected_change(smartlock_id, None, request_id, validation_message(exc))
        except DeadlineError as exc:
            return rejected_change(smartlock_id, None, request_id, str(exc))
        return await self.start_create(request, drift_policy=policy, account=account)

    async def create(
        self,
        request: CreateAuthRequest,
        *,
        drift_policy: DriftPolicy | None = None,
        account: str | None = None,
    ) -> AuthOutcome:
        """Create the auth a validated request describes (see :meth:`start_create`)."""
        handle = await self.start_create(request, drift_policy=drift_policy, account=account)
        if isinstance(handle, AuthOutcome):
            return handle
        return await handle.result()

    async def start_create(
        self,
        request: CreateAuthRequest,
        *,
        drift_policy: DriftPolicy | None = None,
        account: str | None = None,
    ) -> WorkflowHandle[Any, AuthOutcome] | AuthOutcome:
        """Start the create a validated request describes, or attach to the one its request
        id started. The new auth's entity takes ``drift_policy`` (default: this facade's). A
        request without ``deadline_at`` gets one now; one it carries is kept, also when it has
        passed (the create then fails without sending anything)."""
        smartlock_id, request_id = request.smartlock_id, request.request_id
        try:
            account = await self._account_for(smartlock_id, account)
        except InputError as exc:
            return rejected_change(smartlock_id, None, request_id, str(exc), ChangeKind.CREATE)
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
                return rejected_change(smartlock_id, None, request_id, str(exc))
        workflow_id = create_workflow_id(smartlock_id, request_id)
        try:
            async with self.starting(account):
                handle = await self.client.start_workflow(
                    AUTH_CREATE_WORKFLOW,
                    AuthCreateInput(
                        request=request,
                        timing=self.timing,
                        max_rewrites=self.max_rewrites,
                        drift_policy=drift_policy or self.drift_policy,
                        account=account,
                        attributes_at_start=True,
                    ),
                    id=workflow_id,
                    # Shown from its first moment, and no history event spent upserting them.
                    search_attributes=sa.at_start(
                        sa.create_attributes(smartlock_id, EntityStatus.APPLYING.value, account)
                    ),
                    task_queue=self.workflow_queue(account),
                    priority=account_priority(account),
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    static_summary=create_summary(request),
                    result_type=AuthOutcome,
                )
        except WorkflowAlreadyStartedError:
            # The same request id ran before: attach to its result, never create twice.
            return CreateHandle.of(
                self.client.get_workflow_handle(workflow_id, result_type=AuthOutcome)
            )
        return CreateHandle.of(handle)


def create_summary(request: CreateAuthRequest) -> str:
    """The create's static summary: what is created, in words (never the code)."""
    what = "keypad code" if request.code is not None else "auth"
    return f"create {what} {request.name!r} on smartlock {request.smartlock_id}"
