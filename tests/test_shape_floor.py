"""The fleet benchmark's shape floors run each change through the bare shape: an
Update-with-Start to a workflow of its own (from the driver's item activity, or from the caller),
answered by that workflow's one device activity, the workflow left open as an entity is."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.shape_floor import (
    SHAPE_ACTIVITIES,
    SHAPE_DEVICE_ACTIVITY,
    SHAPE_ITEM_ACTIVITY,
    SHAPE_WORKFLOWS,
    ShapeRun,
    direct_floor,
    shape_floor,
)


async def activities_run(client: Client, workflow_id: str) -> list[str]:
    """The activity types a workflow scheduled, in order."""
    scheduled = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.event_type == scheduled
    ]


async def each_answered_by_its_own(client: Client, run: ShapeRun, changes: int) -> None:
    assert len(set(run.entity_ids)) == changes
    for workflow_id in run.entity_ids:
        description = await client.get_workflow_handle(workflow_id).describe()
        assert description.status is WorkflowExecutionStatus.RUNNING
        assert await activities_run(client, workflow_id) == [SHAPE_DEVICE_ACTIVITY]


def shape_worker(client: Client, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(SHAPE_WORKFLOWS),
        activities=list(SHAPE_ACTIVITIES),
    )


async def test_the_driver_sends_each_change_to_a_workflow_of_its_own(
    temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = temporal_env.client
    async with shape_worker(client, task_queue):
        run = await shape_floor(client, task_queue, changes=5, max_in_flight=2, device_delay=0.01)
        await each_answered_by_its_own(client, run, 5)
        assert await activities_run(client, run.prefix) == [SHAPE_ITEM_ACTIVITY] * 5


async def test_without_the_driver_each_change_reaches_a_workflow_of_its_own(
    temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = temporal_env.client
    async with shape_worker(client, task_queue):
        run = await direct_floor(client, task_queue, changes=4, max_in_flight=2, device_delay=0.01)
        await each_answered_by_its_own(client, run, 4)
