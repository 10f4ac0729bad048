"""Which auths nukiflow manages: the running auth entities, read from Temporal's visibility.

One paged listing (``NukiKind = 'auth'``, running, on the task queue) instead of a call per
auth; the entity keeps ``NukiSmartlockId`` and ``NukiAuthId`` current from its first task. The
sweep and ``nukiflow reconcile`` both use it. Visibility lags a few seconds behind: an entity
started a moment ago may be missing (its auth then looks unmanaged once), never the other way
round, since a running entity stays listed until it ends.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from temporalio.client import Client

from nukiflow.contracts import search_attributes as sa
from nukiflow.contracts.entity import auth_workflow_id


@dataclass(frozen=True, order=True)
class ManagedAuth:
    smartlock_id: int
    auth_id: str

    @property
    def workflow_id(self) -> str:
        return auth_workflow_id(self.smartlock_id, self.auth_id)


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def managed_query(task_queue: str, smartlock_ids: Collection[int] | None = None) -> str:
    query = (
        f"{sa.KIND.name} = 'auth' AND ExecutionStatus = 'Running' "
        f"AND TaskQueue = {_quoted(task_queue)}"
    )
    if smartlock_ids:
        ids = ", ".join(str(int(i)) for i in sorted(set(smartlock_ids)))
        query += f" AND {sa.SMARTLOCK_ID.name} IN ({ids})"
    return query


async def managed_auths(
    client: Client, task_queue: str, smartlock_ids: Collection[int] | None = None
) -> list[ManagedAuth]:
    """The auths whose entity runs on ``task_queue`` (on these locks only, if given)."""
    found: set[ManagedAuth] = set()
    async for execution in client.list_workflows(managed_query(task_queue, smartlock_ids)):
        attributes = execution.typed_search_attributes
        smartlock_id = attributes.get(sa.SMARTLOCK_ID)
        auth_id = attributes.get(sa.AUTH_ID)
        if smartlock_id is None or auth_id is None:
            continue
        if execution.id != auth_workflow_id(smartlock_id, auth_id):
            continue  # not an entity of ours (someone else's workflow with these attributes)
        found.add(ManagedAuth(smartlock_id, auth_id))
    return sorted(found)
