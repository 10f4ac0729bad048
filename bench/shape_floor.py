"""The shape floor: what Temporal alone spends on the operations a rollout's verified change
cannot do without, with none of nukiflow's code.

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
Temporal floor's empty workflow runs outside it: the figure is a lower bound of what any
design of that shape costs on this server and worker, not an estimate of nukiflow's. The
fleet benchmark prints the rollout against it, and it against the Temporal floor.
"""

from __future__ import annotations

import asyncio
import time
import uuid
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
SHAPE_FINISH_SIGNAL = "finish"
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
    """An auth's workflow reduced to its shape: open until told to finish, one activity per
    change."""

    def __init__(self) -> None:
        self._finish = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._finish)

    @workflow.signal(name=SHAPE_FINISH_SIGNAL)
    def finish(self) -> None:
        self._finish = True

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
    time; answers how many items were answered."""

    @workflow.run
    async def run(self, plan: ShapePlan) -> int:
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

        answered = await asyncio.gather(*(item(i) for i in range(plan.changes)))
        return len(answered)


async def _update_with_start(client: Client, item: ShapeItem) -> int:
    """Update-with-Start to the item's workflow, waiting for the update's answer."""
    start: WithStartWorkflowOperation[Any, None] = WithStartWorkflowOperation(
        SHAPE_ENTITY,
        id=item.entity_id,
        task_queue=item.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    answer: int = await client.execute_update_with_start_workflow(
        SHAPE_CHANGE_UPDATE, item.change, start_workflow_operation=start, result_type=int
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
SHAPE_ACTIVITIES = (shape_item, shape_device)


@dataclass(frozen=True)
class ShapeRun:
    seconds: float
    # The auth-like workflows it left open.
    entity_ids: list[str]


async def shape_floor(
    client: Client, task_queue: str, *, changes: int, max_in_flight: int, device_delay: float
) -> ShapeRun:
    """Wall time of ``changes`` changes of the bare shape (see the module), the workers on
    ``task_queue`` serving :data:`SHAPE_WORKFLOWS` and :data:`SHAPE_ACTIVITIES`."""
    prefix = "bench-shape-" + uuid.uuid4().hex[:8]
    plan = ShapePlan(
        prefix=prefix,
        task_queue=task_queue,
        changes=changes,
        max_in_flight=max_in_flight,
        device_delay=device_delay,
    )
    started = time.monotonic()
    answered = await client.execute_workflow(
        SHAPE_ROLLOUT, plan, id=prefix, task_queue=task_queue, result_type=int
    )
    seconds = time.monotonic() - started
    if answered != changes:
        raise RuntimeError(f"the shape floor answered {answered} of {changes} changes")
    return ShapeRun(seconds=seconds, entity_ids=[f"{prefix}-{i}" for i in range(changes)])


async def direct_floor(
    client: Client, task_queue: str, *, changes: int, max_in_flight: int, device_delay: float
) -> ShapeRun:
    """Wall time of ``changes`` changes of the shape without its driver: each Update-with-Start
    sent by the caller, at most ``max_in_flight`` at a time (no workflow, no item activity)."""
    prefix = "bench-direct-" + uuid.uuid4().hex[:8]
    gate = asyncio.Semaphore(max_in_flight)
    queue = task_queue

    async def one(index: int) -> int:
        async with gate:
            return await _update_with_start(
                client,
                ShapeItem(
                    entity_id=f"{prefix}-{index}",
                    task_queue=queue,
                    change=ShapeChange(index=index, device_delay=device_delay),
                ),
            )

    started = time.monotonic()
    answered = await asyncio.gather(*(one(i) for i in range(changes)))
    seconds = time.monotonic() - started
    if answered != list(range(changes)):
        raise RuntimeError("the direct floor's changes were not each answered by their own")
    return ShapeRun(seconds=seconds, entity_ids=[f"{prefix}-{i}" for i in range(changes)])


async def end_shape_entities(client: Client, run: ShapeRun, concurrency: int = 100) -> None:
    """Let the floor's open workflows finish, so that what is measured next finds the worker's
    cache as the Temporal floor left it (a completed run leaves the cache; a terminated one
    would stay in it until evicted) and the server holding none of them open."""
    gate = asyncio.Semaphore(concurrency)

    async def end(workflow_id: str) -> None:
        async with gate:
            handle = client.get_workflow_handle(workflow_id)
            await handle.signal(SHAPE_FINISH_SIGNAL)
            await handle.result()

    await asyncio.gather(*(end(each) for each in run.entity_ids))
