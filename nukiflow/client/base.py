"""What every part of the facade shares: the Temporal client, the worker's task queue, the
timing handed to new workflows, and the default deadlines, fixed as instants when called."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Protocol

from temporalio.client import Client
from temporalio.common import Priority

from nukiflow.contracts.accounts import check_account_name, workflow_queue
from nukiflow.contracts.action import MAX_DEADLINE
from nukiflow.contracts.auth import MAX_CHANGE_DEADLINE
from nukiflow.contracts.deadline import Deadline, resolve_deadline
from nukiflow.contracts.entity import DriftPolicy
from nukiflow.contracts.timing import WorkflowTiming

# How many new changes and actions of one account a facade hands to Temporal at once, each until
# Temporal accepted it (its workflow's first task ran): a caller's burst of hundreds sent at
# once reaches the server this many at a time, so the server is not flooded with starts while
# another account's change goes through it (bench/bench_accounts.py: its worst call beside
# such a burst 1.2-1.6x its unloaded time with 32, 2.1-4.3x without a bound). The burst is no
# slower: its workflows' first tasks run a few at a time in the worker anyway.
DEFAULT_MAX_STARTING_PER_ACCOUNT = 32


def account_priority(account: str | None) -> Priority:
    """The priority of a new workflow of ``account``: the account as its fairness key, so a
    server with task queue fairness (``matching.enableFairness``) hands out the tasks of every
    account in turn, on the workflows' queue as on the account's own (activities inherit it);
    a burst of one account then waits behind itself. Ignored by a server without it."""
    return Priority(fairness_key=account) if account is not None else Priority.default


class AccountLookup(Protocol):
    """Which account holds a lock (:class:`nukiflow.accounts.AccountResolver`)."""

    async def account_of(self, smartlock_id: int) -> str | None: ...

    def forget(self, smartlock_id: int) -> None: ...


class FacadeBase:
    """The facade's configuration (see :class:`~nukiflow.client.NukiFlow`)."""

    def __init__(
        self,
        client: Client,
        *,
        task_queue: str,
        timing: WorkflowTiming | None = None,
        max_rewrites: int = 3,
        auth_deadline: timedelta = timedelta(hours=24),
        action_deadline: timedelta = timedelta(seconds=60),
        drift_policy: DriftPolicy = DriftPolicy.ALERT,
        accounts: AccountLookup | None = None,
        account: str | None = None,
        max_starting_per_account: int = DEFAULT_MAX_STARTING_PER_ACCOUNT,
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        self.timing = timing or WorkflowTiming()
        self.max_rewrites = max_rewrites
        self.auth_deadline = auth_deadline
        self.action_deadline = action_deadline
        # The drift policy of the auth entities this facade starts (see README, Drift).
        self.drift_policy = drift_policy
        # Which account holds a lock the caller names no account for (None: the default).
        self.accounts = accounts
        # The account of calls that name none, before the resolver is asked.
        self.account = None if account is None else check_account_name(account)
        if max_starting_per_account < 1:
            raise ValueError("max_starting_per_account must be at least 1")
        self.max_starting_per_account = max_starting_per_account
        # Per account (the default one included), created on first use.
        self._starting: dict[str | None, asyncio.Semaphore] = {}

    def starting(self, account: str | None) -> asyncio.Semaphore:
        """Held while one new change or action of ``account`` is handed to Temporal, until it
        is accepted (see ``DEFAULT_MAX_STARTING_PER_ACCOUNT``); the caller's wait for its
        outcome is not."""
        if account not in self._starting:
            self._starting[account] = asyncio.Semaphore(self.max_starting_per_account)
        return self._starting[account]

    async def _account_for(self, smartlock_id: int, account: str | None) -> str | None:
        """The account of a new workflow on ``smartlock_id``: the call's (checked), else the
        facade's, else the resolver's answer, else the default account (``None``). Raises
        ``InputError``."""
        if account is not None:
            return check_account_name(account)
        if self.account is not None:
            return self.account
        if self.accounts is None:
            return None
        return await self.accounts.account_of(smartlock_id)

    def workflow_queue(self, account: str | None) -> str:
        """The task queue of a new entity, create or lock workflow of ``account``: the
        account's own workflow queue (``<task_queue>@<account>``), the task queue itself for
        the default account (see :func:`nukiflow.contracts.accounts.workflow_queue`)."""
        return workflow_queue(self.task_queue, account)

    async def account_for(self, smartlock_id: int, account: str | None = None) -> str | None:
        """The account calls on ``smartlock_id`` go to (see :meth:`_account_for`)."""
        return await self._account_for(smartlock_id, account)

    def _forget_account(self, smartlock_id: int) -> None:
        """The lock's account refused it (a failed outcome): ask again next time."""
        if self.accounts is not None:
            self.accounts.forget(smartlock_id)

    def _auth_deadline_at(self, deadline: Deadline | None) -> datetime:
        """The instant of an auth change's or create's deadline, fixed now."""
        return resolve_deadline(deadline, default=self.auth_deadline, maximum=MAX_CHANGE_DEADLINE)

    def _action_deadline_at(self, deadline: Deadline | None) -> datetime:
        """The instant of an action's deadline, fixed now."""
        return resolve_deadline(deadline, default=self.action_deadline, maximum=MAX_DEADLINE)
