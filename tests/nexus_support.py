"""What the Nexus tests share: the callers' client, an endpoint per test, a caller's worker,
and reading payloads out of a history."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest_asyncio
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from nukiflow.nexus.caller import (
    OperationCall,
    OperationCallResult,
    OperationCallWorkflow,
    caller_workflows,
)
from nukiflow.nexus.endpoints import delete_endpoint, ensure_endpoint
from nukiflow.nexus.service import CALLER_NAMESPACE
from nukiflow.plugin import nukiflow_workflows
from nukiflow.temporal.converter import data_converter
from tests.conftest import CODEC_KEYS

Endpoint = str


@pytest_asyncio.fixture(loop_scope="session")
async def caller_client(temporal_env: WorkflowEnvironment) -> Client:
    """A client of the callers' namespace, encrypting with a key nukiflow's workers hold."""
    return await Client.connect(
        temporal_env.client.service_client.config.target_host,
        namespace=CALLER_NAMESPACE,
        data_converter=data_converter(CODEC_KEYS),
    )


@pytest_asyncio.fixture(loop_scope="session")
async def endpoint(temporal_client: Client, task_queue: str) -> AsyncIterator[Endpoint]:
    """An endpoint of this test's own, routing to nukiflow's namespace and the test's queue."""
    name = f"nukiflow-{task_queue}"
    await ensure_endpoint(
        temporal_client, name, target_namespace="default", target_task_queue=task_queue
    )
    yield name
    await delete_endpoint(temporal_client, name)


@pytest_asyncio.fixture(loop_scope="session")
async def caller_queue(caller_client: Client, worker: Worker) -> AsyncIterator[str]:
    """A caller's worker (its own task queue, in the callers' namespace) beside nukiflow's."""
    queue = "caller-" + uuid.uuid4().hex[:12]
    async with Worker(caller_client, task_queue=queue, workflows=caller_workflows()):
        yield queue


def soon(seconds: float = 60) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def call(
    caller_client: Client,
    queue: str,
    endpoint: str,
    operation: str,
    input: Any,
    *,
    workflow_id: str | None = None,
) -> OperationCallResult:
    """One operation, called from a caller's workflow (``workflow_id``, or a fresh one)."""
    result: OperationCallResult = await caller_client.execute_workflow(
        OperationCallWorkflow.run,
        OperationCall(endpoint=endpoint, operation=operation, input=input.model_dump(mode="json")),
        id=workflow_id or f"caller-{operation}-{uuid.uuid4().hex[:8]}",
        task_queue=queue,
        execution_timeout=timedelta(seconds=60),
    )
    return result


async def wait_for(check: Callable[[], Awaitable[bool]], what: str, within: float = 20) -> None:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + within
    while not await check():
        if loop.time() > give_up:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


HISTORIES = Path(__file__).parent / "histories"


async def replays(name: str, history: WorkflowHistory) -> None:
    """A fresh history of a request's workflow replays; ``NUKIFLOW_RECORD_HISTORIES=1`` keeps
    it under tests/histories (which tests/test_replay.py replays from then on)."""
    replayer = Replayer(workflows=nukiflow_workflows(), data_converter=data_converter(CODEC_KEYS))
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"
    if os.environ.get("NUKIFLOW_RECORD_HISTORIES") == "1":
        (HISTORIES / f"{name}.json").write_text(history.to_json(), encoding="utf-8")
