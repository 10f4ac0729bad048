"""``nukiflow reconcile``: read the differences between what nukiflow wants and what the locks
hold (``plan``, a dry run like ``terraform plan``), and fix them through a rollout (``apply``).

What apply does with each kind of difference (decisions):

- **drifted**: the entity writes its desired state again, through the normal write path
  (write, wait, read back, compare; rewrites). The rollout item is an update whose one field is
  the desired ``enabled`` (the desired value, so the merged state is the desired state); the
  entity always writes the full auth, code included, so whichever field drifted is written
  back. The entity keeps its drift policy; the write ends ``drifted`` (``in_sync`` once it lands).
- **unmanaged**: nothing, unless ``delete_unmanaged``: then unmanaged keypad codes are deleted
  (each through an entity started for it, verified like any delete). App, fob and bridge auths
  are only listed: one of them may be the account owner's own access or the Web API's.
- **disappeared**: only listed. An auth deleted on the lock cannot be written again under its
  id (Nuki never reuses one); create it anew if it is still wanted (``nukiflow auth create``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from temporalio.client import Client

from nukiflow.contracts.auth import AuthPatch
from nukiflow.contracts.names import RECONCILE_PLAN_WORKFLOW
from nukiflow.contracts.reconcile import ReconcilePlan, ReconcilePlanInput
from nukiflow.contracts.rollout_plan import RolloutItem, RolloutOp
from nukiflow.fleet.rollouts import RolloutHandle
from nukiflow.fleet.service import Fleet

RECONCILE_PLAN_PREFIX = "nuki-reconcile-plan-"
ROLLOUT_NAME = "reconcile"
# The plan's reading may retry Nuki for ten minutes (workflows/reconcile_plan.py).
PLAN_TIMEOUT = timedelta(minutes=15)


async def plan_reconcile(
    client: Client, task_queue: str, smartlock_ids: Sequence[int] | None = None
) -> ReconcilePlan:
    """Read the plan (in a worker on ``task_queue``, which holds the Nuki token); writes
    nothing. Raises ``WorkflowFailureError`` when it could not be read (the cause says why)."""
    plan: ReconcilePlan = await client.execute_workflow(
        RECONCILE_PLAN_WORKFLOW,
        ReconcilePlanInput(smartlock_ids=sorted(set(smartlock_ids)) if smartlock_ids else None),
        id=RECONCILE_PLAN_PREFIX + uuid.uuid4().hex,
        task_queue=task_queue,
        result_type=ReconcilePlan,
        # Without a worker the plan is not read: it ends instead of waiting for good.
        execution_timeout=PLAN_TIMEOUT,
        static_summary="reconcile plan (read only)",
    )
    return plan


def reconcile_items(plan: ReconcilePlan, *, delete_unmanaged: bool = False) -> list[RolloutItem]:
    """The rollout items that fix ``plan`` (see the module's docstring for what each does)."""
    items = [
        RolloutItem(
            op=RolloutOp.UPDATE,
            smartlock_id=drifted.smartlock_id,
            auth_id=drifted.auth_id,
            patch=AuthPatch(enabled=drifted.rewrite_enabled),
        )
        for drifted in plan.drifted
    ]
    if delete_unmanaged:
        items += [
            RolloutItem(op=RolloutOp.DELETE, smartlock_id=u.smartlock_id, auth_id=u.auth_id)
            for u in plan.unmanaged
            if u.deletable
        ]
    return items


def reconcile_rollout_id(now: datetime | None = None) -> str:
    """A rollout id of its own for every apply: the same fix made again next week must start a
    rollout, not attach to last week's (a rollout's default id is its plan's hash)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"reconcile-{stamp}-{uuid.uuid4().hex[:6]}"


async def apply_reconcile(
    fleet: Fleet,
    plan: ReconcilePlan,
    *,
    delete_unmanaged: bool = False,
    rollout_id: str | None = None,
) -> RolloutHandle | None:
    """Start the rollout that fixes ``plan``; None when there is nothing it would do. Passing
    the same ``rollout_id`` again attaches to that rollout."""
    items = reconcile_items(plan, delete_unmanaged=delete_unmanaged)
    if not items:
        return None
    return await fleet.apply_rollout(
        items, rollout_id=rollout_id or reconcile_rollout_id(), name=ROLLOUT_NAME
    )
