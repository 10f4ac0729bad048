"""What the fleet activities need of the facade, as a protocol: the activities depend on this,
not on :mod:`nukiflow.client`, and the worker assembly (:mod:`nukiflow.plugin`) hands them a
:class:`~nukiflow.client.NukiFlow` bound to the worker's own client and task queue.

A rollout item (and a grant's create, change and revocation) runs as an activity that sends its
change through the auth's workflow by Update-with-Start, which a workflow cannot do itself.
"""

from __future__ import annotations

from typing import Protocol

from temporalio.client import Client

from nukiflow.contracts.auth import AuthChange, AuthOutcome, CreateAuthRequest
from nukiflow.contracts.deadline import Deadline


class AuthChanges(Protocol):
    """Sends auth changes through their workflows and waits for their outcomes."""

    @property
    def client(self) -> Client:
        """The Temporal client the changes go through (to look at an auth's ended workflow)."""
        ...

    async def create(
        self, request: CreateAuthRequest, *, account: str | None = None
    ) -> AuthOutcome:
        """Create the auth a validated request describes (its request id names the create)."""
        ...

    async def change_auth(
        self, smartlock_id: int, auth_id: str, change: AuthChange, *, account: str | None = None
    ) -> AuthOutcome:
        """Send one change through the auth's workflow (started if it is not running)."""
        ...

    async def delete_auth(
        self,
        smartlock_id: int,
        auth_id: str,
        *,
        request_id: str | None = None,
        deadline: Deadline | None = None,
        account: str | None = None,
    ) -> AuthOutcome:
        """Delete the auth (verified gone) and end its workflow."""
        ...
