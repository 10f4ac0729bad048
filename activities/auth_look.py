"""One look at a lock and an auth while a change to it waits: is the lock online, is an
operation pending on the auth (writes get ``423`` meanwhile)? It reads the lock and the lock's
auth list. The entity's watch
(:mod:`nukiflow.workflows.auth_watch`) calls it to say in its current details why a change
waits: Temporal never shows a workflow the failures of an activity's attempts before its
retries end, so the workflow looks for itself.

One attempt, two reads, no retries of its own: a look that fails is only a look missed."""

from __future__ import annotations

from temporalio import activity

from nukiflow.activities.failures import to_application_error
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.activities.nuki_errors import NukiError
from nukiflow.contracts.auth_io import LookAuthInput, LookAuthResult
from nukiflow.contracts.names import LOOK_AUTH_ACTIVITY


class AuthLookActivities:
    def __init__(self, client: NukiClient) -> None:
        self._client = client

    @activity.defn(name=LOOK_AUTH_ACTIVITY)
    async def look_auth(self, input: LookAuthInput) -> LookAuthResult:
        try:
            lock = await self._client.get_smartlock(input.smartlock_id)
            if input.auth_id is None:
                return LookAuthResult(server_state=lock.server_state, online=lock.online)
            # The lock's list, not the auth itself: the write's polling reads the auth and
            # honours Nuki's Retry-After for that request; a look is a request of its own.
            auths = await self._client.list_auths(input.smartlock_id)
        except NukiError as exc:
            raise to_application_error(exc) from None
        auth = next((a for a in auths if a.id == input.auth_id), None)
        if auth is None:
            return LookAuthResult(server_state=lock.server_state, online=lock.online, found=False)
        return LookAuthResult(
            server_state=lock.server_state,
            online=lock.online,
            operation_pending=auth.operation_id is not None,
        )
