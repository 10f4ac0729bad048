"""The answers the facade gives itself, without a workflow's outcome: refusals of bad input,
a workflow's refusal of a change, and a change the auth's workflow never took."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateHandle

from nukiflow.client.rollover import refusal_message
from nukiflow.contracts.action import (
    ActionName,
    ActionOutcome,
    ActionRequest,
    ActionStatus,
    lock_workflow_id,
)
from nukiflow.contracts.auth import AuthChange, AuthOutcome, ChangeKind, OutcomeStatus
from nukiflow.contracts.entity import auth_workflow_id
from nukiflow.contracts.names import AUTH_DELETED_ERROR

R = TypeVar("R")


def as_given(
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


def rejected_change(
    smartlock_id: object,
    auth_id: object,
    request_id: object,
    reason: str,
    kind: ChangeKind = ChangeKind.UPDATE,
) -> AuthOutcome:
    """A change (or create) refused for bad input before it reached Temporal."""
    shown_lock, shown_auth, shown_request = as_given(smartlock_id, auth_id, request_id)
    return AuthOutcome(
        status=OutcomeStatus.REJECTED,
        request_id=shown_request,
        smartlock_id=shown_lock,
        auth_id=shown_auth,
        kind=kind,
        reason=reason,
    )


def refused_change(
    exc: WorkflowUpdateFailedError,
    smartlock_id: int,
    auth_id: str,
    request_id: str,
    kind: ChangeKind = ChangeKind.UPDATE,
) -> AuthOutcome:
    """A change the auth's workflow refused: rejected, or failed if the auth is deleted."""
    refusal, message = refusal_message(exc)
    status = OutcomeStatus.FAILED if refusal == AUTH_DELETED_ERROR else OutcomeStatus.REJECTED
    return AuthOutcome(
        status=status,
        request_id=request_id,
        smartlock_id=smartlock_id,
        auth_id=auth_id,
        kind=kind,
        reason=message,
        workflow_id=auth_workflow_id(smartlock_id, auth_id),
    )


def entity_answer(
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


def rejected_action(
    smartlock_id: object, action: ActionName | None, request_id: object, reason: str
) -> ActionOutcome:
    """An action refused for bad input before it reached Temporal."""
    shown_lock, _, shown_request = as_given(smartlock_id, None, request_id)
    return ActionOutcome(
        status=ActionStatus.REJECTED,
        request_id=shown_request,
        smartlock_id=shown_lock,
        action=action,
        reason=reason,
    )


def refused_action(
    exc: WorkflowUpdateFailedError, smartlock_id: int, request: ActionRequest
) -> ActionOutcome:
    """An action the lock's workflow refused (rejected, with its reason)."""
    _, message = refusal_message(exc)
    outcome = rejected_action(smartlock_id, request.action, request.request_id, message)
    outcome.workflow_id = lock_workflow_id(smartlock_id)
    return outcome


async def result_of(
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
