"""The listings base reads may share (:mod:`nukiflow.activities.lock_listings`), on a lister
the test controls and a clock it sets: which reads a listing answers, when it is fetched again,
and that concurrent reads of one lock share one request."""

from __future__ import annotations

import asyncio

import pytest

from nukiflow.activities.lock_listings import MAX_AGE_SECONDS, LockListings
from nukiflow.activities.nuki_errors import (
    NukiForbiddenError,
    NukiNotFoundError,
    NukiServerError,
)
from nukiflow.contracts.wire import SmartlockAuth

LOCK, OTHER_LOCK, THIRD_LOCK = 101, 202, 303
A, B, C = "a" * 24, "b" * 24, "c" * 24


def auth(auth_id: str, lock: int = LOCK, *, pending: bool = False) -> SmartlockAuth:
    return SmartlockAuth(
        id=auth_id,
        smartlock_id=lock,
        type=13,
        name=f"guest {auth_id[0]}",
        code=535353,
        enabled=True,
        remote_allowed=False,
        operation_id="f" * 24 if pending else None,
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Lister:
    """Answers listings from ``auths`` (per lock); ``gate`` holds them until set; ``error`` is
    raised instead of answering."""

    def __init__(self) -> None:
        self.auths: dict[int, list[SmartlockAuth]] = {
            LOCK: [auth(A), auth(B)],
            OTHER_LOCK: [auth(A, OTHER_LOCK)],
            THIRD_LOCK: [auth(A, THIRD_LOCK)],
        }
        self.calls: list[int] = []
        self.entered = asyncio.Event()
        self.gate: asyncio.Event | None = None
        self.error: Exception | None = None

    async def __call__(self, smartlock_id: int) -> list[SmartlockAuth]:
        self.calls.append(smartlock_id)
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return list(self.auths[smartlock_id])


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lister() -> Lister:
    return Lister()


@pytest.fixture
def listings(lister: Lister, clock: Clock) -> LockListings:
    return LockListings(lister, clock=clock)


async def test_reads_within_the_age_share_one_listing_and_an_older_one_is_fetched_again(
    listings: LockListings, lister: Lister, clock: Clock
) -> None:
    assert await listings.listed(LOCK, A, max_age=30) == auth(A)
    clock.now += 30
    assert await listings.listed(LOCK, B, max_age=30) == auth(B)
    assert lister.calls == [LOCK]
    clock.now += 0.5
    assert await listings.listed(LOCK, B, max_age=30) == auth(B)
    assert lister.calls == [LOCK, LOCK], "older than the age asked for: listed again"
    # Each lock has its own listing.
    assert await listings.listed(OTHER_LOCK, A, max_age=30) == auth(A, OTHER_LOCK)
    assert lister.calls == [LOCK, LOCK, OTHER_LOCK]


async def test_an_age_above_the_ceiling_is_capped(
    listings: LockListings, lister: Lister, clock: Clock
) -> None:
    await listings.listed(LOCK, A, max_age=10 * MAX_AGE_SECONDS)
    clock.now += MAX_AGE_SECONDS + 1
    await listings.listed(LOCK, A, max_age=10 * MAX_AGE_SECONDS)
    assert lister.calls == [LOCK, LOCK]


async def test_concurrent_reads_of_one_lock_share_one_listing_request(
    listings: LockListings, lister: Lister
) -> None:
    lister.gate = asyncio.Event()
    first = asyncio.create_task(listings.listed(LOCK, A, max_age=30))
    await lister.entered.wait()
    others = [asyncio.create_task(listings.listed(LOCK, auth_id, max_age=30)) for auth_id in (A, B)]
    lister.gate.set()
    assert [await first, *[await t for t in others]] == [auth(A), auth(A), auth(B)]
    assert lister.calls == [LOCK]


async def test_an_auth_written_since_the_listing_was_sent_is_not_served_from_it(
    listings: LockListings, lister: Lister, clock: Clock
) -> None:
    listings.wrote(LOCK, A)  # before the listing: the listing shows it as written
    clock.now += 1
    assert await listings.listed(LOCK, A, max_age=30) == auth(A)
    clock.now += 1
    listings.wrote(LOCK, A)
    assert await listings.listed(LOCK, A, max_age=30) is None
    assert await listings.listed(LOCK, B, max_age=30) == auth(B), "the lock's other auths are"
    assert lister.calls == [LOCK]
    listings.wrote(OTHER_LOCK, A)
    clock.now += 1
    assert await listings.listed(OTHER_LOCK, A, max_age=30) == auth(A, OTHER_LOCK)


async def test_a_write_that_ends_while_the_listing_is_under_way_is_not_served_from_it(
    listings: LockListings, lister: Lister, clock: Clock
) -> None:
    lister.gate = asyncio.Event()
    read = asyncio.create_task(listings.listed(LOCK, A, max_age=30))
    await lister.entered.wait()
    clock.now += 0.1
    listings.wrote(LOCK, A)
    lister.gate.set()
    assert await read is None
    assert await listings.listed(LOCK, B, max_age=30) == auth(B)


async def test_an_auth_not_listed_or_listed_pending_is_left_to_its_own_read(
    listings: LockListings, lister: Lister
) -> None:
    lister.auths[LOCK] = [auth(A), auth(B, pending=True)]
    assert await listings.listed(LOCK, C, max_age=30) is None
    assert await listings.listed(LOCK, B, max_age=30) is None
    assert await listings.listed(LOCK, A, max_age=30) == auth(A)
    assert lister.calls == [LOCK]


async def test_a_failed_listing_fails_the_read_unless_the_lock_was_not_found(
    listings: LockListings, lister: Lister
) -> None:
    """A 5xx or a 403 fails the read as its GET would have failed (retried or final); a 404
    or a listing not understood leaves the decision to the auth's own GET."""
    path = f"/smartlock/{LOCK}/auth"
    lister.error = NukiServerError("unavailable", status=503, method="GET", path=path)
    with pytest.raises(NukiServerError):
        await listings.listed(LOCK, A, max_age=30)
    lister.error = NukiForbiddenError("no scope", status=403, method="GET", path=path)
    with pytest.raises(NukiForbiddenError):
        await listings.listed(LOCK, A, max_age=30)
    lister.error = NukiNotFoundError("no such lock", status=404, method="GET", path=path)
    assert await listings.listed(LOCK, A, max_age=30) is None
    lister.error = ValueError("a listing in a shape not understood")
    assert await listings.listed(LOCK, A, max_age=30) is None
    lister.error = None
    assert await listings.listed(LOCK, A, max_age=30) == auth(A)
    assert lister.calls == [LOCK] * 5, "a failed listing is not kept"


async def test_a_listing_fetched_for_its_own_sake_is_kept_for_base_reads(
    listings: LockListings, lister: Lister, clock: Clock
) -> None:
    assert await listings.list(LOCK) == [auth(A), auth(B)]
    clock.now += 5
    assert await listings.listed(LOCK, B, max_age=30) == auth(B)
    assert lister.calls == [LOCK]
    listings.wrote(LOCK, B)
    assert await listings.listed(LOCK, B, max_age=30) is None


async def test_a_reader_cancelled_leaves_the_listing_to_the_others(
    listings: LockListings, lister: Lister
) -> None:
    lister.gate = asyncio.Event()
    first = asyncio.create_task(listings.listed(LOCK, A, max_age=30))
    await lister.entered.wait()
    second = asyncio.create_task(listings.listed(LOCK, B, max_age=30))
    await asyncio.sleep(0)
    first.cancel()
    lister.gate.set()
    assert await second == auth(B)
    with pytest.raises(asyncio.CancelledError):
        await first
    assert lister.calls == [LOCK]


async def test_at_most_max_locks_are_kept_and_a_forgotten_lock_serves_nothing_older(
    lister: Lister, clock: Clock
) -> None:
    listings = LockListings(lister, clock=clock, max_locks=2)
    await listings.listed(LOCK, A, max_age=30)
    await listings.listed(OTHER_LOCK, A, max_age=30)
    await listings.listed(THIRD_LOCK, A, max_age=30)  # LOCK is forgotten
    assert await listings.listed(LOCK, A, max_age=30) == auth(A)
    assert lister.calls == [LOCK, OTHER_LOCK, THIRD_LOCK, LOCK]

    # A listing under way while its lock is forgotten (and its writes with it) is not served:
    # a write recorded after the lock was forgotten may be missing from what it knows.
    lister.gate, lister.entered = asyncio.Event(), asyncio.Event()
    clock.now += 60
    read = asyncio.create_task(listings.listed(OTHER_LOCK, A, max_age=30))
    await lister.entered.wait()
    clock.now += 0.1
    await listings.listed(LOCK, A, max_age=300)
    listings.wrote(THIRD_LOCK, A)  # OTHER_LOCK is forgotten
    clock.now += 0.1
    listings.wrote(OTHER_LOCK, C)  # a new record: writes before it are not known
    lister.gate.set()
    assert await read is None
