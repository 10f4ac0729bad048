"""The facade's lock actions: one workflow per lock runs them in order; each action is an
update of it (Update-with-Start), answered from what Temporal recorded and the lock reports."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy

from nukiflow.client.base import FacadeBase, account_priority
from nukiflow.client.outcomes import refused_action, rejected_action, result_of
from nukiflow.client.rollover import RolloverTimeout, send_update_with_start
from nukiflow.contracts.action import (
    ActionName,
    ActionOutcome,
    ActionRequest,
    ActionStatus,
    LockActionsInput,
    LockActionsView,
    lock_workflow_id,
)
from nukiflow.contracts.deadline import Deadline, DeadlineError
from nukiflow.contracts.messages import validation_message
from nukiflow.contracts.names import (
    LOCK_ACT_UPDATE,
    LOCK_ACTIONS_WORKFLOW,
    LOCK_ROLLING_OVER_ERROR,
    STATE_QUERY,
)
from nukiflow.contracts.validation import InputError, check_target


class LockActionCalls(FacadeBase):
    """Lock actions (part of :class:`~nukiflow.client.NukiFlow`)."""

    async def action(
        self,
        smartlock_id: int,
        action: ActionName | str,
        *,
        force: bool = False,
        full_lock: bool = False,
        deadline: Deadline | None = None,
        request_id: str | None = None,
        account: str | None = None,
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
            return rejected_action(smartlock_id, known, request_id, str(exc))
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
            return rejected_action(smartlock_id, known, request_id, str(exc))
        try:
            request = ActionRequest.model_validate(values)
        except ValidationError as exc:
            return rejected_action(smartlock_id, known, request_id, validation_message(exc))
        return await self.run_action(smartlock_id, request, account=account)

    async def run_action(
        self, smartlock_id: int, request: ActionRequest, *, account: str | None = None
    ) -> ActionOutcome:
        """Send one validated request through the lock's workflow (started if not running)."""
        started = await self.start_action(smartlock_id, request, account=account)
        return await result_of(started, lambda exc: refused_action(exc, smartlock_id, request))

    async def start_action(
        self, smartlock_id: int, request: ActionRequest, *, account: str | None = None
    ) -> WorkflowUpdateHandle[ActionOutcome] | ActionOutcome:
        """Queue an action and return once the lock's workflow accepted it (or the refusal).

        A request without ``deadline_at`` gets one now (from its ``deadline_seconds`` or the
        facade's default); one it carries is kept as it is.
        """
        try:
            smartlock_id = check_target(smartlock_id, request_id=request.request_id)
            account = await self._account_for(smartlock_id, account)
        except InputError as exc:
            return rejected_action(smartlock_id, request.action, request.request_id, str(exc))
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
                return rejected_action(smartlock_id, request.action, request.request_id, str(exc))
        deadline_at = request.deadline_at
        assert deadline_at is not None

        def operation() -> WithStartWorkflowOperation[Any, Any]:
            return WithStartWorkflowOperation(
                LOCK_ACTIONS_WORKFLOW,
                LockActionsInput(smartlock_id=smartlock_id, timing=self.timing, account=account),
                id=workflow_id,
                task_queue=self.workflow_queue(account),
                priority=account_priority(account),
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                static_summary=f"actions on smartlock {smartlock_id}",
            )

        try:
            async with self.starting(account):
                return await send_update_with_start(
                    self.client,
                    LOCK_ACT_UPDATE,
                    request,
                    operation=operation,
                    update_id=request.request_id,
                    rolling_over=LOCK_ROLLING_OVER_ERROR,
                    deadline_at=deadline_at,
                    wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                    result_type=ActionOutcome,
                )
        except WorkflowUpdateFailedError as exc:
            return refused_action(exc, smartlock_id, request)
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
        view: LockActionsView = await handle.query(STATE_QUERY, result_type=LockActionsView)
        return view
