"""Which account holds a lock: asked of Nuki once, cached for a while.

A caller that names the account (``account=``, ``--account``) is taken at its word. Otherwise
:class:`AccountResolver` lists the locks of every account (``GET /smartlock``, one request per
account, all accounts at once), keeps the answer for ``ttl`` seconds and looks the lock up; a
lock it does not know (added since, or moved) triggers one fresh listing before it is refused,
and :meth:`AccountResolver.forget` drops a lock whose account answered 404 or 401 for it, so
the next call asks again. Listings are single-flight: concurrent lookups share one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Protocol

from nukiflow.contracts.accounts import account_label
from nukiflow.contracts.validation import InputError
from nukiflow.contracts.wire import Smartlock

DEFAULT_TTL_SECONDS = 300.0


class LockLister(Protocol):
    """What the resolver needs of a Nuki client (a ``NukiClient``)."""

    async def list_smartlocks(self) -> list[Smartlock]: ...


class LockNotInAnyAccount(InputError):
    """No configured account holds the lock (a mistyped id, or an account not configured)."""


class AccountResolver:
    """Smartlock id -> account name (``None``: the default account), cached with a TTL."""

    def __init__(
        self, clients: Mapping[str | None, LockLister], *, ttl: float = DEFAULT_TTL_SECONDS
    ) -> None:
        self._clients = dict(clients)
        self._ttl = ttl
        self._owners: dict[int, str | None] = {}
        self._problems: list[str] = []
        self._listed_at: float | None = None
        self._lock = asyncio.Lock()
        # How many times every account was listed (for tests and the benchmark).
        self.listings = 0

    @property
    def accounts(self) -> Sequence[str | None]:
        return list(self._clients)

    async def account_of(self, smartlock_id: int) -> str | None:
        """The account that holds ``smartlock_id``; :class:`LockNotInAnyAccount` if none does."""
        if not self._stale() and smartlock_id in self._owners:
            return self._owners[smartlock_id]
        await self._relist(since=self._listed_at)
        if smartlock_id in self._owners:
            return self._owners[smartlock_id]
        names = ", ".join(account_label(name) for name in self._clients) or "none"
        unread = "".join(f"; {problem}" for problem in self._problems)
        raise LockNotInAnyAccount(
            f"smartlock {smartlock_id} is in none of the configured Nuki accounts ({names}): "
            f"check the id, or give its account explicitly (--account / account=){unread}"
        )

    def forget(self, smartlock_id: int) -> None:
        """Drop what is known of ``smartlock_id`` (its account answered 404 or 401 for it)."""
        self._owners.pop(smartlock_id, None)

    def _stale(self) -> bool:
        return self._listed_at is None or time.monotonic() - self._listed_at >= self._ttl

    async def _relist(self, *, since: float | None) -> None:
        async with self._lock:
            if self._listed_at != since:
                return  # another lookup listed while this one waited
            names = list(self._clients)
            answers = await asyncio.gather(
                *(self._clients[name].list_smartlocks() for name in names),
                return_exceptions=True,
            )
            owners: dict[int, str | None] = {}
            problems: list[str] = []
            for name, locks in zip(names, answers, strict=True):
                if isinstance(locks, BaseException):
                    # One account that cannot be listed (credentials revoked) does not stop
                    # the others; its locks keep the account they had.
                    if not isinstance(locks, Exception):
                        raise locks
                    problems.append(f"{account_label(name)} could not be listed: {locks}")
                    owners.update({k: v for k, v in self._owners.items() if v == name})
                    continue
                for lock in locks:
                    owners.setdefault(lock.smartlock_id, name)
            self._owners = owners
            self._problems = problems
            self._listed_at = time.monotonic()
            self.listings += 1
