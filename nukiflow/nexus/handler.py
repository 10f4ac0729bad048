"""nukiflow's Nexus service handler: every operation is asynchronous, backed by one small
workflow per request (:mod:`nukiflow.nexus.workflows`) whose id derives from the request id.

Started with ``USE_EXISTING``: a repeated start (Nexus retries its start; another caller asks
with the same request id) while the request's workflow runs attaches to it, and the workflow's
completion answers every one of them. After it ended a new run asks again with the same
request id, and nukiflow's entity, create and lock workflows answer with the first outcome
instead of sending anything twice.

Cancelling the operation cancels the request's workflow (the default of workflow-run
operations): see :mod:`nukiflow.nexus.workflows` for what that stops and what it cannot.
"""

from __future__ import annotations

import nexusrpc
from temporalio import nexus
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from nukiflow.contracts.access import GrantView
from nukiflow.contracts.action import ActionOutcome
from nukiflow.contracts.auth import AuthOutcome
from nukiflow.contracts.rollout_progress import RolloutReport
from nukiflow.nexus.fleet_workflows import (
    NexusGrantWorkflow,
    NexusRevokeWorkflow,
    NexusRolloutWorkflow,
)
from nukiflow.nexus.models import (
    AuthCall,
    CreateAuthInput,
    CreateWithGeneratedCodeInput,
    DeleteAuthInput,
    GeneratedCodeOutcome,
    GrantAccessInput,
    GrantOutcome,
    LockActionInput,
    RevokeAccessInput,
    RolloutInput,
    UpdateAuthInput,
)
from nukiflow.nexus.service import NukiflowService
from nukiflow.nexus.workflows import (
    NexusActionWorkflow,
    NexusAuthWorkflow,
    NexusGeneratedCodeWorkflow,
    call_workflow_id,
)

_ATTACH = WorkflowIDConflictPolicy.USE_EXISTING
_AGAIN = WorkflowIDReusePolicy.ALLOW_DUPLICATE


@nexusrpc.handler.service_handler(service=NukiflowService)
class NukiflowNexusHandler:
    """Runs in every nukiflow worker (registered by :class:`~nukiflow.plugin.NukiflowPlugin`);
    the request workflows run on the worker's task queue, the endpoint's target."""

    @nexus.workflow_run_operation
    async def update_auth(
        self, ctx: nexus.WorkflowRunOperationContext, input: UpdateAuthInput
    ) -> nexus.WorkflowHandle[AuthOutcome]:
        return await ctx.start_workflow(
            NexusAuthWorkflow.run,
            AuthCall(update=input),
            id=call_workflow_id("update", input.request_id),
            id_conflict_policy=_ATTACH,
            id_reuse_policy=_AGAIN,
            static_summary=f"update auth {input.auth_id} on smartlock {input.smartlock_id}",
        )

    @nexus.workflow_run_operation
    async def create_auth(
        self, ctx: nexus.WorkflowRunOperationContext, input: CreateAuthInput
    ) -> nexus.WorkflowHandle[AuthOutcome]:
        return await ctx.start_workflow(
            NexusAuthWorkflow.run,
            AuthCall(create=input),
            id=call_workflow_id("create", input.request_id),
            id_conflict_policy=_ATTACH,
            id_reuse_policy=_AGAIN,
            static_summary=f"create an auth on smartlock {input.smartlock_id}",
        )

    @nexus.workflow_run_operation
    async def create_auth_with_generated_code(
        self, ctx: nexus.WorkflowRunOperationContext, input: CreateWithGeneratedCodeInput
    ) -> nexus.WorkflowHandle[GeneratedCodeOutcome]:
        return await ctx.start_workflow(
            NexusGeneratedCodeWorkflow.run,
            input,
            id=call_workflow_id("create-generated", input.request_id),
            id_conflict_policy=_ATTACH,
            id_reuse_policy=_AGAIN,
            static_summary=f"create a generated keypad code on smartlock {input.smartlock_id}",
        )

    @nexus.workflow_run_operation
    async def delete_auth(
        self, ctx: nexus.WorkflowRunOperationContext, input: DeleteAuthInput
    ) -> nexus.WorkflowHandle[AuthOutcome]:
        return await ctx.start_workflow(
            NexusAuthWorkflow.run,
            AuthCall(delete=input),
            id=call_workflow_id("delete", input.request_id),
            id_conflict_policy=_ATTACH,
            id_reuse_policy=_AGAIN,
            static_summary=f"delete auth {input.auth_id} on smartlock {input.smartlock_id}",
        )

    @nexus.workflow_run_operation
    async def lock_action(
        self, ctx: nexus.WorkflowRunOperationContext, input: LockActionInput
    ) -> nexus.WorkflowHandle[ActionOutcome]:
        return await ctx.start_workflow(
            NexusActionWorkflow.run,
            input,
            id=call_workflow_id("action", input.request_id),
            id_conflict_policy=_ATTACH,
            id_reuse_policy=_AGAIN,
            static_summary=f"{input.action.value} on smartlock {input.smartlock_id}",
        )

    @nexus.workflow_run_operation
    async def grant_access(
        self, ctx: nexus.WorkflowRunOperationContext, input: GrantAccessInput
    ) -> nexus.WorkflowHandle[GrantOutcome]:
        return await ctx.start_workflow(
            NexusGrantWorkflow.run,
            input,
            id=call_workflow_id("grant", f"{input.smartlock_id}-{input.request_id}"),
            id_conflict_policy=_ATTACH,
            id_reuse_policy=_AGAIN,
            static_summary=f"access {input.request_id} on smartlock {input.smartlock_id}",
        )

    @nexus.workflow_run_operation
    async def revoke_access(
        self, ctx: nexus.WorkflowRunOperationContext, input: RevokeAccessInput
    ) -> nexus.WorkflowHandle[GrantView]:
        return await ctx.start_workflow(
            NexusRevokeWorkflow.run,
            input,
            id=call_workflow_id("revoke", input.grant_id),
            id_conflict_policy=_ATTACH,
            id_reuse_policy=_AGAIN,
            static_summary=f"revoke {input.grant_id}",
        )

    @nexus.workflow_run_operation
    async def apply_rollout(
        self, ctx: nexus.WorkflowRunOperationContext, input: RolloutInput
    ) -> nexus.WorkflowHandle[RolloutReport]:
        return await ctx.start_workflow(
            NexusRolloutWorkflow.run,
            input,
            id=call_workflow_id("rollout", input.request_id),
            id_conflict_policy=_ATTACH,
            id_reuse_policy=_AGAIN,
            static_summary=f"rollout of {len(input.items)} items",
        )
