"""The drift sweep's activity: list the account's auths once and report each where it belongs.

One attempt: the running entities (Temporal visibility, one paged listing), the account's
locks (``GET /smartlock``) and every auth of the account (``GET /smartlock/auth``, one request
whatever the number of auths), then one report per auth, sent ``concurrency`` at a time with
a heartbeat between batches:

- a listed auth goes to its entity (``nuki_auth_event``), or to the lock's drift ledger when no
  entity runs for it, exactly as the webhook receiver routes a ``DEVICE_AUTHS`` delivery (the
  same :class:`~nukiflow.webhooks.forwarder.Forwarder` does it), except an unmanaged auth its
  ledger already holds as listed (:mod:`~nukiflow.activities.sweep_ledgers`): nothing new;
- an auth whose entity runs on a lock of this account but which the listing no longer holds is
  reported deleted to its entity.

The signals go from here rather than from the workflow, so the sweep's history stays a
handful of events for any number of auths. A retried attempt sends the same reports again;
their digests make the second copy a no-op for the entities and the ledgers.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from temporalio import activity

from nukiflow.activities.failures import to_application_error
from nukiflow.activities.managed_auths import managed_auths
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.activities.nuki_errors import NukiError
from nukiflow.activities.sweep_ledgers import held_as_listed, ledger_entries
from nukiflow.contracts.names import SWEEP_ACCOUNT_ACTIVITY
from nukiflow.contracts.sweep import SweepInput, SweepResult, gone_report, listed_report
from nukiflow.webhooks.counters import Counters
from nukiflow.webhooks.forwarder import Forwarder, ForwardingPolicy


class SweepActivities:
    def __init__(self, nuki: NukiClient) -> None:
        self.nuki = nuki

    @activity.defn(name=SWEEP_ACCOUNT_ACTIVITY)
    async def sweep_account(self, input: SweepInput) -> SweepResult:
        info = activity.info()
        client = activity.client()
        # Entities first: an entity listed now had its auth on the lock before the listing
        # below was taken, so "not listed" means gone, not "created after the listing".
        managed = await managed_auths(client, info.task_queue)
        try:
            locks = await self.nuki.list_smartlocks()
            auths = await self.nuki.list_all_auths()
        except NukiError as exc:
            raise to_application_error(exc) from None
        listed_at = datetime.now(UTC)
        activity.heartbeat(0)
        account_locks = {lock.smartlock_id for lock in locks}
        listed = {(auth.smartlock_id, auth.id.lower()) for auth in auths}
        managed_keys = {(m.smartlock_id, m.auth_id) for m in managed}
        unmanaged = [a for a in auths if (a.smartlock_id, a.id.lower()) not in managed_keys]
        known = await ledger_entries(client, (a.smartlock_id for a in unmanaged), input.concurrency)
        unchanged = {id(a) for a in unmanaged if held_as_listed(known, a)}
        activity.heartbeat(0)
        reports = [listed_report(auth, listed_at) for auth in auths if id(auth) not in unchanged]
        # Only entities on this account's locks: another account's locks are another sweep's.
        gone = [
            gone_report(m.smartlock_id, m.auth_id, listed_at)
            for m in managed
            if m.smartlock_id in account_locks and (m.smartlock_id, m.auth_id) not in listed
        ]
        policy = ForwardingPolicy(give_up_after_seconds=input.heartbeat_timeout_seconds / 2)
        # Give up on one report within the attempt; the next sweep reports it again.
        listed_counts, gone_counts = Counters(), Counters()
        to_listed = Forwarder(client, info.task_queue, listed_counts, policy=policy)
        to_gone = Forwarder(client, info.task_queue, gone_counts, policy=policy)
        work = [(report, to_listed) for report in reports] + [(r, to_gone) for r in gone]
        done = 0
        for start in range(0, len(work), input.concurrency):
            batch = work[start : start + input.concurrency]
            await asyncio.gather(*(forwarder.forward(event) for event, forwarder in batch))
            done += len(batch)
            activity.heartbeat(done)
        return SweepResult(
            smartlocks=len(account_locks),
            auths=len(auths),
            to_entities=listed_counts.forwarded,
            to_ledgers=listed_counts.unmanaged,
            unchanged=len(unchanged),
            disappeared=gone_counts.forwarded,
            ignored=listed_counts.ignored + gone_counts.ignored + gone_counts.unmanaged,
            failed=listed_counts.failed + gone_counts.failed,
            listed_at=listed_at,
        )
