"""Sending an auth change, and the entity's fast path: write and settle in one activity attempt.

:func:`send_auth_write` is the one place the rules of a write live (no write after the
deadline, the lock checked online on rewrites and retries, a delete's 404 checked against the
lock's listing after an attempt whose fate is unknown); ``nuki.auth.write`` and the fast path
both send through it.

The fast path (``nuki.auth.write_settle``, :func:`write_and_settle`) does in one bounded attempt
what ``nuki.auth.write`` and ``nuki.auth.await`` do in two activities: it sends the write once
and then settles it the way the wait does, its first read timed by the lock's learned pace
(:mod:`activities.device_pace`) and fast polls after it, for at most one fast polling window
(or up to the change's deadline, if nearer). When the worker expects the lock's webhooks and
the entity would wait for the report, it reads once right after the write instead: the mark
the report path needs. It has no retries and never raises for what is expected on the way:
it returns what happened (:class:`~nukiflow.contracts.auth_io.WriteSettleAuthResult`): not
written and why (423, the lock offline, 429, 5xx, no answer), written and not settled yet, or
settled with the read-back. Only what no retry can help (a final Nuki error of the write, the
deadline passed before sending) fails it, as it fails ``nuki.auth.write``.

A worker shutting down (a deploy) lets the attempt finish its write and then hand back what it
did (written, not settled): the wait on another worker takes over and nothing is sent again.
A worker killed at any line: the attempt fails with its heartbeat (or start-to-close) timeout
and the entity takes the path through ``nuki.auth.write`` as if the write might have gone out.
Sending the same full auth again is harmless (Nuki replaces the auth with what it had), and a
``423`` then is our own first write still pending, retried until it is accepted; a delete's
``404`` is checked against the lock's listing (the first delete may have worked). A killed
attempt costs a write more, never a wrong verdict: every verdict comes from a read-back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from nukiflow.activities.device_pace import DevicePace
from nukiflow.activities.failures import (
    DEADLINE_PASSED,
    LOCK_OFFLINE,
    OPERATION_PENDING,
    final,
    pending,
    to_application_error,
)
from nukiflow.activities.heartbeats import first_read_by, heartbeat_through
from nukiflow.activities.lock_listings import ListAuths
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.activities.nuki_errors import (
    NukiError,
    NukiNotFoundError,
    NukiServerError,
    NukiTransportError,
)
from nukiflow.activities.polling import poll_until
from nukiflow.contracts.auth_io import (
    WriteAuthInput,
    WriteSettleAuthInput,
    WriteSettleAuthResult,
    WriteSettleStatus,
)
from nukiflow.contracts.auth_policies import MIN_AWAIT_WINDOW
from nukiflow.contracts.wire import SmartlockAuth

T = TypeVar("T")


async def send_auth_write(
    client: NukiClient, input: WriteAuthInput, *, attempt: int, list_auths: ListAuths | None = None
) -> None:
    """Send the full auth (or the delete), as attempt ``attempt`` of this write; ``list_auths``
    lists the lock's auths for a delete's gone-check (default ``client.list_auths``; the
    activities' keep the listing for base reads, :mod:`activities.lock_listings`).

    Raises the Nuki client's error, ``LockOffline`` (retryable: the lock is checked before a
    rewrite or a retry) or ``DeadlinePassed`` (final: nothing is sent after the deadline).
    """
    if datetime.now(UTC) >= input.not_after:
        raise final("the change's deadline passed before it could be sent", DEADLINE_PASSED)
    if input.check_online or attempt > 1:
        lock = await client.get_smartlock(input.smartlock_id)
        if not lock.online:
            raise pending(
                f"smartlock {input.smartlock_id} is offline (serverState "
                f"{lock.server_state}); waiting for it before writing",
                LOCK_OFFLINE,
            )
    if input.desired is None:
        try:
            await client.delete_auth(input.smartlock_id, input.auth_id)
        except NukiNotFoundError:
            lister = list_auths or client.list_auths
            if not await _gone_after_unclear_delete(lister, input, attempt=attempt):
                raise
    else:
        await client.update_auth(input.smartlock_id, input.auth_id, input.desired.to_update())


async def _gone_after_unclear_delete(
    list_auths: ListAuths, input: WriteAuthInput, *, attempt: int
) -> bool:
    """Whether a delete's 404 means our own earlier DELETE worked.

    Only after an attempt whose fate is unknown (a 5xx after Nuki took the DELETE, an answer
    that never came, a worker killed after sending) or an accepted earlier write of this
    change: on a first try a 404 is a wrong id. The 404 alone proves little (it names no
    reason); a listing of the lock's auths does: the lock exists and the auth is not on it.
    """
    if attempt == 1 and not input.after_accepted_write:
        return False
    auths = await list_auths(input.smartlock_id)
    return all(auth.id != input.auth_id for auth in auths)


def _not_written(refused: str, refused_type: str, *, maybe_sent: bool) -> WriteSettleAuthResult:
    return WriteSettleAuthResult(
        status=WriteSettleStatus.NOT_WRITTEN,
        refused=refused,
        refused_type=refused_type,
        maybe_sent=maybe_sent,
    )


async def write_and_settle(
    client: NukiClient,
    pace: DevicePace,
    webhooks: bool,
    input: WriteSettleAuthInput,
    *,
    list_auths: ListAuths | None = None,
) -> WriteSettleAuthResult:
    """The fast path's one attempt (see the module's docstring); ``list_auths`` as for
    :func:`send_auth_write`."""
    write = input.write
    lock_id, auth_id = write.smartlock_id, write.auth_id
    sent = send_auth_write(client, write, attempt=1, list_auths=list_auths)
    try:
        await heartbeat_through(sent, input.timing.heartbeat_timeout_seconds)
    except ApplicationError as err:
        if err.non_retryable or err.type is None:
            raise
        # The lock is offline (a rewrite checks first): nothing was sent.
        return _not_written(err.message, err.type, maybe_sent=False)
    except NukiError as exc:
        if not exc.retryable:
            raise to_application_error(exc) from None
        # 423 and 429 come before any effect; a 5xx or a lost answer may come after it.
        unclear = isinstance(exc, NukiServerError | NukiTransportError)
        return _not_written(exc.message, type(exc).__name__, maybe_sent=unclear)
    since = time.monotonic()

    if webhooks and input.wait_for_report:
        pace.wrote(lock_id, auth_id, at=since)
        return await _mark(client, lock_id, auth_id)

    reads = 0

    async def read() -> SmartlockAuth | None:
        nonlocal reads
        reads += 1
        try:
            return await client.get_auth(lock_id, auth_id)
        except NukiNotFoundError:
            return None

    # At most one fast window, and not past the deadline when that is nearer (at least
    # MIN_AWAIT_WINDOW): the answer must come when it is due.
    left = (write.not_after - datetime.now(UTC)).total_seconds()
    window = min(input.timing.fast_window_seconds, max(left, MIN_AWAIT_WINDOW.total_seconds()))
    timing = input.timing.model_copy(update={"fast_window_seconds": window})

    def settled(at: float, first_read: bool) -> None:
        pace.settled(lock_id, since, first_read=first_read, at=at)

    probe = timing.fast_first_interval_seconds

    polled = poll_until(
        read,
        lambda a: a is None or a.operation_id is None,
        timing,
        f"the operation on auth {auth_id}",
        first_wait=lambda: pace.before_first_read(lock_id, since, timing, latest=first_read_by()),
        on_settled=settled,
        pause=lambda: pace.first_pause(lock_id, since, window, cold=probe),
    )
    try:
        outcome = await unless_shutting_down(polled)
    except (ApplicationError, NukiError) as err:
        if isinstance(err, ApplicationError) and err.type != OPERATION_PENDING:
            raise
        # Still pending after the window (or a read refused for good, which the entity's wait
        # meets again and reports). That wait learns the lock's time from this write's 204.
        pace.wrote(lock_id, auth_id, at=since)
        online = await _online(client, lock_id) if isinstance(err, ApplicationError) else None
        return WriteSettleAuthResult(
            status=WriteSettleStatus.WRITTEN, reads=reads, online=online, webhooks=webhooks
        )
    if outcome is None:
        # The worker is shutting down (a deploy): say what was done, so the wait on another
        # worker takes over instead of a rewrite after a timeout.
        return WriteSettleAuthResult(
            status=WriteSettleStatus.WRITTEN, reads=reads, webhooks=webhooks
        )
    return WriteSettleAuthResult(
        status=WriteSettleStatus.SETTLED, auth=outcome[0], reads=reads, webhooks=webhooks
    )


async def unless_shutting_down(call: Awaitable[T]) -> T | None:
    """``call``'s value, or None (``call`` cancelled) once the worker begins to shut down."""
    task = asyncio.ensure_future(call)
    shutdown = asyncio.ensure_future(activity.wait_for_worker_shutdown())
    try:
        await asyncio.wait({task, shutdown}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        shutdown.cancel()
        await _cancelled(task)
    if task.cancelled():
        return None
    return task.result()


async def _cancelled(task: asyncio.Future[T]) -> None:
    """Cancel ``task`` unless it is done, and let it wind down."""
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _mark(client: NukiClient, lock_id: int, auth_id: str) -> WriteSettleAuthResult:
    """The one read the report path needs, right after the write: the operation pending on the
    auth dates the write on Nuki's clock, or it settled already (this read is the read-back)."""
    try:
        mark: SmartlockAuth | None = await client.get_auth(lock_id, auth_id)
    except NukiNotFoundError:
        mark = None
    except NukiError:
        # The mark is an optimisation: the entity reads it again, or polls.
        return WriteSettleAuthResult(status=WriteSettleStatus.WRITTEN, reads=1, webhooks=True)
    if mark is None or mark.operation_id is None:
        return WriteSettleAuthResult(
            status=WriteSettleStatus.SETTLED, auth=mark, reads=1, webhooks=True
        )
    return WriteSettleAuthResult(
        status=WriteSettleStatus.WRITTEN, mark=mark, reads=1, webhooks=True
    )


async def _online(client: NukiClient, lock_id: int) -> bool | None:
    """Whether the lock is online (None: the read failed): why the write has not settled."""
    try:
        return (await client.get_smartlock(lock_id)).online
    except NukiError:
        return None
