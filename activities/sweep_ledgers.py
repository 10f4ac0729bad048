"""What the drift ledgers already hold, so the sweep sends an unmanaged auth to its lock's ledger
only when the ledger does not know it as listed.

Without it every sweep would cost three Temporal calls per unmanaged auth (a signal that finds no
entity, a look-up, a signal-with-start of the ledger) and grow each ledger by a signal per auth,
for nothing new. One ``state`` query per lock replaces that in the steady state. A ledger that
cannot be asked (none yet, no answer) knows nothing: its auths are sent as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import timedelta

from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from nukiflow.contracts.drift import DriftLedgerView, UnmanagedAuth
from nukiflow.contracts.events import drift_ledger_workflow_id
from nukiflow.contracts.names import STATE_QUERY
from nukiflow.contracts.wire import SmartlockAuth

QUERY_TIMEOUT = timedelta(seconds=10)

Known = dict[int, dict[str, UnmanagedAuth]]


async def ledger_entries(client: Client, smartlock_ids: Iterable[int], concurrency: int) -> Known:
    """Per lock, the ledger's entries by auth id (empty where there is no ledger to ask)."""
    gate = asyncio.Semaphore(concurrency)

    async def entries(smartlock_id: int) -> tuple[int, dict[str, UnmanagedAuth]]:
        async with gate:
            handle = client.get_workflow_handle(drift_ledger_workflow_id(smartlock_id))
            try:
                view: DriftLedgerView = await handle.query(
                    STATE_QUERY, result_type=DriftLedgerView, rpc_timeout=QUERY_TIMEOUT
                )
            except (RPCError, WorkflowQueryFailedError):
                return smartlock_id, {}
        return smartlock_id, {entry.auth_id: entry for entry in view.entries}

    return dict(await asyncio.gather(*(entries(i) for i in sorted(set(smartlock_ids)))))


def held_as_listed(known: Known, auth: SmartlockAuth) -> bool:
    """Whether the lock's ledger already holds ``auth`` exactly as listed (same last change)."""
    entry = known.get(auth.smartlock_id, {}).get(auth.id.lower())
    return (
        entry is not None
        and not entry.deleted
        and entry.update_date is not None
        and entry.update_date == auth.update_date
        and (entry.name, entry.type, entry.enabled) == (auth.name, auth.type, auth.enabled)
    )
