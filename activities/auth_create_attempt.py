"""Creating an auth exactly once although Nuki's create returns no id: one attempt of the
``nuki.auth.create`` activity, and what attempts hand each other.

One attempt: look for the auth (unless this is the first attempt with a fresh snapshot); if a
create of ours may still be on its way, keep looking until its window (``fast_window_seconds``
after it went out, counted while the lock is online) has passed; send the create; look for the
new auth for one window. Not listed by then, the create counts as lost and the next attempt (at
once) sends it again. An offline lock is waited for through the retry policy, and a create that
went out before gets a fresh window once the lock is back (Nuki may hold it until then). Auths in
``existing_ids`` were there before and are never taken for ours (an app auth matches by type and
name only). A 409 for a keypad code means the code is on the lock or on its way: ours if a
matching new auth shows up, someone else's otherwise (a final, clear failure). What went out is
carried across attempts in heartbeat details (see :class:`CreateProgress`); when they cannot be
trusted, the next attempt assumes a create went out just before it was scheduled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from nukiflow.activities.device_pace import DevicePace
from nukiflow.activities.failures import (
    CONFLICT,
    DEADLINE_PASSED,
    LOCK_OFFLINE,
    OPERATION_PENDING,
    final,
    pending,
    to_application_error,
)
from nukiflow.activities.heartbeats import first_read_by, heartbeat_timeout_of, keep_alive
from nukiflow.activities.lock_listings import ListAuths
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.activities.nuki_errors import (
    NukiConflictError,
    NukiError,
    NukiLockedError,
    NukiRateLimitedError,
)
from nukiflow.contracts.auth import AuthFields
from nukiflow.contracts.auth_io import CreateAuthInput, CreateAuthResult
from nukiflow.contracts.wire import SmartlockAuth

T = TypeVar("T")


class CreateProgress(BaseModel):
    """What a create's attempts have done, carried to the next attempt in heartbeat details.

    ``in_flight``: a create request that Nuki may have taken (204, or a 5xx or lost answer),
    not found and not yet given up as lost. ``window_from``: when its window started (epoch
    seconds, the worker's clock; None: it starts once the lock is seen online). The next
    attempt trusts these only from the previous attempt's last heartbeat (``final``); anything
    older may miss a create sent after it.
    """

    attempt: int
    final: bool = False
    in_flight: bool = False
    window_from: float | None = None
    writes: int = 0
    reads: int = 0
    # An earlier attempt ended without its last word: it may have sent creates not counted.
    unaccounted: bool = False

    @property
    def may_have_sent(self) -> bool:
        return self.writes > 0 or self.unaccounted

    @classmethod
    def carried(cls, details: Any, attempt: int) -> CreateProgress | None:
        """This attempt's starting point, or None when the previous one left no last word."""
        if attempt == 1:
            return cls(attempt=1)
        try:
            last = cls.model_validate(details[0]) if details else None
        except (TypeError, ValueError):
            last = None
        if last is None or last.attempt != attempt - 1 or not last.final:
            return None
        return last.model_copy(update={"attempt": attempt, "final": False})

    def window_passed(self, window: float) -> bool:
        return self.window_from is not None and time.time() >= self.window_from + window

    def result(self, auth: SmartlockAuth, *, adopted: bool) -> CreateAuthResult:
        return CreateAuthResult(
            auth_id=auth.id, adopted=adopted, writes=self.writes, reads=self.reads, auth=auth
        )


def matches(auth: SmartlockAuth, desired: AuthFields, auth_type: int) -> bool:
    """Whether ``auth`` is the one a create of ``desired`` makes (Nuki returns no id)."""
    if auth.type != auth_type or auth.name != desired.name:
        return False
    return desired.code is None or auth.code == desired.code


async def create_once(
    client: NukiClient,
    input: CreateAuthInput,
    pace: DevicePace | None = None,
    list_auths: ListAuths | None = None,
) -> CreateAuthResult:
    """One attempt of the create activity (see the module docstring); ``pace`` times the first
    listing after an accepted create (:mod:`activities.device_pace`); ``list_auths`` lists the
    lock's auths (default: ``client.list_auths``; the activity's keeps each listing for the
    base reads of changes to the lock's other auths, :mod:`activities.lock_listings`)."""
    info = activity.info()
    progress = CreateProgress.carried(info.heartbeat_details, info.attempt)
    if progress is None:
        # The previous attempt ended without its last word (a crash, a lost heartbeat): it
        # may have sent a create at any time before this attempt was scheduled.
        progress = CreateProgress(
            attempt=info.attempt,
            in_flight=True,
            window_from=info.current_attempt_scheduled_time.timestamp(),
            unaccounted=True,
        )
    carried = progress
    timeout = heartbeat_timeout_of(input.timing.heartbeat_timeout_seconds)
    try:
        attempt = _CreateAttempt(client, input, progress, pace, list_auths or client.list_auths)
        # The keeper heartbeats for the whole attempt (its call and listings may hang up to the
        # client's timeout); the attempt's last word is the final heartbeat below.
        async with keep_alive(timeout, lambda: (carried.model_dump(),)):
            return await attempt.run(info.attempt)
    except BaseException:
        # The attempt's last word: the next attempt trusts it (see CreateProgress.carried).
        progress.final = True
        activity.heartbeat(progress.model_dump())
        raise


class _CreateAttempt:
    def __init__(
        self,
        client: NukiClient,
        input: CreateAuthInput,
        progress: CreateProgress,
        pace: DevicePace | None,
        list_auths: ListAuths,
    ):
        self._client = client
        self._input = input
        self._progress = progress
        self._pace = pace
        self._list_auths = list_auths

    async def run(self, attempt: int) -> CreateAuthResult:
        input, progress = self._input, self._progress
        window = input.timing.fast_window_seconds
        try:
            if attempt > 1 or input.existing_ids is None:
                found = await self._look()
                if found is not None:
                    return progress.result(found, adopted=True)
            if progress.in_flight and not progress.window_passed(window):
                # A create of ours may be on its way: give it its window, on a lock that is
                # online (offline, Nuki holds or drops it; either way a second one could make
                # two, so nothing is sent until the lock is back and a window has passed).
                lock = await self._through_transient(
                    lambda: self._client.get_smartlock(input.smartlock_id)
                )
                if not lock.online:
                    progress.window_from = None
                    raise pending(
                        f"smartlock {input.smartlock_id} is offline (serverState "
                        f"{lock.server_state}); a create sent to it may still arrive",
                        LOCK_OFFLINE,
                    )
                if progress.window_from is None:
                    progress.window_from = time.time()
                found = await self._find(until=progress.window_from + window)
                if found is not None:
                    return progress.result(found, adopted=True)
            if datetime.now(UTC) >= input.not_after:
                raise final("the create's deadline passed before it could be sent", DEADLINE_PASSED)
            before = progress.model_copy()
            progress.writes += 1
            progress.in_flight, progress.window_from = True, time.time()
            try:
                await self._client.create_auth(
                    input.smartlock_id, input.desired.to_create(input.auth_type)
                )
            except NukiConflictError as exc:
                progress.writes = before.writes  # refused: counted writes are accepted ones
                found = await self._find(until=progress.window_from + window)
                if found is not None:
                    return progress.result(found, adopted=True)
                if not before.may_have_sent or await self._code_listed():
                    raise final(
                        f"{exc.message}: another authorization on smartlock "
                        f"{input.smartlock_id} already uses this keypad code; choose another",
                        CONFLICT,
                    ) from None
                # No listed auth holds the code: an earlier create of ours may (on its way,
                # or held by a lock that was offline). Look again rather than call it someone
                # else's.
                raise pending(
                    f"the keypad code is taken on smartlock {input.smartlock_id}, likely by this "
                    "create's earlier request, which has not appeared yet"
                ) from None
            except (NukiLockedError, NukiRateLimitedError):
                # Refused before any effect: nothing of this request is on its way.
                progress.in_flight, progress.window_from = before.in_flight, before.window_from
                progress.writes = before.writes
                raise
            except NukiError as exc:
                if not exc.retryable:
                    raise
                # A 5xx or a lost answer: Nuki may have taken it. Look for it, never resend blind.
                found = await self._find(until=progress.window_from + window)
            else:
                # Accepted: the first listing when the lock is expected to have applied it.
                accepted = time.monotonic()
                found = await self._find(until=progress.window_from + window, since=accepted)
            if found is not None:
                return progress.result(found, adopted=False)
            lock = await self._through_transient(
                lambda: self._client.get_smartlock(input.smartlock_id)
            )
            if not lock.online:
                # Offline, Nuki may hold it: a fresh window once the lock is back.
                progress.window_from = None
                raise pending(
                    f"smartlock {input.smartlock_id} is offline (serverState "
                    f"{lock.server_state}); the create sent to it may still arrive",
                    LOCK_OFFLINE,
                )
            # Its window passed on an online lock without it: lost (the next attempt resends).
            progress.in_flight, progress.window_from = False, None
            raise ApplicationError(
                f"the new auth did not appear on smartlock {input.smartlock_id} within "
                f"{window:g} s; taken as lost, it is sent again",
                type=OPERATION_PENDING,
                category=ApplicationErrorCategory.BENIGN,
                next_retry_delay=timedelta(seconds=input.timing.fast_first_interval_seconds),
            )
        except NukiError as exc:
            raise to_application_error(exc) from None

    async def _look(self) -> SmartlockAuth | None:
        """One listing of the lock's auths, for a new auth that matches."""
        input = self._input
        auths = await self._through_transient(lambda: self._list_auths(input.smartlock_id))
        return _new_match(auths, input)

    async def _code_listed(self) -> bool:
        """Whether a listed auth holds the code (ours would have matched: someone else's)."""
        input = self._input
        auths = await self._through_transient(lambda: self._list_auths(input.smartlock_id))
        return any(auth.code == input.desired.code for auth in auths)

    async def _find(self, *, until: float, since: float | None = None) -> SmartlockAuth | None:
        """List the lock's auths for a match until ``until`` (epoch seconds): at once, then
        after 0.25 s growing to 0.5 s (the fast polling of ``timing``). Transient errors cost
        a read, not the attempt. ``since``: when this attempt's create was accepted
        (``time.monotonic()``); the first listing then waits for the lock's learned pace."""
        input, progress = self._input, self._progress
        interval = input.timing.fast_first_interval_seconds
        pace = self._pace if since is not None else None
        if pace is not None and since is not None:
            await pace.before_first_read(
                input.smartlock_id, since, input.timing, latest=first_read_by()
            )
        first_read = True
        while True:
            progress.reads += 1
            wait = interval
            sent_at = time.monotonic()
            try:
                found = _new_match(await self._list_auths(input.smartlock_id), input)
            except NukiError as exc:
                if not exc.retryable:
                    raise
                found = None
                wait = max(wait, _advised_wait(exc))
            if found is not None:
                if pace is not None and since is not None:
                    pace.settled(input.smartlock_id, since, first_read=first_read, at=sent_at)
                return found
            first_read = False
            if time.time() + wait > until:
                return None
            await asyncio.sleep(wait)
            interval = min(interval * 1.5, input.timing.fast_max_interval_seconds)

    async def _through_transient(self, read: Callable[[], Awaitable[T]]) -> T:
        """One read; 5xx, 429 (after its Retry-After) and transport errors are retried here for
        up to one fast window, so a stray fault does not cost the attempt (and grow the retry
        policy's back-off)."""
        input, progress = self._input, self._progress
        interval = input.timing.fast_first_interval_seconds
        give_up = time.monotonic() + input.timing.fast_window_seconds
        while True:
            progress.reads += 1
            try:
                return await read()
            except NukiError as exc:
                wait = max(interval, _advised_wait(exc))
                if not exc.retryable or time.monotonic() + wait > give_up:
                    raise
            await asyncio.sleep(wait)
            interval = min(interval * 1.5, input.timing.fast_max_interval_seconds)


def _new_match(auths: list[SmartlockAuth], input: CreateAuthInput) -> SmartlockAuth | None:
    existing = frozenset(input.existing_ids or ())
    for auth in auths:
        if auth.id not in existing and matches(auth, input.desired, input.auth_type):
            return auth
    return None


def _advised_wait(exc: NukiError) -> float:
    if isinstance(exc, NukiRateLimitedError) and exc.retry_after is not None:
        return exc.retry_after
    return 0.0
