"""The last listing of each lock's auths this worker fetched, so the base reads of several
changes to one lock's auths cost one request.

An update replaces the whole auth, so the entity reads the auth as Nuki holds it before its
first change (the *base*: it supplies the fields the change does not set). ``GET
/smartlock/{id}/auth`` answers for every auth of the lock at the price of one ``GET
/smartlock/{id}/auth/{authId}``; a base read may be answered from a listing of the lock this
worker sent at most ``max_age`` seconds ago, and concurrent base reads of one lock share one
listing request (single flight).

Why a base up to ``max_age`` old weakens nothing: the base only supplies the fields the change
does not set, and a base is already as old as the write's retries today (a 423 or an offline
lock keeps the write retrying with the same base for minutes to hours). What an older base can
miss is an edit made elsewhere (the Nuki app) to a field the change leaves out, between the
listing and the change; the same edit made while a write retries is missed the same way today,
so the age adds at most ``max_age`` to a window that exists already. Every write is still read
back and compared field by field, and rewritten when it did not land. The listing is never
used where it would be older than what this worker knows:

- an auth this worker wrote (update, delete, create) after the listing was sent is not served
  from it: the write's request ended after the listing went out, so the listing may show the
  auth from before the write;
- an auth missing from the listing, or listed with an ``operationId`` (an operation pending),
  is not served either: the caller reads it with its own ``GET``, which also decides a 404
  as before;
- a listing that failed fails the reads that waited for it, as their ``GET`` would have failed
  (429, 5xx and transport errors are retried by the activity's retry policy, 401 and 403 are
  final); a 404 (the lock not found) or a listing not understood leaves the decision to the
  caller's own ``GET``.

Only the entity's base read uses it (``ReadAuthInput.listed_within_seconds``); reads after a
write, waits, looks and drift checks always ``GET``. What it does not cover: the listing lives
in this worker's memory, so workers of one deployment do not share their listings (each shares
among the changes it runs). Bounded: at most ``MAX_LOCKS`` locks (least recently used first
out), and nothing older than ``MAX_AGE_SECONDS`` is ever served (larger ages are capped).
Keypad codes in the listing stay in memory for that long and are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from nukiflow.activities.nuki_errors import NukiNotFoundError
from nukiflow.contracts.timing import MAX_BASE_READ_AGE_SECONDS
from nukiflow.contracts.wire import SmartlockAuth

# Locks whose last listing (and this worker's recent writes to their auths) one worker keeps.
MAX_LOCKS = 2_000
# The oldest listing ever served, whatever a read asks for (also how long a write is remembered).
MAX_AGE_SECONDS = MAX_BASE_READ_AGE_SECONDS

ListAuths = Callable[[int], Awaitable[list[SmartlockAuth]]]
Clock = Callable[[], float]


@dataclass
class _Listing:
    # When its request was sent (the clock's time): it shows the lock as of no earlier.
    sent_at: float
    auths: dict[str, SmartlockAuth]


@dataclass
class _Lock:
    # When this record was made: writes before it are not known, so listings sent before it
    # are never served.
    since: float
    listing: _Listing | None = None
    fetching: asyncio.Task[_Listing] | None = None
    # Auth id -> when this worker's last write request to it ended (sent, answered or failed).
    written: dict[str, float] = field(default_factory=dict)


class LockListings:
    """Per lock, the last listing of its auths and this worker's writes since (see the module
    docstring). ``list_auths`` lists a lock's auths; ``clock`` is monotonic seconds."""

    def __init__(
        self,
        list_auths: ListAuths,
        *,
        clock: Clock = time.monotonic,
        max_locks: int = MAX_LOCKS,
    ) -> None:
        self._list_auths = list_auths
        self._clock = clock
        self._max_locks = max_locks
        self._locks: OrderedDict[int, _Lock] = OrderedDict()

    async def listed(
        self, smartlock_id: int, auth_id: str, *, max_age: float
    ) -> SmartlockAuth | None:
        """The auth as a listing of the lock sent at most ``max_age`` seconds ago shows it,
        fetching one (shared with concurrent callers) when there is none; ``None``: the caller
        reads the auth itself (not listed, pending, written since, or the listing failed)."""
        max_age = min(max_age, MAX_AGE_SECONDS)
        record = self._record(smartlock_id)
        listing = record.listing
        if listing is None or self._clock() - listing.sent_at > max_age:
            task = record.fetching
            if task is None:
                task = record.fetching = asyncio.create_task(self._fetch(smartlock_id, record))
                task.add_done_callback(_retrieve)
            try:
                # Shielded: a caller cancelled (its activity was) leaves the listing to the rest.
                listing = await asyncio.shield(task)
            except NukiNotFoundError:
                return None
            except ValueError:
                # A listing Nuki sent in a shape not understood (one odd auth would do): the
                # auth's own GET may still be read.
                return None
        return self._serve(smartlock_id, auth_id, listing, max_age)

    async def list(self, smartlock_id: int) -> list[SmartlockAuth]:
        """List the lock's auths now (for a caller that needs the listing itself: a create's
        snapshot) and keep the listing for base reads."""
        record = self._record(smartlock_id)
        sent_at = self._clock()
        auths = await self._list_auths(smartlock_id)
        self._keep(record, _Listing(sent_at, {auth.id: auth for auth in auths}))
        return auths

    def wrote(self, smartlock_id: int, auth_id: str) -> None:
        """A write request to the auth ended now (whatever its answer): listings sent before
        now are not served for it."""
        record = self._record(smartlock_id)
        now = self._clock()
        record.written[auth_id] = now
        # Forget writes no listing that could still be served predates.
        stale = [a for a, at in record.written.items() if now - at > MAX_AGE_SECONDS]
        for old in stale:
            del record.written[old]

    def _serve(
        self, smartlock_id: int, auth_id: str, listing: _Listing, max_age: float
    ) -> SmartlockAuth | None:
        record = self._locks.get(smartlock_id)
        if record is None or record.since > listing.sent_at:
            return None  # forgotten meanwhile: writes since the listing are not known
        if self._clock() - listing.sent_at > max_age:
            return None  # the listing request took longer than the age allows
        written = record.written.get(auth_id)
        if written is not None and written >= listing.sent_at:
            return None
        auth = listing.auths.get(auth_id)
        if auth is None or auth.operation_id is not None:
            return None
        return auth

    async def _fetch(self, smartlock_id: int, record: _Lock) -> _Listing:
        try:
            sent_at = self._clock()
            auths = await self._list_auths(smartlock_id)
            listing = _Listing(sent_at, {auth.id: auth for auth in auths})
            self._keep(record, listing)
            return listing
        finally:
            record.fetching = None

    def _keep(self, record: _Lock, listing: _Listing) -> None:
        if record.listing is None or record.listing.sent_at < listing.sent_at:
            record.listing = listing

    def _record(self, smartlock_id: int) -> _Lock:
        record = self._locks.get(smartlock_id)
        if record is None:
            record = self._locks[smartlock_id] = _Lock(since=self._clock())
            while len(self._locks) > self._max_locks:
                self._locks.popitem(last=False)
        self._locks.move_to_end(smartlock_id)
        return record


def _retrieve(task: asyncio.Task[_Listing]) -> None:
    """Mark a listing's failure as seen: its callers handle it, but all of them may have gone
    (cancelled) before it ended."""
    with contextlib.suppress(asyncio.CancelledError):
        task.exception()
