"""The reading behind ``nukiflow reconcile plan``, done in a worker (which holds the Nuki token):
the running entities (Temporal visibility), the account's locks and every auth of the account
(two requests), and each entity's ``state`` query, ``concurrency`` at a time. It writes nothing
and signals nothing: a plan is a dry run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from temporalio import activity
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

from nukiflow.activities.failures import to_application_error
from nukiflow.activities.managed_auths import ManagedAuth, managed_auths
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.activities.nuki_errors import NukiError
from nukiflow.contracts.entity import AuthEntityView
from nukiflow.contracts.names import RECONCILE_PLAN_ACTIVITY, STATE_QUERY
from nukiflow.contracts.reconcile import (
    MAX_PLAN_ENTRIES,
    DisappearedAuth,
    DriftedAuth,
    ReconcilePlan,
    ReconcilePlanInput,
    SkippedAuth,
    UnmanagedOnLock,
    judge,
)
from nukiflow.contracts.wire import SmartlockAuth

QUERY_TIMEOUT = timedelta(seconds=10)


class ReconcileActivities:
    def __init__(self, nuki: NukiClient) -> None:
        self.nuki = nuki

    @activity.defn(name=RECONCILE_PLAN_ACTIVITY)
    async def plan(self, input: ReconcilePlanInput) -> ReconcilePlan:
        client = activity.client()
        task_queue = activity.info().task_queue
        wanted = set(input.smartlock_ids) if input.smartlock_ids else None
        # Entities before the listing: an entity seen here had its auth on the lock before.
        managed = await managed_auths(client, task_queue, wanted)
        try:
            locks = await self.nuki.list_smartlocks()
            auths = await self.nuki.list_all_auths()
        except NukiError as exc:
            raise to_application_error(exc) from None
        listed_at = datetime.now(UTC)
        account = {lock.smartlock_id for lock in locks}
        selected = account if wanted is None else account & wanted
        held: dict[tuple[int, str], SmartlockAuth] = {
            (a.smartlock_id, a.id.lower()): a for a in auths if a.smartlock_id in selected
        }
        managed = [m for m in managed if m.smartlock_id in selected]
        plan = ReconcilePlan(
            smartlocks=sorted(selected),
            unknown_smartlocks=sorted((wanted or set()) - account),
            auths_listed=len(held),
            managed=len(managed),
            listed_at=listed_at,
        )
        gate = asyncio.Semaphore(input.concurrency)
        done = 0

        async def view_of(auth: ManagedAuth) -> AuthEntityView | str:
            nonlocal done
            async with gate:
                handle = client.get_workflow_handle(auth.workflow_id)
                try:
                    view: AuthEntityView = await handle.query(
                        STATE_QUERY, result_type=AuthEntityView, rpc_timeout=QUERY_TIMEOUT
                    )
                except (RPCError, WorkflowQueryFailedError) as exc:
                    return f"its state could not be read ({type(exc).__name__})"
                finally:
                    done += 1
                    activity.heartbeat(done)
                return view

        views = await asyncio.gather(*(view_of(m) for m in managed))
        managed_keys = {(m.smartlock_id, m.auth_id) for m in managed}
        drifted: list[DriftedAuth] = []
        disappeared: list[DisappearedAuth] = []
        skipped: list[SkippedAuth] = []
        for auth, view in zip(managed, views, strict=True):
            if isinstance(view, str):
                skipped.append(
                    SkippedAuth(smartlock_id=auth.smartlock_id, auth_id=auth.auth_id, reason=view)
                )
                continue
            judged = judge(view, held.get((auth.smartlock_id, auth.auth_id)))
            if isinstance(judged, DriftedAuth):
                drifted.append(judged)
            elif isinstance(judged, DisappearedAuth):
                disappeared.append(judged)
            elif isinstance(judged, SkippedAuth):
                skipped.append(judged)
        unmanaged = [
            UnmanagedOnLock(
                smartlock_id=a.smartlock_id,
                auth_id=key[1],
                name=a.name,
                type=a.type,
                enabled=a.enabled,
            )
            for key, a in sorted(held.items())
            if key not in managed_keys
        ]
        omitted = 0
        for entries in (drifted, disappeared, unmanaged):
            omitted += max(0, len(entries) - MAX_PLAN_ENTRIES)
        plan.drifted = drifted[:MAX_PLAN_ENTRIES]
        plan.disappeared = disappeared[:MAX_PLAN_ENTRIES]
        plan.skipped = skipped[:MAX_PLAN_ENTRIES]
        plan.unmanaged = unmanaged[:MAX_PLAN_ENTRIES]
        plan.omitted = omitted
        return plan
