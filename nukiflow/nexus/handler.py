"""nukiflow's Nexus service handler: every operation is asynchronous, backed by one small
workflow per request (:mod:`nukiflow.nexus.workflows`, :mod:`nukiflow.nexus.fleet_workflows`)
whose id derives from the request id.

A repeated request id gets the same operation and outcome, at three levels:

- Nexus retries a start with the same Nexus request id: Temporal deduplicates the start;
- another start with the same request id while the request's workflow runs attaches to it
  (``USE_EXISTING``), and its completion answers every caller;
- after it completed, the start is answered at once with that workflow's result, for as long
  as nukiflow's namespace keeps it (its retention period). A request whose workflow failed,
  was cancelled or terminated, or is no longer kept, runs again with the same request id, and
  nukiflow's entity, create and lock workflows answer it with the first outcome instead of
  sending anything twice (they remember their last 200 request ids; a create's workflow id is
  its request id).

Cancelling the operation cancels the request's workflow: see :mod:`nukiflow.nexus.workflows`
for what that stops and what it cannot.

The operations are ``temporal_operation`` handlers (the SDK marks that API experimental):
unlike a plain workflow-run operation they may answer a start synchronously, which is what the
third level needs.
"""

from __future__ import annotations

from typing import Any, TypeVar

import nexusrpc
from temporalio import nexus
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

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

T = TypeVar("T")
Context = nexus.TemporalStartOperationContext
Client = nexus.TemporalNexusClient
Result = nexus.TemporalOperationResult


async def _start(
    client: Client,
    workflow: Any,
    argument: Any,
    *,
    workflow_id: str,
    result_type: type[T],
    summary: str,
) -> Result[T]:
    """Start the request's workflow (on the worker's task queue), attach to it while it runs,
    or answer with its result once it completed."""
    try:
        started: Result[T] = await client.start_workflow(
            workflow,
            argument,
            id=workflow_id,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            # A run that failed, was cancelled or terminated is run again (its request id
            # attaches to what it handed over); a completed one answers.
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            static_summary=summary,
        )
    except WorkflowAlreadyStartedError:
        ended = client.client.get_workflow_handle(workflow_id, result_type=result_type)
        return Result.sync(await ended.result())
    return started


@nexusrpc.handler.service_handler(service=NukiflowService)
class NukiflowNexusHandler:
    """Runs in every nukiflow worker (registered by :class:`~nukiflow.plugin.NukiflowPlugin`);
    the request workflows run on the worker's task queue, the endpoint's target."""

    @nexus.temporal_operation
    async def update_auth(
        self, ctx: Context, client: Client, input: UpdateAuthInput
    ) -> Result[AuthOutcome]:
        return await _start(
            client,
            NexusAuthWorkflow.run,
            AuthCall(update=input),
            workflow_id=call_workflow_id("update", input.request_id),
            result_type=AuthOutcome,
            summary=f"update auth {input.auth_id} on smartlock {input.smartlock_id}",
        )

    @nexus.temporal_operation
    async def create_auth(
        self, ctx: Context, client: Client, input: CreateAuthInput
    ) -> Result[AuthOutcome]:
        return await _start(
            client,
            NexusAuthWorkflow.run,
            AuthCall(create=input),
            workflow_id=call_workflow_id("create", input.request_id),
            result_type=AuthOutcome,
            summary=f"create an auth on smartlock {input.smartlock_id}",
        )

    @nexus.temporal_operation
    async def create_auth_with_generated_code(
        self, ctx: Context, client: Client, input: CreateWithGeneratedCodeInput
    ) -> Result[GeneratedCodeOutcome]:
        return await _start(
            client,
            NexusGeneratedCodeWorkflow.run,
            input,
            workflow_id=call_workflow_id("create-generated", input.request_id),
            result_type=GeneratedCodeOutcome,
            summary=f"create a generated keypad code on smartlock {input.smartlock_id}",
        )

    @nexus.temporal_operation
    async def delete_auth(
        self, ctx: Context, client: Client, input: DeleteAuthInput
    ) -> Result[AuthOutcome]:
        return await _start(
            client,
            NexusAuthWorkflow.run,
            AuthCall(delete=input),
            workflow_id=call_workflow_id("delete", input.request_id),
            result_type=AuthOutcome,
            summary=f"delete auth {input.auth_id} on smartlock {input.smartlock_id}",
        )

    @nexus.temporal_operation
    async def lock_action(
        self, ctx: Context, client: Client, input: LockActionInput
    ) -> Result[ActionOutcome]:
        return await _start(
            client,
            NexusActionWorkflow.run,
            input,
            workflow_id=call_workflow_id("action", input.request_id),
            result_type=ActionOutcome,
            summary=f"{input.action.value} on smartlock {input.smartlock_id}",
        )

    @nexus.temporal_operation
    async def grant_access(
        self, ctx: Context, client: Client, input: GrantAccessInput
    ) -> Result[GrantOutcome]:
        return await _start(
            client,
            NexusGrantWorkflow.run,
            input,
            workflow_id=call_workflow_id("grant", f"{input.smartlock_id}-{input.request_id}"),
            result_type=GrantOutcome,
            summary=f"access {input.request_id} on smartlock {input.smartlock_id}",
        )

    @nexus.temporal_operation
    async def revoke_access(
        self, ctx: Context, client: Client, input: RevokeAccessInput
    ) -> Result[GrantView]:
        return await _start(
            client,
            NexusRevokeWorkflow.run,
            input,
            workflow_id=call_workflow_id("revoke", input.grant_id),
            result_type=GrantView,
            summary=f"revoke {input.grant_id}",
        )

    @nexus.temporal_operation
    async def apply_rollout(
        self, ctx: Context, client: Client, input: RolloutInput
    ) -> Result[RolloutReport]:
        return await _start(
            client,
            NexusRolloutWorkflow.run,
            input,
            workflow_id=call_workflow_id("rollout", input.request_id),
            result_type=RolloutReport,
            summary=f"rollout of {len(input.items)} items",
        )
