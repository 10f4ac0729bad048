"""One look at a lock and an auth while a change to it waits: is the lock online, is an
operation pending on the auth (writes get ``423`` meanwhile)? The entity's watch
(:mod:`nukiflow.workflows.auth_watch`) calls it to say in its current details why a change
waits: Temporal never shows a workflow the failures of an activity's attempts before its
retries end, so the workflow looks for itself.

One attempt, two reads, no retries of its own: a look that fails is only a look missed."""

from __future__ import annotations

from temporalio import activity

from nukiflow.activities.failures import to_application_error
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.activities.nuki_errors import NukiError, NukiNotFoundError
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
            try:
                auth = await self._client.get_auth(input.smartlock_id, input.auth_id)
            except NukiNotFoundError:
                return LookAuthResult(
                    server_state=lock.server_state, online=lock.online, found=False
                )
        except NukiError as exc:
            raise to_application_error(exc) from None
        return LookAuthResult(
            server_state=lock.server_state,
            online=lock.online,
            operation_pending=auth.operation_id is not None,
        )
