"""Activities that read and change authorizations through the Nuki Web API.

They are methods of :class:`AuthActivities`, which owns the one shared :class:`NukiClient`.
Each takes one typed input and returns one typed result; every Nuki failure is converted once,
by :func:`activities.failures.to_application_error`, into a retryable or final failure.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.failures import (
    CONFLICT,
    DEADLINE_PASSED,
    LOCK_OFFLINE,
    OPERATION_PENDING,
    final,
    pending,
    to_application_error,
)
from activities.nuki_client import NukiClient
from activities.nuki_errors import NukiConflictError, NukiError, NukiNotFoundError
from activities.polling import poll_until
from nukiflow.models.auth import AuthFields
from nukiflow.models.timing import PollTiming
from nukiflow.models.wire import SmartlockAuth


class ReadAuthInput(BaseModel):
    smartlock_id: int
    auth_id: str


class ReadAuthResult(BaseModel):
    """The auth as Nuki holds it, or ``None`` when it does not exist."""

    auth: SmartlockAuth | None


class WriteAuthInput(BaseModel):
    smartlock_id: int
    auth_id: str
    # None means delete the auth.
    desired: AuthFields | None
    # No write is sent after this instant: a change must never land later than promised.
    not_after: datetime
    # Check that the lock is online before writing (set for rewrites after a lost update).
    check_online: bool = False
    # An earlier write of this change was accepted by Nuki (a rewrite after a ghost delete):
    # a 404 on a delete then may be that earlier delete having landed.
    after_accepted_write: bool = False


class WriteAuthResult(BaseModel):
    # API write attempts this activity made (accepted and refused with 423/5xx/...).
    attempts: int


class AwaitAuthInput(BaseModel):
    smartlock_id: int
    auth_id: str
    timing: PollTiming


class AwaitAuthResult(BaseModel):
    """The auth read back once no operation is pending on it (``None``: it is gone)."""

    auth: SmartlockAuth | None
    reads: int


class ListAuthIdsInput(BaseModel):
    smartlock_id: int


class ListAuthIdsResult(BaseModel):
    ids: list[str]


class CreateAuthInput(BaseModel):
    smartlock_id: int
    auth_type: int
    desired: AuthFields
    not_after: datetime
    timing: PollTiming
    # The lock's auths before the first attempt (recorded in history by the workflow): none
    # of them can be the one this create makes, however well it matches. None (runs started
    # before the snapshot existed): every match counts.
    existing_ids: list[str] | None = None


class CreateAuthResult(BaseModel):
    auth_id: str
    # True when the auth was already there (a retry after the create was accepted).
    adopted: bool
    writes: int
    reads: int


def matches(auth: SmartlockAuth, desired: AuthFields, auth_type: int) -> bool:
    """Whether ``auth`` is the one a create of ``desired`` makes (Nuki returns no id)."""
    if auth.type != auth_type or auth.name != desired.name:
        return False
    return desired.code is None or auth.code == desired.code


class AuthActivities:
    def __init__(self, client: NukiClient) -> None:
        self._client = client

    @activity.defn(name="nuki.auth.read")
    async def read_auth(self, input: ReadAuthInput) -> ReadAuthResult:
        try:
            return ReadAuthResult(
                auth=await self._client.get_auth(input.smartlock_id, input.auth_id)
            )
        except NukiNotFoundError:
            return ReadAuthResult(auth=None)
        except NukiError as exc:
            raise to_application_error(exc) from None

    @activity.defn(name="nuki.auth.list_ids")
    async def list_auth_ids(self, input: ListAuthIdsInput) -> ListAuthIdsResult:
        """The ids of the lock's auths (the snapshot a create is told apart from)."""
        try:
            auths = await self._client.list_auths(input.smartlock_id)
        except NukiError as exc:
            raise to_application_error(exc) from None
        return ListAuthIdsResult(ids=[a.id for a in auths])

    @activity.defn(name="nuki.auth.write")
    async def write_auth(self, input: WriteAuthInput) -> WriteAuthResult:
        """Send the full auth (or the delete). 423, 429, 5xx and transport errors are retried
        by the retry policy; validation, auth and not-found errors are final."""
        if datetime.now(UTC) >= input.not_after:
            raise final("the change's deadline passed before it could be sent", DEADLINE_PASSED)
        try:
            if input.check_online or activity.info().attempt > 1:
                lock = await self._client.get_smartlock(input.smartlock_id)
                if not lock.online:
                    raise pending(
                        f"smartlock {input.smartlock_id} is offline (serverState "
                        f"{lock.server_state}); waiting for it before writing",
                        LOCK_OFFLINE,
                    )
            if input.desired is None:
                try:
                    await self._client.delete_auth(input.smartlock_id, input.auth_id)
                except NukiNotFoundError:
                    if not await self._gone_after_unclear_delete(input):
                        raise
            else:
                await self._client.update_auth(
                    input.smartlock_id, input.auth_id, input.desired.to_update()
                )
        except NukiError as exc:
            raise to_application_error(exc) from None
        return WriteAuthResult(attempts=activity.info().attempt)

    async def _gone_after_unclear_delete(self, input: WriteAuthInput) -> bool:
        """Whether a delete's 404 means our own earlier DELETE worked.

        Only after an attempt whose fate is unknown (a 5xx after Nuki took the DELETE, an answer
        that never came, a worker killed after sending) or an accepted earlier write of this
        change: on a first try a 404 is a wrong id. The 404 alone proves little (it names no
        reason); a listing of the lock's auths does: the lock exists and the auth is not on it.
        """
        if activity.info().attempt == 1 and not input.after_accepted_write:
            return False
        auths = await self._client.list_auths(input.smartlock_id)
        return all(auth.id != input.auth_id for auth in auths)

    @activity.defn(name="nuki.auth.await")
    async def await_auth(self, input: AwaitAuthInput) -> AwaitAuthResult:
        """Wait until no operation is pending on the auth, then return it as read back."""

        async def read() -> SmartlockAuth | None:
            try:
                return await self._client.get_auth(input.smartlock_id, input.auth_id)
            except NukiNotFoundError:
                return None

        try:
            try:
                auth, reads = await poll_until(
                    read,
                    lambda a: a is None or a.operation_id is None,
                    input.timing,
                    f"the operation on auth {input.auth_id}",
                )
            except ApplicationError as err:
                if err.type != OPERATION_PENDING:
                    raise
                # Still pending: say whether the lock is offline, the usual reason and the one
                # a person can act on (the failure that ends at the deadline carries this).
                lock = await self._client.get_smartlock(input.smartlock_id)
                if lock.online:
                    raise
                raise pending(
                    f"{err.message}: smartlock {input.smartlock_id} is offline (serverState "
                    f"{lock.server_state})",
                    LOCK_OFFLINE,
                ) from None
        except NukiError as exc:
            raise to_application_error(exc) from None
        return AwaitAuthResult(auth=auth, reads=reads)

    @activity.defn(name="nuki.auth.create")
    async def create_auth(self, input: CreateAuthInput) -> CreateAuthResult:
        """Create the auth exactly once, although Nuki's create returns no id.

        Look for it first (an earlier attempt may have been accepted and applied), create it,
        then find it by listing. Auths in ``existing_ids`` were there before and are never
        taken for ours (an app auth matches by type and name only). A 409 for a keypad code
        means the code is on the lock: ours if a matching new auth shows up, someone else's
        otherwise (a final, clear failure).
        """
        reads = writes = 0
        attempt = activity.info().attempt
        try:
            found = None
            # With a fresh snapshot there is nothing to look for before the first attempt.
            if attempt > 1 or input.existing_ids is None:
                found, n = await self._find(input, grace=0.0)
                reads += n
            if found is None and attempt > 1:
                # An earlier attempt may have been accepted and not applied yet: give the
                # device a moment, and never re-create on a lock that is offline (Nuki holds
                # or drops creates there; either way a second create could make two).
                lock = await self._client.get_smartlock(input.smartlock_id)
                reads += 1
                if not lock.online:
                    raise pending(f"smartlock {input.smartlock_id} is offline", LOCK_OFFLINE)
                found, n = await self._find(input, grace=input.timing.fast_window_seconds / 2)
                reads += n
            if found is not None:
                return CreateAuthResult(auth_id=found.id, adopted=True, writes=0, reads=reads)
            if datetime.now(UTC) >= input.not_after:
                raise final("the create's deadline passed before it could be sent", DEADLINE_PASSED)
            try:
                writes += 1
                await self._client.create_auth(
                    input.smartlock_id, input.desired.to_create(input.auth_type)
                )
            except NukiConflictError as exc:
                found, n = await self._find(input, grace=input.timing.fast_window_seconds)
                reads += n
                if found is None:
                    raise final(
                        f"{exc.message}: another authorization on smartlock "
                        f"{input.smartlock_id} already uses this keypad code; choose another",
                        CONFLICT,
                    ) from None
                return CreateAuthResult(auth_id=found.id, adopted=True, writes=writes, reads=reads)
            found, n = await self._find(input, grace=input.timing.fast_window_seconds)
            reads += n
            if found is None:
                raise pending(
                    f"the new auth has not appeared on smartlock {input.smartlock_id} yet"
                )
            return CreateAuthResult(auth_id=found.id, adopted=False, writes=writes, reads=reads)
        except NukiError as exc:
            raise to_application_error(exc) from None

    async def _find(self, input: CreateAuthInput, grace: float) -> tuple[SmartlockAuth | None, int]:
        """List the lock's auths for a match, for up to ``grace`` seconds."""
        reads = 0
        existing = frozenset(input.existing_ids or ())
        started = time.monotonic()
        interval = input.timing.fast_first_interval_seconds
        while True:
            reads += 1
            try:
                auths = await self._client.list_auths(input.smartlock_id)
            except NukiError as exc:
                # A stray 5xx or 429 must not cost the whole attempt while time is left.
                if not exc.retryable or time.monotonic() - started + interval > grace:
                    raise
                auths = []
            for auth in auths:
                if auth.id not in existing and matches(auth, input.desired, input.auth_type):
                    return auth, reads
            activity.heartbeat()
            if time.monotonic() - started + interval > grace:
                return None, reads
            await asyncio.sleep(interval)
            interval = min(interval * 1.5, input.timing.fast_max_interval_seconds)
