"""The facade's creates: one workflow per create, its id derived from the request id, so a
retry attaches to the create it started instead of creating twice."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from temporalio.client import WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from nukiflow.client.base import FacadeBase, account_priority
from nukiflow.client.outcomes import rejected_change
from nukiflow.contracts.auth import AuthOutcome, ChangeKind, CreateAuthRequest
from nukiflow.contracts.deadline import Deadline, DeadlineError
from nukiflow.contracts.entity import AuthCreateInput, DriftPolicy, create_workflow_id
from nukiflow.contracts.messages import validation_message
from nukiflow.contracts.names import AUTH_CREATE_WORKFLOW
from nukiflow.contracts.validation import InputError, check_target


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
                return await self.client.start_workflow(
                    AUTH_CREATE_WORKFLOW,
                    AuthCreateInput(
                        request=request,
                        timing=self.timing,
                        max_rewrites=self.max_rewrites,
                        drift_policy=drift_policy or self.drift_policy,
                        account=account,
                    ),
                    id=workflow_id,
                    task_queue=self.workflow_queue(account),
                    priority=account_priority(account),
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    static_summary=f"create auth {request.name!r} on smartlock {smartlock_id}",
                    result_type=AuthOutcome,
                )
        except WorkflowAlreadyStartedError:
            # The same request id ran before: attach to its result, never create twice.
            return self.client.get_workflow_handle(workflow_id, result_type=AuthOutcome)
