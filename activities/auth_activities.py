"""Activities that read and change authorizations through the Nuki Web API.

They are methods of :class:`AuthActivities`, which owns the one shared :class:`NukiClient`.
Each takes one typed input and returns one typed result (:mod:`nukiflow.contracts.auth_io`,
registered under the names of :mod:`nukiflow.contracts.names`); every Nuki failure is converted
once, by :func:`activities.failures.to_application_error`, into a retryable or final failure.
The create, the one activity with a story of its own, lives in
:mod:`activities.auth_create_attempt`.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from nukiflow.activities.auth_create_attempt import create_once
from nukiflow.activities.auth_first_write import read_base, read_write_and_settle
from nukiflow.activities.auth_write_settle import send_auth_write, write_and_settle
from nukiflow.activities.device_pace import DevicePace
from nukiflow.activities.failures import (
    LOCK_OFFLINE,
    OPERATION_PENDING,
    pending,
    to_application_error,
)
from nukiflow.activities.heartbeats import first_read_by
from nukiflow.activities.lock_listings import LockListings
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.activities.nuki_errors import NukiError, NukiNotFoundError
from nukiflow.activities.polling import poll_until
from nukiflow.contracts.auth_io import (
    AwaitAuthInput,
    AwaitAuthResult,
    CreateAuthInput,
    CreateAuthResult,
    ListAuthIdsInput,
    ListAuthIdsResult,
    ReadAuthInput,
    ReadAuthResult,
    ReadWriteSettleAuthInput,
    ReadWriteSettleAuthResult,
    WriteAuthInput,
    WriteAuthResult,
    WriteSettleAuthInput,
    WriteSettleAuthResult,
)
from nukiflow.contracts.names import (
    AWAIT_AUTH_ACTIVITY,
    CREATE_AUTH_ACTIVITY,
    LIST_AUTH_IDS_ACTIVITY,
    READ_AUTH_ACTIVITY,
    READ_WRITE_SETTLE_AUTH_ACTIVITY,
    WRITE_AUTH_ACTIVITY,
    WRITE_SETTLE_AUTH_ACTIVITY,
)
from nukiflow.contracts.wire import SmartlockAuth


class AuthActivities:
    def __init__(self, client: NukiClient, *, webhooks: bool = False) -> None:
        """``webhooks``: this deployment receives the lock's webhooks (told to the entity with
        every write, so it may wait for the lock's report instead of polling at once)."""
        self._client = client
        self._webhooks = webhooks
        # Each lock's time to apply an operation, timing the first read after a write.
        self._pace = DevicePace()
        # Each lock's last listing, which base reads may share (see activities.lock_listings).
        self._listings = LockListings(client.list_auths)

    @activity.defn(name=READ_AUTH_ACTIVITY)
    async def read_auth(self, input: ReadAuthInput) -> ReadAuthResult:
        """The auth as Nuki holds it (``None``: not found). With ``listed_within_seconds`` (a
        change's base read only) a listing of the lock this worker sent that recently may
        answer; an auth it cannot answer for is read with its own GET."""
        try:
            return ReadAuthResult(auth=await read_base(self._client, self._listings, input))
        except NukiError as exc:
            raise to_application_error(exc) from None

    @activity.defn(name=LIST_AUTH_IDS_ACTIVITY)
    async def list_auth_ids(self, input: ListAuthIdsInput) -> ListAuthIdsResult:
        """The ids of the lock's auths (the snapshot a create is told apart from); the listing
        is kept for the base reads of changes to the lock's other auths."""
        try:
            auths = await self._listings.list(input.smartlock_id)
        except NukiError as exc:
            raise to_application_error(exc) from None
        return ListAuthIdsResult(ids=[a.id for a in auths])

    @activity.defn(name=WRITE_AUTH_ACTIVITY)
    async def write_auth(self, input: WriteAuthInput) -> WriteAuthResult:
        """Send the full auth (or the delete). 423, 429, 5xx and transport errors are retried
        by the retry policy; validation, auth and not-found errors are final (the rules are
        :func:`activities.auth_write_settle.send_auth_write`'s)."""
        try:
            try:
                await send_auth_write(
                    self._client,
                    input,
                    attempt=activity.info().attempt,
                    list_auths=self._listings.list,
                )
            finally:
                # Answered or not, Nuki may have taken it: no earlier listing speaks for it.
                self._listings.wrote(input.smartlock_id, input.auth_id)
        except NukiError as exc:
            raise to_application_error(exc) from None
        self._pace.wrote(input.smartlock_id, input.auth_id)
        return WriteAuthResult(attempts=activity.info().attempt, webhooks=self._webhooks)

    @activity.defn(name=WRITE_SETTLE_AUTH_ACTIVITY)
    async def write_settle_auth(self, input: WriteSettleAuthInput) -> WriteSettleAuthResult:
        """The entity's fast path: write, then settle within one fast window, in one attempt
        that says what happened instead of failing (see :mod:`activities.auth_write_settle`)."""
        try:
            return await write_and_settle(
                self._client, self._pace, self._webhooks, input, list_auths=self._listings.list
            )
        finally:
            # Whatever the attempt got to, Nuki may have taken its write: no earlier listing
            # speaks for this auth any more.
            self._listings.wrote(input.write.smartlock_id, input.write.auth_id)

    @activity.defn(name=READ_WRITE_SETTLE_AUTH_ACTIVITY)
    async def read_write_settle_auth(
        self, input: ReadWriteSettleAuthInput
    ) -> ReadWriteSettleAuthResult:
        """An entity's first change in one attempt: the base read, then the fast path (see
        :mod:`activities.auth_first_write`)."""
        return await read_write_and_settle(
            self._client, self._pace, self._webhooks, self._listings, input
        )

    @activity.defn(name=AWAIT_AUTH_ACTIVITY)
    async def await_auth(self, input: AwaitAuthInput) -> AwaitAuthResult:
        """Wait until no operation is pending on the auth, then return it as read back."""

        async def read() -> SmartlockAuth | None:
            try:
                return await self._client.get_auth(input.smartlock_id, input.auth_id)
            except NukiNotFoundError:
                return None

        pace, lock_id = self._pace, input.smartlock_id
        # After a write this worker sent: the first read when the lock is expected to be done.
        since = pace.written_at(lock_id, input.auth_id)

        timing = input.timing
        window, probe = timing.fast_window_seconds, timing.fast_first_interval_seconds

        def pause() -> float:
            return 0.0 if since is None else pace.first_pause(lock_id, since, window, cold=probe)

        async def first_wait() -> None:
            if since is not None:
                await pace.before_first_read(lock_id, since, timing, latest=first_read_by())

        def settled(at: float, first_read: bool) -> None:
            if since is not None:
                pace.settled(lock_id, since, first_read=first_read, at=at)

        try:
            try:
                auth, reads = await poll_until(
                    read,
                    lambda a: a is None or a.operation_id is None,
                    input.timing,
                    f"the operation on auth {input.auth_id}",
                    first_wait=first_wait,
                    on_settled=settled,
                    pause=pause,
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

    @activity.defn(name=CREATE_AUTH_ACTIVITY)
    async def create_auth(self, input: CreateAuthInput) -> CreateAuthResult:
        """Create the auth exactly once, although Nuki's create returns no id (see
        :mod:`activities.auth_create_attempt`)."""
        created = await create_once(self._client, input, self._pace, self._listings.list)
        # Its listings are kept for the lock's other auths; the new one is read as written.
        self._listings.wrote(input.smartlock_id, created.auth_id)
        return created
