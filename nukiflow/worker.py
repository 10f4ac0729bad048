"""Assembling a nukiflow worker: every workflow, and activities bound to one Nuki client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.action_activities import ActionActivities
from activities.auth_activities import AuthActivities
from activities.nuki_client import NukiClient
from nukiflow.connect import connect_temporal
from nukiflow.settings import Settings
from workflows.auth_create import AuthCreateWorkflow
from workflows.auth_entity import AuthEntityWorkflow
from workflows.lock_actions import LockActionsWorkflow

log = logging.getLogger("nukiflow.worker")

WORKFLOWS: Sequence[type] = (AuthEntityWorkflow, AuthCreateWorkflow, LockActionsWorkflow)


def activities_for(nuki: NukiClient) -> list[Any]:
    auth = AuthActivities(nuki)
    actions = ActionActivities(nuki)
    return [
        auth.read_auth,
        auth.write_auth,
        auth.await_auth,
        auth.create_auth,
        actions.send_action,
        actions.confirm_action,
    ]


def build_worker(
    client: Client,
    nuki: NukiClient,
    task_queue: str,
    *,
    graceful_shutdown: timedelta = timedelta(seconds=30),
    **options: Any,
) -> Worker:
    """A worker for every nukiflow workflow and activity on ``task_queue``.

    ``graceful_shutdown`` is how long running activities may finish after shutdown begins.
    """
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=activities_for(nuki),
        graceful_shutdown_timeout=graceful_shutdown,
        **options,
    )


async def run_worker(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run a worker until SIGINT/SIGTERM (or ``stop``), then shut down gracefully."""
    base_url, token = settings.require_nuki()
    client = await connect_temporal(settings)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with NukiClient(token, base_url) as nuki:
        worker = build_worker(client, nuki, settings.task_queue)
        log.info(
            "worker polling task queue %r on %s", settings.task_queue, settings.temporal_address
        )
        async with worker:
            await stop.wait()
            log.info("shutting down: letting running activities finish")
