"""The fleet benchmark's shape floor runs its changes through the bare shape: each an
Update-with-Start to a workflow of its own, answered by that workflow's device activity, with
those workflows left open until the benchmark lets them finish."""

from __future__ import annotations

from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.shape_floor import (
    SHAPE_ACTIVITIES,
    SHAPE_CHANGE_UPDATE,
    SHAPE_WORKFLOWS,
    ShapeChange,
    direct_floor,
    end_shape_entities,
    shape_floor,
)


async def test_each_change_reaches_an_open_workflow_of_its_own_and_is_answered(
    temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = temporal_env.client
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=list(SHAPE_WORKFLOWS),
        activities=list(SHAPE_ACTIVITIES),
    ):
        run = await shape_floor(client, task_queue, changes=5, max_in_flight=2, device_delay=0.01)
        assert run.seconds > 0
        assert len(set(run.entity_ids)) == 5
        for index, workflow_id in enumerate(run.entity_ids):
            handle = client.get_workflow_handle(workflow_id)
            assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
            # The update that reached it was answered by its own device activity.
            answer = await handle.execute_update(
                SHAPE_CHANGE_UPDATE, ShapeChange(index=index, device_delay=0.0), result_type=int
            )
            assert answer == index
        await end_shape_entities(client, run)
        for workflow_id in run.entity_ids:
            description = await client.get_workflow_handle(workflow_id).describe()
            assert description.status is WorkflowExecutionStatus.COMPLETED


async def test_without_the_driver_each_change_reaches_a_workflow_of_its_own(
    temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = temporal_env.client
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=list(SHAPE_WORKFLOWS),
        activities=list(SHAPE_ACTIVITIES),
    ):
        run = await direct_floor(client, task_queue, changes=4, max_in_flight=2, device_delay=0.01)
        assert len(set(run.entity_ids)) == 4
        for workflow_id in run.entity_ids:
            description = await client.get_workflow_handle(workflow_id).describe()
            assert description.status is WorkflowExecutionStatus.RUNNING
        await end_shape_entities(client, run)
        for workflow_id in run.entity_ids:
            description = await client.get_workflow_handle(workflow_id).describe()
            assert description.status is WorkflowExecutionStatus.COMPLETED
