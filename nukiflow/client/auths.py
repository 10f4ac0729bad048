"""The facade's auth changes: update, delete or any change through the auth's entity workflow,
started when it is not running (Update-with-Start), and what the entity knows of them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from nukiflow.client.base import FacadeBase, account_priority
from nukiflow.client.outcomes import entity_answer, refused_change, rejected_change, result_of
from nukiflow.client.rollover import RolloverTimeout, send_update_with_start
from nukiflow.contracts import search_attributes as sa
from nukiflow.contracts.auth import (
    AuthChange,
    AuthOutcome,
    AuthPatch,
    ChangeKind,
    OutcomeRequest,
    OutcomeStatus,
)
from nukiflow.contracts.deadline import Deadline, DeadlineError
from nukiflow.contracts.entity import (
    AuthEntityInput,
    AuthEntityResult,
    AuthEntityView,
    DriftPolicy,
    DriftPolicyRequest,
    EntityStatus,
    auth_workflow_id,
)
from nukiflow.contracts.messages import validation_message
from nukiflow.contracts.names import (
    AUTH_CHANGE_UPDATE,
    AUTH_DRIFT_POLICY_UPDATE,
    AUTH_ENTITY_WORKFLOW,
    AUTH_OUTCOME_UPDATE,
    ENTITY_ROLLING_OVER_ERROR,
    STATE_QUERY,
)
from nukiflow.contracts.validation import InputError, check_auth_target


class AuthChangeCalls(FacadeBase):
    """Changes of existing auths (part of :class:`~nukiflow.client.NukiFlow`)."""

    async def update_auth(
        self,
        smartlock_id: int,
        auth_id: str,
        patch: AuthPatch | Mapping[str, Any],
        *,
        request_id: str | None = None,
        deadline: Deadline | None = None,
        account: str | None = None,
    ) -> AuthOutcome:
        """Change some fields of an auth; the others keep their value.

        ``deadline``: a ``timedelta`` from now or an aware ``datetime`` (default: the
        facade's ``auth_deadline``); nothing is written after it. A deadline that is not in
        the future, or further ahead than 30 days, is answered ``rejected``. ``account``: the
        Nuki account that holds the lock (default: the facade's resolver finds it, or the
        default account); it is fixed when the auth's workflow starts.
        """
        request_id = request_id or uuid.uuid4().hex
        started = await self.start_update_auth(
            smartlock_id, auth_id, patch, request_id=request_id, deadline=deadline, account=account
        )
        outcome = await result_of(
            started, lambda exc: refused_change(exc, smartlock_id, auth_id, request_id)
        )
        if outcome.status is OutcomeStatus.FAILED:
            self._forget_account(smartlock_id)
        return outcome

    async def start_update_auth(
        self,
        smartlock_id: int,
        auth_id: str,
        patch: AuthPatch | Mapping[str, Any],
        *,
        request_id: str | None = None,
        deadline: Deadline | None = None,
        account: str | None = None,
    ) -> WorkflowUpdateHandle[AuthOutcome] | AuthOutcome:
        """Hand a change to the auth's workflow and return once it accepted it.

        Returns the update handle (``await handle.result()`` for the outcome), or the final
        outcome at once when the change was refused (rejected) before it entered history.
        """
        request_id = request_id or uuid.uuid4().hex
        try:
            smartlock_id, auth_id = check_auth_target(smartlock_id, auth_id, request_id=request_id)
        except InputError as exc:
            return rejected_change(smartlock_id, auth_id, request_id, str(exc))
        try:
            deadline_at = self._auth_deadline_at(deadline)
            if not isinstance(patch, AuthPatch):
                patch = AuthPatch.model_validate(patch)
            change = AuthChange(
                request_id=request_id,
                kind=ChangeKind.UPDATE,
                patch=patch,
                deadline_at=deadline_at,
            )
        except ValidationError as exc:
            return rejected_change(smartlock_id, auth_id, request_id, validation_message(exc))
        except DeadlineError as exc:
            return rejected_change(smartlock_id, auth_id, request_id, str(exc))
        return await self.start_change_auth(smartlock_id, auth_id, change, account=account)

    async def delete_auth(
        self,
        smartlock_id: int,
        auth_id: str,
        *,
        request_id: str | None = None,
        deadline: Deadline | None = None,
        account: str | None = None,
    ) -> AuthOutcome:
        """Delete an auth (verified gone) and end its workflow (``deadline`` as for
        :meth:`update_auth`)."""
        request_id = request_id or uuid.uuid4().hex
        started = await self.start_delete_auth(
            smartlock_id, auth_id, request_id=request_id, deadline=deadline, account=account
        )
        outcome = await result_of(
            started,
            lambda exc: refused_change(exc, smartlock_id, auth_id, request_id, ChangeKind.DELETE),
        )
        if outcome.status is OutcomeStatus.FAILED:
            self._forget_account(smartlock_id)
        return outcome

    async def start_delete_auth(
        self,
        smartlock_id: int,
        auth_id: str,
        *,
        request_id: str | None = None,
        deadline: Deadline | None = None,
        account: str | None = None,
    ) -> WorkflowUpdateHandle[AuthOutcome] | AuthOutcome:
        request_id = request_id or uuid.uuid4().hex
        delete = ChangeKind.DELETE
        try:
            smartlock_id, auth_id = check_auth_target(smartlock_id, auth_id, request_id=request_id)
        except InputError as exc:
            return rejected_change(smartlock_id, auth_id, request_id, str(exc), delete)
        try:
            change = AuthChange(
                request_id=request_id,
                kind=delete,
                deadline_at=self._auth_deadline_at(deadline),
            )
        except ValidationError as exc:
            reason = validation_message(exc)
            return rejected_change(smartlock_id, auth_id, request_id, reason, delete)
        except DeadlineError as exc:
            return rejected_change(smartlock_id, auth_id, request_id, str(exc), delete)
        return await self.start_change_auth(smartlock_id, auth_id, change, account=account)

    async def change_auth(
        self, smartlock_id: int, auth_id: str, change: AuthChange, *, account: str | None = None
    ) -> AuthOutcome:
        """Send one change through the auth's entity (started if it is not running).

        A change without ``deadline_at`` gets one now (from its ``deadline_seconds`` or the
        facade's default). A ``deadline_at`` it carries is kept as it is, also one that has
        passed: the entity then answers the change failed without writing it, or, for a
        request id it already knows, with that change's outcome (how a retry attaches).
        """
        started = await self.start_change_auth(smartlock_id, auth_id, change, account=account)
        outcome = await result_of(
            started,
            lambda exc: refused_change(exc, smartlock_id, auth_id, change.request_id, change.kind),
        )
        if outcome.status is OutcomeStatus.FAILED:
            self._forget_account(smartlock_id)
        return outcome

    async def start_change_auth(
        self, smartlock_id: int, auth_id: str, change: AuthChange, *, account: str | None = None
    ) -> WorkflowUpdateHandle[AuthOutcome] | AuthOutcome:
        """Hand one change to the auth's entity (started on ``account``, or on the account
        that holds the lock, if it is not running: an entity keeps the account it began with)."""
        try:
            smartlock_id, auth_id = check_auth_target(
                smartlock_id, auth_id, request_id=change.request_id
            )
            account = await self._account_for(smartlock_id, account)
        except InputError as exc:
            return rejected_change(smartlock_id, auth_id, change.request_id, str(exc), change.kind)
        if change.deadline_at is None:
            try:
                change = change.model_copy(
                    update={
                        "deadline_at": self._auth_deadline_at(
                            None
                            if change.deadline_seconds is None
                            else timedelta(seconds=change.deadline_seconds)
                        ),
                        "deadline_seconds": None,
                    }
                )
            except DeadlineError as exc:
                return rejected_change(smartlock_id, auth_id, change.request_id, str(exc))
        deadline_at = change.deadline_at
        assert deadline_at is not None

        def operation() -> WithStartWorkflowOperation[Any, Any]:
            return WithStartWorkflowOperation(
                AUTH_ENTITY_WORKFLOW,
                AuthEntityInput(
                    smartlock_id=smartlock_id,
                    auth_id=auth_id,
                    timing=self.timing,
                    max_rewrites=self.max_rewrites,
                    drift_policy=self.drift_policy,
                    account=account,
                    # A run this starts takes the change at once: it shows applying from its
                    # start, and its first task upserts nothing for it.
                    status_at_start=EntityStatus.APPLYING,
                ),
                id=auth_workflow_id(smartlock_id, auth_id),
                search_attributes=sa.at_start(
                    sa.auth_attributes(smartlock_id, auth_id, EntityStatus.APPLYING.value, account)
                ),
                task_queue=self.workflow_queue(account),
                priority=account_priority(account),
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                # An entity that completed (verified delete, auth not found) is not started
                # again: its result answers (see _ended_entity). One that failed or was
                # terminated may be.
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                static_summary=f"auth {auth_id} on smartlock {smartlock_id}",
                result_type=AuthEntityResult,
            )

        try:
            async with self.starting(account):
                return await send_update_with_start(
                    self.client,
                    AUTH_CHANGE_UPDATE,
                    change,
                    operation=operation,
                    update_id=change.request_id,
                    rolling_over=ENTITY_ROLLING_OVER_ERROR,
                    deadline_at=deadline_at,
                    wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                    result_type=AuthOutcome,
                )
        except WorkflowUpdateFailedError as exc:
            return refused_change(exc, smartlock_id, auth_id, change.request_id, change.kind)
        except WorkflowAlreadyStartedError:
            return await self._ended_entity(smartlock_id, auth_id, change)
        except RolloverTimeout as exc:
            return entity_answer(OutcomeStatus.FAILED, smartlock_id, auth_id, change, str(exc))

    async def wait_for_change(
        self, smartlock_id: int, auth_id: str, request_id: str
    ) -> AuthOutcome:
        """The outcome of a change known to the auth's workflow, waiting while it is pending
        (e.g. the change named in a ``superseded`` outcome's ``superseded_by``).

        Raises :class:`~nukiflow.contracts.validation.InputError` (a ``ValueError``) for ids that
        cannot name an auth."""
        smartlock_id, auth_id = check_auth_target(smartlock_id, auth_id, request_id=request_id)
        handle = self.client.get_workflow_handle(auth_workflow_id(smartlock_id, auth_id))
        outcome: AuthOutcome = await handle.execute_update(
            AUTH_OUTCOME_UPDATE, OutcomeRequest(request_id=request_id), result_type=AuthOutcome
        )
        return outcome

    async def auth_state(self, smartlock_id: int, auth_id: str) -> AuthEntityView:
        """The auth's desired and verified state (codes redacted), pending changes and last
        outcomes. Raises :class:`~nukiflow.contracts.validation.InputError` for bad ids."""
        smartlock_id, auth_id = check_auth_target(smartlock_id, auth_id)
        handle = self.client.get_workflow_handle(auth_workflow_id(smartlock_id, auth_id))
        view: AuthEntityView = await handle.query(STATE_QUERY, result_type=AuthEntityView)
        return view

    async def set_drift_policy(
        self, smartlock_id: int, auth_id: str, policy: DriftPolicy | str
    ) -> AuthEntityView:
        """Set what the auth's running entity does about the drifts reported from now on
        (``enforce``, ``adopt`` or ``alert``); returns its state. Raises
        :class:`~nukiflow.contracts.validation.InputError` for bad ids, ``ValueError`` for an
        unknown policy."""
        smartlock_id, auth_id = check_auth_target(smartlock_id, auth_id)
        request = DriftPolicyRequest(policy=DriftPolicy(policy))
        handle = self.client.get_workflow_handle(auth_workflow_id(smartlock_id, auth_id))
        view: AuthEntityView = await handle.execute_update(
            AUTH_DRIFT_POLICY_UPDATE, request, result_type=AuthEntityView
        )
        return view

    async def _ended_entity(
        self, smartlock_id: int, auth_id: str, change: AuthChange
    ) -> AuthOutcome:
        """The auth's entity has completed: the first outcome of a retried change, or a
        failure that says why the auth is no longer managed."""
        handle = self.client.get_workflow_handle(
            auth_workflow_id(smartlock_id, auth_id), result_type=AuthEntityResult
        )
        ended: AuthEntityResult = await handle.result()
        for outcome in ended.outcomes:
            if outcome.request_id == change.request_id:
                return outcome
        reason = ended.ended_because or f"auth {auth_id} is no longer managed"
        return entity_answer(OutcomeStatus.FAILED, smartlock_id, auth_id, change, reason)
