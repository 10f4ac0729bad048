"""The workflows behind the Nexus operations of the fleet: an access grant (with a code the
caller gives or nukiflow generates), its revocation, and a rollout. Like the auth operations
(:mod:`nukiflow.nexus.workflows`) each is one small workflow per request whose activity goes
through the same entry points as every other caller (:class:`~nukiflow.fleet.Fleet`), so a
grant is the same ``nuki-access-<lock>-<request id>`` workflow and a rollout the same
``nuki-rollout-...`` one, attached to by a repeated request.

Cancelling: a grant keeps its course (its code is created, then revoked at the window's end;
``revoke_access`` ends it early); a revocation, once asked for, is carried out; a rollout is
cancelled (items it has not started are never started; started ones finish).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from nukiflow.contracts.access import GrantStatus, GrantView
    from nukiflow.contracts.names import (
        CODE_DISCARD_SIGNAL,
        NEXUS_GRANT_ACTIVITY,
        NEXUS_GRANT_WORKFLOW,
        NEXUS_REVOKE_ACTIVITY,
        NEXUS_REVOKE_WORKFLOW,
        NEXUS_ROLLOUT_ACTIVITY,
        NEXUS_ROLLOUT_WORKFLOW,
        RESERVE_CODE_ACTIVITY,
    )
    from nukiflow.contracts.rollout_progress import RolloutReport
    from nukiflow.nexus.models import (
        MASKED_CODE,
        GrantAccessInput,
        GrantCall,
        GrantOutcome,
        ReserveCodeInput,
        ReservedCode,
        RevokeAccessInput,
        RolloutInput,
    )
    from nukiflow.nexus.workflows import ANSWER_MARGIN, HEARTBEAT, RETRY

# A rollout may run for days; its activity asks again every round, so this only bounds a
# rollout nobody finishes.
ROLLOUT_LIMIT = timedelta(days=30)
REVOKE_LIMIT = timedelta(days=7)


def grant_vault_request(request_id: str) -> str:
    """The request id a grant's generated code is kept under (apart from creates' ids)."""
    return f"grant:{request_id}"


@workflow.defn(name=NEXUS_GRANT_WORKFLOW)
class NexusGrantWorkflow:
    """A grant through Nexus: answered once its code is on the lock (or its create failed)."""

    @workflow.run
    async def run(self, grant: GrantAccessInput) -> GrantOutcome:
        reserved: ReservedCode | None = None
        until = workflow.now() + timedelta(hours=grant.redeemable_hours)
        if grant.code is None:
            reserved = await workflow.execute_activity(
                RESERVE_CODE_ACTIVITY,
                ReserveCodeInput(
                    request_id=grant_vault_request(grant.request_id),
                    smartlock_id=grant.smartlock_id,
                    redeemable_until=until,
                ),
                result_type=ReservedCode,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RETRY,
                summary="generate the keypad code (kept for one redemption)",
            )
        code = grant.code if reserved is None else reserved.code
        view: GrantView = await workflow.execute_activity(
            NEXUS_GRANT_ACTIVITY,
            GrantCall(grant=grant, code=code),
            result_type=GrantView,
            schedule_to_close_timeout=max(grant.end - workflow.now(), timedelta(0)) + ANSWER_MARGIN,
            heartbeat_timeout=HEARTBEAT,
            retry_policy=RETRY,
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            summary=f"grant {grant.request_id} on smartlock {grant.smartlock_id}",
        )
        if reserved is None:
            return GrantOutcome(grant=view)
        if view.status is GrantStatus.FAILED or view.auth_id is None:
            await workflow.get_external_workflow_handle(reserved.handle).signal(CODE_DISCARD_SIGNAL)
            return GrantOutcome(grant=view)
        return GrantOutcome(
            grant=view,
            masked_code=MASKED_CODE,
            code_handle=reserved.handle,
            redeemable_until=until,
        )


@workflow.defn(name=NEXUS_REVOKE_WORKFLOW)
class NexusRevokeWorkflow:
    """A grant's revocation through Nexus: answered once it is verified."""

    @workflow.run
    async def run(self, revoke: RevokeAccessInput) -> GrantView:
        view: GrantView = await workflow.execute_activity(
            NEXUS_REVOKE_ACTIVITY,
            revoke,
            result_type=GrantView,
            schedule_to_close_timeout=REVOKE_LIMIT,
            heartbeat_timeout=HEARTBEAT,
            retry_policy=RETRY,
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            summary=f"revoke {revoke.grant_id}",
        )
        return view


@workflow.defn(name=NEXUS_ROLLOUT_WORKFLOW)
class NexusRolloutWorkflow:
    """A rollout through Nexus: answered with its report once it ended."""

    @workflow.run
    async def run(self, rollout: RolloutInput) -> RolloutReport:
        report: RolloutReport = await workflow.execute_activity(
            NEXUS_ROLLOUT_ACTIVITY,
            rollout,
            result_type=RolloutReport,
            schedule_to_close_timeout=ROLLOUT_LIMIT,
            heartbeat_timeout=HEARTBEAT,
            retry_policy=RETRY,
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            summary=f"rollout of {len(rollout.items)} items",
        )
        return report


def nexus_fleet_workflows() -> list[type]:
    return [NexusGrantWorkflow, NexusRevokeWorkflow, NexusRolloutWorkflow]
