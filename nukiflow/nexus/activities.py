"""The activities behind nukiflow's Nexus workflows: each hands one request to the facade
(the same Update-with-Start into the auth's or the lock's workflow every caller uses) and waits
for its outcome while heartbeating; and the one that generates a keypad code and keeps it in
its vault before anything is sent.

The models a caller's payload was decoded into are rebuilt here from Python values, so the
same validation as the facade's applies (ids, keypad code rules, names, unknown fields of a
patch): bad input is answered ``rejected``, naming the field, and never enters an entity.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

from pydantic import ValidationError
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import (
    ApplicationError,
    ApplicationErrorCategory,
    WorkflowAlreadyStartedError,
)
from temporalio.service import RPCError, RPCStatusCode

from nukiflow.activities.fleet_activities import while_heartbeating
from nukiflow.client.outcomes import rejected_action, rejected_change
from nukiflow.contracts.action import ActionOutcome, ActionRequest
from nukiflow.contracts.auth import (
    AuthChange,
    AuthOutcome,
    AuthPatch,
    ChangeKind,
    CreateAuthRequest,
    OutcomeStatus,
    check_keypad_code,
)
from nukiflow.contracts.entity import create_workflow_id
from nukiflow.contracts.messages import validation_message
from nukiflow.contracts.names import (
    CODE_VAULT_WORKFLOW,
    NEXUS_ACTION_ACTIVITY,
    NEXUS_AUTH_ACTIVITY,
    RESERVE_CODE_ACTIVITY,
)
from nukiflow.nexus.models import (
    AuthCall,
    DeleteAuthInput,
    LockActionInput,
    ReserveCodeInput,
    ReservedCode,
    UpdateAuthInput,
    VaultInput,
)
from nukiflow.nexus.workflows import WAIT_ROUND, code_vault_id

if TYPE_CHECKING:
    from nukiflow.client import NukiFlow

T = TypeVar("T")

# Heartbeats while an outcome is awaited (the workflows' heartbeat timeout is 10 s).
HEARTBEAT_EVERY = 2.0
STILL_PENDING = "NexusRequestPending"


def generate_keypad_code() -> int:
    """A keypad code Nuki accepts (6 digits 1-9, not starting with 12), from the OS's CSPRNG."""
    while True:
        code = int("".join(secrets.choice("123456789") for _ in range(6)))
        try:
            return check_keypad_code(code)
        except ValueError:
            continue


async def waited(call: Awaitable[T], request_id: str) -> T:
    try:
        return await while_heartbeating(
            call, HEARTBEAT_EVERY, give_up_after=WAIT_ROUND.total_seconds()
        )
    except TimeoutError:
        # Free the slot; the retry asks again with the same request id and attaches.
        raise ApplicationError(
            f"request {request_id} is still in progress; asking again later",
            type=STILL_PENDING,
            category=ApplicationErrorCategory.BENIGN,
        ) from None


class NexusActivities:
    """Owns the facade (the worker's own client and task queue)."""

    def __init__(self, flow: NukiFlow) -> None:
        self._flow = flow

    @activity.defn(name=NEXUS_AUTH_ACTIVITY)
    async def apply_auth(self, call: AuthCall) -> AuthOutcome:
        """Hand one update, delete or create to its auth's workflow and return the outcome."""
        if call.create is not None:
            return await self._create(call)
        target: UpdateAuthInput | DeleteAuthInput
        if call.update is not None:
            target = call.update
            kind = ChangeKind.UPDATE
        else:
            assert call.delete is not None
            target = call.delete
            kind = ChangeKind.DELETE
        try:
            patch = None
            if call.update is not None:
                patch = AuthPatch.model_validate(call.update.patch.model_dump(exclude_unset=True))
            change = AuthChange(
                request_id=target.request_id, kind=kind, patch=patch, deadline_at=target.deadline_at
            )
        except ValidationError as exc:
            reason = validation_message(exc)
            return rejected_change(
                target.smartlock_id, target.auth_id, target.request_id, reason, kind
            )
        return await waited(
            self._flow.change_auth(target.smartlock_id, target.auth_id, change), target.request_id
        )

    async def _create(self, call: AuthCall) -> AuthOutcome:
        create = call.create
        assert create is not None
        if call.generated and create.code is None:
            # The generated code's vault ended (redeemed, discarded or expired): only a create
            # that already used it can answer.
            return await self._earlier_create(create.smartlock_id, create.request_id)
        fields = create.model_dump(exclude_none=True)
        try:
            request = CreateAuthRequest.model_validate(fields)
        except ValidationError as exc:
            return rejected_change(
                create.smartlock_id,
                None,
                create.request_id,
                validation_message(exc),
                ChangeKind.CREATE,
            )
        return await waited(self._flow.create(request), create.request_id)

    async def _earlier_create(self, smartlock_id: int, request_id: str) -> AuthOutcome:
        handle = self._flow.client.get_workflow_handle(
            create_workflow_id(smartlock_id, request_id), result_type=AuthOutcome
        )
        try:
            await handle.describe()
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise
            return AuthOutcome(
                status=OutcomeStatus.FAILED,
                request_id=request_id,
                smartlock_id=smartlock_id,
                kind=ChangeKind.CREATE,
                reason="the code generated for this request id is no longer kept (redeemed, "
                "discarded or expired) and no create used it: nothing was sent; ask with a "
                "new request id",
            )
        return await waited(handle.result(), request_id)

    @activity.defn(name=NEXUS_ACTION_ACTIVITY)
    async def apply_action(self, request: LockActionInput) -> ActionOutcome:
        """Hand one action to the lock's workflow and return its outcome."""
        try:
            action = ActionRequest.model_validate(request.model_dump(exclude={"smartlock_id"}))
        except ValidationError as exc:
            return rejected_action(
                request.smartlock_id, request.action, request.request_id, validation_message(exc)
            )
        return await waited(self._flow.run_action(request.smartlock_id, action), request.request_id)

    @activity.defn(name=RESERVE_CODE_ACTIVITY)
    async def reserve_code(self, reserve: ReserveCodeInput) -> ReservedCode:
        """The code kept for this request id: generated and put in a new vault, or read from
        the vault an earlier attempt or run started (``None`` once that vault ended)."""
        vault_id = code_vault_id(reserve.smartlock_id, reserve.request_id)
        client = self._flow.client
        try:
            handle = await client.start_workflow(
                CODE_VAULT_WORKFLOW,
                VaultInput(
                    smartlock_id=reserve.smartlock_id,
                    request_id=reserve.request_id,
                    code=generate_keypad_code(),
                    redeemable_until=reserve.redeemable_until,
                ),
                id=vault_id,
                task_queue=activity.info().task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=f"generated keypad code for smartlock {reserve.smartlock_id}",
            )
        except WorkflowAlreadyStartedError:
            return ReservedCode(handle=vault_id)
        # The vault may be one an earlier attempt started: its code is its input.
        description = await handle.describe()
        if description.status is not WorkflowExecutionStatus.RUNNING:
            return ReservedCode(handle=vault_id)
        async for event in handle.fetch_history_events():
            attributes = event.workflow_execution_started_event_attributes
            [vault] = await client.data_converter.decode(attributes.input.payloads, [VaultInput])
            assert isinstance(vault, VaultInput)
            return ReservedCode(handle=vault_id, code=vault.code)
        raise RuntimeError(f"the vault {vault_id} has no history")  # pragma: no cover

    def activities(self) -> list[object]:
        return [self.apply_auth, self.apply_action, self.reserve_code]
