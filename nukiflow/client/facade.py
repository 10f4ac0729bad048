"""The facade class: auth changes, creates and lock actions over one Temporal client."""

from __future__ import annotations

from temporalio.client import Client

from nukiflow.client.actions import LockActionCalls
from nukiflow.client.auths import AuthChangeCalls
from nukiflow.client.base import AccountLookup
from nukiflow.client.creates import AuthCreateCalls
from nukiflow.settings import Settings
from nukiflow.temporal.connect import connect_temporal


class NukiFlow(AuthChangeCalls, AuthCreateCalls, LockActionCalls):
    """Client facade. Build it with :meth:`connect` or from an existing Temporal client.

    ``NukiFlow(client, task_queue=..., timing=None, max_rewrites=3,
    auth_deadline=timedelta(hours=24), action_deadline=timedelta(seconds=60),
    drift_policy=DriftPolicy.ALERT, accounts=None, account=None, max_starting_per_account=32)``:
    the task queue of the nukiflow worker, the timing handed to the workflows it starts, the
    deadlines of calls that give none, the drift policy of the auth entities it starts, what
    finds the account of a lock a call names none for (an
    :class:`~nukiflow.accounts.AccountResolver`; without one such a call goes to the default
    account), the account of every call that names none, and how many new changes and actions
    of one account it hands to Temporal at once (each until accepted; the others wait in line).
    """

    @classmethod
    async def connect(cls, settings: Settings | None = None) -> NukiFlow:
        """Connect to Temporal as the settings say (encrypted payloads)."""
        settings = settings or Settings()
        return cls.from_settings(await connect_temporal(settings), settings)

    @classmethod
    def from_settings(
        cls, client: Client, settings: Settings, *, accounts: AccountLookup | None = None
    ) -> NukiFlow:
        """The facade the settings describe; ``accounts`` finds the account of a lock a call
        names none for (an :class:`~nukiflow.accounts.AccountResolver`)."""
        return cls(
            client,
            task_queue=settings.task_queue,
            timing=settings.workflow_timing(),
            max_rewrites=settings.max_rewrites,
            auth_deadline=settings.auth_change_deadline,
            action_deadline=settings.action_deadline,
            drift_policy=settings.drift_policy,
            accounts=accounts,
            account=settings.account,
        )
