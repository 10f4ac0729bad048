"""An access grant's state and what it shows: the memory it carries across continue-as-new,
its view (the ``state`` query and every update's answer), its search attributes and current
details, and the continue-as-new itself.

Workflow code (deterministic), split from :mod:`nukiflow.workflows.access_grant`, which holds
the handlers and the grant's life and inherits this.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import nukiflow.contracts.search_attributes as sa
    import nukiflow.workflows.logic_version as logic_version
    from nukiflow.contracts.access import (
        GrantInput,
        GrantMemory,
        GrantStatus,
        GrantView,
        pack_grant_memory,
    )
    from nukiflow.contracts.auth import AuthOutcome, OutcomeStatus
    from nukiflow.contracts.rollout import outcome_reason
    from nukiflow.workflows.grant_details import grant_details


# Marks runs that upsert the auth's id together with the status (one event, not two in the same
# workflow task: the id as the code is created or found, the status it then takes). Earlier runs
# upserted the id on its own.
STATUS_PATCH = "grant-status-upserted-with-auth-id"


class GrantBook:
    def __init__(self, input: GrantInput) -> None:
        self._input = input
        self._request = input.request
        # Everything a later run needs; a continued run starts from what the last one carried.
        remembered = input.remembered()
        self._m = remembered or GrantMemory(
            until=input.request.window.allowed_until_date, status=GrantStatus.CREATING
        )
        self._create_done = remembered is not None
        self._until_seen = self._m.until
        self._revoked_at: datetime | None = None
        self._verified_by: str | None = None
        self._extend_lock = asyncio.Lock()
        self._extending = False
        self._published: GrantStatus | None = None
        self._published_auth_id: str | None = None
        self._may_roll_over = False

    def _took(self, outcome: AuthOutcome) -> None:
        if outcome.auth_id is not None:
            self._m.auth_id = outcome.auth_id
            self._publish_auth_id(outcome.auth_id)
            if outcome.status is not OutcomeStatus.APPLIED:
                # On the lock, but not exactly as asked: still ours to revoke.
                self._m.reason = outcome_reason(outcome)
            self._set_status(self._window_status())
        elif outcome.status is OutcomeStatus.REJECTED:
            self._fail(outcome_reason(outcome))
        else:
            self._fail(outcome_reason(outcome), sweep=True)

    def _rollover_due(self) -> bool:
        if not self._may_roll_over:
            return False
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._input.grant_timing.max_history_events
        )

    async def _roll_over_if_due(self) -> None:
        """Continue as new, carrying the grant's state, once every update has been answered
        (an extension under way finishes first: its answer is part of the state)."""
        if not self._rollover_due():
            return
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.logger.info("continuing as new (run %d)", self._m.runs)
        memory = self._m.model_copy(update={"runs": self._m.runs + 1})
        # Opaque, so the next run's input names only what started the grant (see GrantInput).
        workflow.continue_as_new(
            self._input.model_copy(
                update={"memory": None, "carried_memory": pack_grant_memory(memory)}
            )
        )

    # -- status and view ---------------------------------------------------------------------

    def _window_status(self) -> GrantStatus:
        if workflow.now() < self._request.window.allowed_from_date:
            return GrantStatus.SCHEDULED
        return GrantStatus.ACTIVE

    def _fail(self, reason: str, *, sweep: bool = False) -> None:
        self._m.reason = reason
        self._m.sweep = sweep
        self._set_status(GrantStatus.FAILED)

    def _set_status(self, status: GrantStatus) -> None:
        self._m.status = status
        self._publish()
        self._show()

    def _publish(self) -> None:
        """Upsert the status (with the auth's id once known, in runs since STATUS_PATCH) if the
        search attributes do not show it yet."""
        auth_id = self._published_auth_id
        if self._m.auth_id is not None and logic_version.since(STATUS_PATCH):
            auth_id = self._m.auth_id
        if self._published is self._m.status and auth_id == self._published_auth_id:
            return
        workflow.upsert_search_attributes(
            [
                sa.SMARTLOCK_ID.value_set(self._request.smartlock_id),
                sa.KIND.value_set("access"),
                sa.STATUS.value_set(self._m.status.value),
                *sa.account_updates(self._request.account),
                *([] if auth_id is None else [sa.AUTH_ID.value_set(auth_id)]),
            ]
        )
        self._published, self._published_auth_id = self._m.status, auth_id

    def _publish_auth_id(self, auth_id: str) -> None:
        """The auth's id became known: runs before STATUS_PATCH upserted it at once; later
        ones with the status that follows it in the same task (:meth:`_publish`)."""
        if not logic_version.since(STATUS_PATCH):
            workflow.upsert_search_attributes([sa.AUTH_ID.value_set(auth_id)])

    def _view(self) -> GrantView:
        m = self._m
        granted = self._request.window.allowed_until_date
        return GrantView(
            workflow_id=workflow.info().workflow_id,
            smartlock_id=self._request.smartlock_id,
            name=self._request.name,
            auth_id=m.auth_id,
            status=m.status,
            window=self._request.window.model_copy(update={"allowed_until_date": m.until}),
            granted_until=None if m.until == granted else granted,
            revoke_requested=m.revoke_requested,
            revoke_reason=m.revoke_reason,
            revocation_due_at=m.revocation_due_at,
            revocation_attempts=m.revocation_attempts,
            overdue_since=m.overdue_since,
            revoked_at=self._revoked_at,
            verified_by=self._verified_by,
            reason=m.reason,
        )

    def _show(self) -> None:
        workflow.set_current_details(grant_details(self._view()))
