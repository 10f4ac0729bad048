"""The workflows behind nukiflow's Nexus operations (deterministic, no I/O).

Each Nexus request runs as one small workflow whose id derives from the caller's request id
(:func:`call_workflow_id`). It hands the change to the same path every other caller uses, the
auth's entity workflow (Update-with-Start into ``nuki-auth-<lock>-<auth>``), the create
workflow or the lock's workflow, through one activity that calls the facade, and returns the
facade's outcome: a workflow cannot do Update-with-Start itself (like a rollout's items).

Retries: the activity sends the caller's request id every time, so a retried attempt, a second
run for the same request id, or a repeated Nexus start attaches to the change the first one
handed over; the entity, the create workflow and the lock workflow remember request ids.

Cancellation (the caller cancels the Nexus operation): this workflow is cancelled and so is
its activity. A change or action not yet handed over is never sent; one already accepted by
the auth's or the lock's workflow goes on to its verdict there (cancelling never un-sends and
never pulls a change out of the line it joined). Ask again with the same request id to learn
that verdict.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from nukiflow.contracts.action import MAX_DEADLINE, ActionOutcome, ActionStatus
    from nukiflow.contracts.auth import (
        MAX_CHANGE_DEADLINE,
        AuthOutcome,
        ChangeKind,
        OutcomeStatus,
    )
    from nukiflow.contracts.names import (
        CODE_DISCARD_SIGNAL,
        CODE_NOT_REDEEMABLE_ERROR,
        CODE_REDEEM_UPDATE,
        CODE_VAULT_WORKFLOW,
        NEXUS_ACTION_ACTIVITY,
        NEXUS_ACTION_WORKFLOW,
        NEXUS_AUTH_ACTIVITY,
        NEXUS_AUTH_WORKFLOW,
        NEXUS_GENERATED_CODE_WORKFLOW,
        RESERVE_CODE_ACTIVITY,
    )
    from nukiflow.nexus.models import (
        MASKED_CODE,
        AuthCall,
        CreateAuthInput,
        CreateWithGeneratedCodeInput,
        GeneratedCodeOutcome,
        LockActionInput,
        RedeemedCode,
        ReserveCodeInput,
        ReservedCode,
        VaultInput,
    )

# The activity waits for the outcome in rounds of this length, then frees its slot and asks
# again (same request id: it attaches), so a lock offline for hours holds no worker slot.
WAIT_ROUND = timedelta(minutes=5)
HEARTBEAT = timedelta(seconds=10)
# How long past its deadline a change or action may take to be answered: an action's outcome
# comes up to a grace period after its deadline (confirmation from the log).
ANSWER_MARGIN = timedelta(minutes=5)
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))


def call_workflow_id(operation: str, request_id: str) -> str:
    """The workflow of one Nexus request: one per operation and request id."""
    return f"nuki-nexus-{operation}-{request_id}"


def code_vault_id(smartlock_id: int, request_id: str) -> str:
    """The vault of the code generated for one create (its handle)."""
    return f"nuki-code-{smartlock_id}-{request_id}"


def _too_far(deadline_ahead: timedelta, maximum: timedelta) -> str | None:
    if deadline_ahead > maximum:
        return f"deadline_at is more than {maximum.total_seconds() / 3600:g} h ahead"
    return None


def _rejected_auth(call: AuthCall, reason: str) -> AuthOutcome:
    inner = call.update or call.delete or call.create
    assert inner is not None
    kind = ChangeKind.CREATE
    if call.update is not None:
        kind = ChangeKind.UPDATE
    elif call.delete is not None:
        kind = ChangeKind.DELETE
    return AuthOutcome(
        status=OutcomeStatus.REJECTED,
        request_id=inner.request_id,
        smartlock_id=inner.smartlock_id,
        auth_id=getattr(inner, "auth_id", None),
        kind=kind,
        reason=reason,
    )


async def _apply_auth(call: AuthCall) -> AuthOutcome:
    inner = call.update or call.delete or call.create
    assert inner is not None
    ahead = inner.deadline_at - workflow.now()
    too_far = _too_far(ahead, MAX_CHANGE_DEADLINE)
    if too_far is not None:
        return _rejected_auth(call, too_far)
    # A deadline that passed is handed over as it is: the entity answers a change it already
    # took with its outcome, and any other failed, never written.
    outcome: AuthOutcome = await workflow.execute_activity(
        NEXUS_AUTH_ACTIVITY,
        call,
        result_type=AuthOutcome,
        schedule_to_close_timeout=max(ahead, timedelta(0)) + ANSWER_MARGIN,
        heartbeat_timeout=HEARTBEAT,
        retry_policy=RETRY,
        cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        summary=f"request {inner.request_id} through nukiflow's auth workflows",
    )
    return outcome


@workflow.defn(name=NEXUS_AUTH_WORKFLOW)
class NexusAuthWorkflow:
    """One auth update, create or delete asked for through Nexus."""

    @workflow.run
    async def run(self, call: AuthCall) -> AuthOutcome:
        return await _apply_auth(call)


@workflow.defn(name=NEXUS_ACTION_WORKFLOW)
class NexusActionWorkflow:
    """One lock action asked for through Nexus."""

    @workflow.run
    async def run(self, request: LockActionInput) -> ActionOutcome:
        ahead = request.deadline_at - workflow.now()
        too_far = _too_far(ahead, MAX_DEADLINE)
        if too_far is not None:
            return ActionOutcome(
                status=ActionStatus.REJECTED,
                request_id=request.request_id,
                smartlock_id=request.smartlock_id,
                action=request.action,
                reason=too_far,
            )
        outcome: ActionOutcome = await workflow.execute_activity(
            NEXUS_ACTION_ACTIVITY,
            request,
            result_type=ActionOutcome,
            schedule_to_close_timeout=max(ahead, timedelta(0)) + ANSWER_MARGIN,
            heartbeat_timeout=HEARTBEAT,
            retry_policy=RETRY,
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            summary=f"{request.action.value} on smartlock {request.smartlock_id}",
        )
        return outcome


@workflow.defn(name=NEXUS_GENERATED_CODE_WORKFLOW)
class NexusGeneratedCodeWorkflow:
    """A keypad code auth whose code nukiflow generates and keeps for one redemption.

    The code is generated once per request id and kept in a vault workflow
    (:class:`CodeVaultWorkflow`, id :func:`code_vault_id`, which is the handle) before the
    create is sent, so a second run for the same request id creates with the same code (or
    attaches to the create that used it). The caller's outcome carries the handle and a mask.
    """

    @workflow.run
    async def run(self, request: CreateWithGeneratedCodeInput) -> GeneratedCodeOutcome:
        ahead = request.deadline_at - workflow.now()
        too_far = _too_far(ahead, MAX_CHANGE_DEADLINE)
        if too_far is not None:
            call = AuthCall(create=CreateAuthInput(code=None, **_new_auth_fields(request)))
            return GeneratedCodeOutcome(outcome=_rejected_auth(call, too_far))
        until = workflow.now() + timedelta(hours=request.redeemable_hours)
        reserved: ReservedCode = await workflow.execute_activity(
            RESERVE_CODE_ACTIVITY,
            ReserveCodeInput(
                request_id=request.request_id,
                smartlock_id=request.smartlock_id,
                redeemable_until=until,
            ),
            result_type=ReservedCode,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
            summary="generate the keypad code (kept for one redemption)",
        )
        create = CreateAuthInput(code=reserved.code, **_new_auth_fields(request))
        outcome = await _apply_auth(AuthCall(create=create, generated=True))
        vault = workflow.get_external_workflow_handle(reserved.handle)
        if outcome.status is not OutcomeStatus.APPLIED:
            # No auth holds the code: nothing to redeem.
            await vault.signal(CODE_DISCARD_SIGNAL)
            return GeneratedCodeOutcome(outcome=outcome)
        return GeneratedCodeOutcome(
            outcome=outcome,
            masked_code=MASKED_CODE,
            code_handle=reserved.handle,
            redeemable_until=until,
        )


def _new_auth_fields(request: CreateWithGeneratedCodeInput) -> dict[str, object]:
    return request.model_dump(exclude={"redeemable_hours"})


@workflow.defn(name=CODE_VAULT_WORKFLOW)
class CodeVaultWorkflow:
    """Keeps one generated code (encrypted in nukiflow's history like every payload) until it
    is redeemed once, discarded, or its time is up; then it ends and answers no more."""

    def __init__(self) -> None:
        self._code: int | None = None
        self._vault: VaultInput | None = None
        self._done = False

    @workflow.run
    async def run(self, vault: VaultInput) -> None:
        self._vault = vault
        self._code = vault.code
        left = (vault.redeemable_until - workflow.now()).total_seconds()
        if left > 0:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._done, timeout=left)
        self._done = True
        self._code = None
        await workflow.wait_condition(workflow.all_handlers_finished)

    @workflow.signal(name=CODE_DISCARD_SIGNAL)
    def discard(self) -> None:
        self._done = True

    @workflow.update(name=CODE_REDEEM_UPDATE)
    def redeem(self) -> RedeemedCode:
        assert self._code is not None and self._vault is not None
        code = self._code
        self._done = True
        self._code = None
        return RedeemedCode(
            code=code, smartlock_id=self._vault.smartlock_id, request_id=self._vault.request_id
        )

    @redeem.validator
    def _redeemable(self) -> None:
        if self._done or self._code is None:
            raise ApplicationError(
                "this code was redeemed already, discarded, or its time is up",
                type=CODE_NOT_REDEEMABLE_ERROR,
            )


def nexus_workflows() -> list[type]:
    """The workflows a nukiflow worker runs for its Nexus service."""
    return [NexusAuthWorkflow, NexusActionWorkflow, NexusGeneratedCodeWorkflow, CodeVaultWorkflow]


__all__ = [
    "CodeVaultWorkflow",
    "NexusActionWorkflow",
    "NexusAuthWorkflow",
    "NexusGeneratedCodeWorkflow",
    "call_workflow_id",
    "code_vault_id",
    "nexus_workflows",
]
