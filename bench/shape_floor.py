"""The shape floor: what the bare Temporal operations of a rollout's verified change in
nukiflow's shape cost, with the device delay and none of nukiflow's workflow or activity code.

Every change of a rollout goes through its auth's own workflow, started (or reached) by an
Update-with-Start that the rollout's item activity sends, since a workflow cannot send one
itself; the auth's workflow calls the device in an activity and answers the update. Here each
of those steps is bare: a driver workflow runs the items (at most ``max_in_flight`` at a time),
each item is an activity sending Update-with-Start to a workflow of its own, whose update runs
one activity that waits the device delay (no HTTP, no polling, no read-back) and answers. The
auth-like workflows stay open afterwards, as entities do.

:func:`direct_floor` sends the same changes without the driver, each Update-with-Start from
the caller: what a change costs with no rollout at all.

Both workflows run outside the sandbox and the activities have no heartbeat timeout, as the
Temporal floor's empty workflow runs outside it; payloads go through the client's converter,
as nukiflow's do. The figure (device delay included, as in the rollout) is a lower bound of
what a design of this shape costs on this server and worker, not an estimate of nukiflow's.
One driver run holds every item's events (no continue-as-new), so it takes at most
:data:`MAX_SHAPE_CHANGES` changes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

SHAPE_ROLLOUT = "BenchShapeRollout"
SHAPE_ENTITY = "BenchShapeEntity"
SHAPE_ITEM_ACTIVITY = "bench.shape.item"
SHAPE_DEVICE_ACTIVITY = "bench.shape.device"
SHAPE_CHANGE_UPDATE = "change"
# About six events per item in the driver's one run, well within Temporal's 51,200.
MAX_SHAPE_CHANGES = 5_000
# Generous: the floor measures cost, not patience.
_ACTIVITY_TIMEOUT = timedelta(minutes=10)


@dataclass(frozen=True)
class ShapeChange:
    index: int
    device_delay: float


@dataclass(frozen=True)
class ShapeItem:
    entity_id: str
    task_queue: str
    change: ShapeChange


@dataclass(frozen=True)
class ShapePlan:
    prefix: str
    task_queue: str
    changes: int
    max_in_flight: int
    device_delay: float


@workflow.defn(name=SHAPE_ENTITY, sandboxed=False)
class ShapeEntity:
    """An auth's workflow reduced to its shape: open for good, one activity per change."""

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.update(name=SHAPE_CHANGE_UPDATE)
    async def change(self, change: ShapeChange) -> int:
        result: int = await workflow.execute_activity(
            SHAPE_DEVICE_ACTIVITY,
            change,
            start_to_close_timeout=_ACTIVITY_TIMEOUT,
            result_type=int,
        )
        return result


@workflow.defn(name=SHAPE_ROLLOUT, sandboxed=False)
class ShapeRollout:
    """A rollout reduced to its shape: one activity per item, at most ``max_in_flight`` at a
    time; answers each item's answer, in the items' order."""

    @workflow.run
    async def run(self, plan: ShapePlan) -> list[int]:
        gate = asyncio.Semaphore(plan.max_in_flight)

        async def item(index: int) -> int:
            async with gate:
                done: int = await workflow.execute_activity(
                    SHAPE_ITEM_ACTIVITY,
                    ShapeItem(
                        entity_id=f"{plan.prefix}-{index}",
                        task_queue=plan.task_queue,
                        change=ShapeChange(index=index, device_delay=plan.device_delay),
                    ),
                    start_to_close_timeout=_ACTIVITY_TIMEOUT,
                    result_type=int,
                )
                return done

        return list(await asyncio.gather(*(item(i) for i in range(plan.changes))))


async def _update_with_start(client: Client, item: ShapeItem) -> int:
    """Update-with-Start to the item's workflow, waiting for the update's answer. The update's
    id is the item's, so a retried call attaches to the same update, as nukiflow's do."""
    start: WithStartWorkflowOperation[Any, None] = WithStartWorkflowOperation(
        SHAPE_ENTITY,
        id=item.entity_id,
        task_queue=item.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    answer: int = await client.execute_update_with_start_workflow(
        SHAPE_CHANGE_UPDATE,
        item.change,
        start_workflow_operation=start,
        id=f"{item.entity_id}-change",
        result_type=int,
    )
    return answer


@activity.defn(name=SHAPE_ITEM_ACTIVITY)
async def shape_item(item: ShapeItem) -> int:
    """An item of the driver: its Update-with-Start, sent with the worker's client."""
    return await _update_with_start(activity.client(), item)


@activity.defn(name=SHAPE_DEVICE_ACTIVITY)
async def shape_device(change: ShapeChange) -> int:
    """The device: busy for its delay, then done."""
    await asyncio.sleep(change.device_delay)
    return change.index


SHAPE_WORKFLOWS: tuple[type, ...] = (ShapeRollout, ShapeEntity)
SHAPE_ACTIVITIES: tuple[Callable[..., Any], ...] = (shape_item, shape_device)


@dataclass(frozen=True)
class ShapeRun:
    seconds: float
    # The driver's workflow id (the direct floor has none: the prefix of its workflows' ids).
    prefix: str
    # The auth-like workflows it left open, in the items' order.
    entity_ids: tuple[str, ...]


def _checked(prefix: str, answers: list[int], changes: int, seconds: float) -> ShapeRun:
    """The run, once every change was answered by its own workflow's device activity."""
    if answers != list(range(changes)):
        raise RuntimeError(f"{prefix}: the changes were not each answered by their own")
    ids = tuple(f"{prefix}-{i}" for i in range(changes))
    return ShapeRun(seconds=seconds, prefix=prefix, entity_ids=ids)


async def shape_floor(
    client: Client, task_queue: str, *, changes: int, max_in_flight: int, device_delay: float
) -> ShapeRun:
    """``changes`` changes of the bare shape (see the module) through its driver, the workers
    on ``task_queue`` serving :data:`SHAPE_WORKFLOWS` and :data:`SHAPE_ACTIVITIES`."""
    if not 0 < changes <= MAX_SHAPE_CHANGES:
        raise ValueError(f"the shape floor takes 1 to {MAX_SHAPE_CHANGES:,} changes")
    prefix = "bench-shape-" + uuid.uuid4().hex[:8]
    plan = ShapePlan(
        prefix=prefix,
        task_queue=task_queue,
        changes=changes,
        max_in_flight=max_in_flight,
        device_delay=device_delay,
    )
    started = time.monotonic()
    answers = await client.execute_workflow(
        SHAPE_ROLLOUT, plan, id=prefix, task_queue=task_queue, result_type=list[int]
    )
    return _checked(prefix, answers, changes, time.monotonic() - started)


async def direct_floor(
    client: Client, task_queue: str, *, changes: int, max_in_flight: int, device_delay: float
) -> ShapeRun:
    """``changes`` changes of the shape without its driver: each Update-with-Start sent by the
    caller, at most ``max_in_flight`` at a time (no workflow, no item activity)."""
    prefix = "bench-direct-" + uuid.uuid4().hex[:8]
    gate = asyncio.Semaphore(max_in_flight)

    async def one(index: int) -> int:
        async with gate:
            return await _update_with_start(
                client,
                ShapeItem(
                    entity_id=f"{prefix}-{index}",
                    task_queue=task_queue,
                    change=ShapeChange(index=index, device_delay=device_delay),
                ),
            )

    started = time.monotonic()
    answers = list(await asyncio.gather(*(one(i) for i in range(changes))))
    return _checked(prefix, answers, changes, time.monotonic() - started)
