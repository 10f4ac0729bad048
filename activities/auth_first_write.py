"""The first change of an auth entity in one attempt: read the base, put the patch on it, write
and settle (``nuki.auth.read_write_settle``).

An update replaces the whole auth, so the entity's first change needs the auth as Nuki holds it
(the *base*). Read in an activity of its own (``nuki.auth.read``) that costs the entity six
history events; here the fast path's attempt reads it first, by the same rules
(:func:`read_base`: a recent listing of the lock may answer), computes the target with the
entity's own rules (:func:`nukiflow.contracts.auth_rules.apply_patch`) and then writes and
settles exactly as ``nuki.auth.write_settle``
(:func:`activities.auth_write_settle.write_and_settle`). It hands back the base as well, so
the entity records it as if it had read it.

Nothing is written when the read fails (the entity then reads the auth itself, with the read's
retry policy; a final error, 401 or 403, fails the attempt as it fails the write's), when the
auth is not found, or when the patch does not fit the base (the entity's
merge answers the change as it would after a read). A worker killed at any line: before the
write nothing was sent and the entity's read and write follow; after it, the entity meets an
attempt whose fate is unknown and takes the path through ``nuki.auth.write`` with
``after_accepted_write`` (the same full auth again: harmless), as after a fast attempt.
"""

from __future__ import annotations

from nukiflow.activities.auth_write_settle import write_and_settle
from nukiflow.activities.device_pace import DevicePace
from nukiflow.activities.failures import to_application_error
from nukiflow.activities.heartbeats import heartbeat_through
from nukiflow.activities.lock_listings import LockListings
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.activities.nuki_errors import NukiError, NukiNotFoundError, NukiRateLimitedError
from nukiflow.contracts.auth import AuthFields
from nukiflow.contracts.auth_io import (
    ReadAuthInput,
    ReadWriteSettleAuthInput,
    ReadWriteSettleAuthResult,
    WriteAuthInput,
    WriteSettleAuthInput,
)
from nukiflow.contracts.auth_rules import apply_patch
from nukiflow.contracts.wire import SmartlockAuth


async def read_base(
    client: NukiClient, listings: LockListings, input: ReadAuthInput
) -> SmartlockAuth | None:
    """The auth as Nuki holds it (None: not found); with ``listed_within_seconds`` a listing of
    the lock this worker sent that recently may answer. Raises the client's other errors."""
    try:
        age = input.listed_within_seconds
        if age is not None and age > 0:
            listed = await listings.listed(input.smartlock_id, input.auth_id, max_age=age)
            if listed is not None:
                return listed
        return await client.get_auth(input.smartlock_id, input.auth_id)
    except NukiNotFoundError:
        return None


async def read_write_and_settle(
    client: NukiClient,
    pace: DevicePace,
    webhooks: bool,
    listings: LockListings,
    input: ReadWriteSettleAuthInput,
) -> ReadWriteSettleAuthResult:
    """The attempt (see the module's docstring)."""
    read = input.read
    try:
        base = await heartbeat_through(
            read_base(client, listings, read), input.timing.heartbeat_timeout_seconds
        )
    except NukiError as exc:
        if not exc.retryable:
            # Final (401, 403...): no read of the entity's own could help; it fails the change.
            raise to_application_error(exc) from None
        # The entity's own read retries what can be retried; after a 429 not before the time
        # Nuki advised.
        wait = exc.retry_after if isinstance(exc, NukiRateLimitedError) else None
        return ReadWriteSettleAuthResult(base_known=False, retry_after=wait)
    if base is None:
        return ReadWriteSettleAuthResult(base_known=True)
    try:
        target = apply_patch(AuthFields.from_wire(base), base.type, input.patch, check_types=True)
    except ValueError:
        return ReadWriteSettleAuthResult(base_known=True, base=base)
    write = WriteAuthInput(
        smartlock_id=read.smartlock_id,
        auth_id=read.auth_id,
        desired=target,
        not_after=input.not_after,
    )
    try:
        written = await write_and_settle(
            client,
            pace,
            webhooks,
            WriteSettleAuthInput(
                write=write, timing=input.timing, wait_for_report=input.wait_for_report
            ),
            list_auths=listings.list,
        )
    finally:
        # Whatever the attempt got to, Nuki may have taken its write: no earlier listing
        # speaks for this auth any more.
        listings.wrote(read.smartlock_id, read.auth_id)
    return ReadWriteSettleAuthResult(base_known=True, base=base, written=written)
