"""Assembling a nukiflow worker: every workflow, and activities bound to one Nuki client; with
many accounts, two more workers per account: one on its workflow task queue, one on its activity
task queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from nukiflow.accounts.clients import AccountClients
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.client import NukiFlow
from nukiflow.contracts.accounts import (
    DEFAULT_ACCOUNT_WORKFLOW_TASKS,
    activity_queue,
    workflow_queue,
)
from nukiflow.plugin import DEFAULT_MAX_CONCURRENT_ACTIVITIES, NukiflowPlugin, nuki_activities
from nukiflow.settings import Settings
from nukiflow.temporal.connect import connect_temporal
from nukiflow.temporal.converter import require_encryption
from nukiflow.temporal.health import health_server
from nukiflow.temporal.tracing import flush_traces, tracing_interceptors
from nukiflow.temporal.versioning import deployment_config, promote_first_version
from nukiflow.webhooks.server import WebhookServer, receiver_from_settings, require_secrets

log = logging.getLogger("nukiflow.temporal.worker")

# How long running activities may finish after SIGTERM; deploy/ gives pods longer than this.
DEFAULT_GRACEFUL_SHUTDOWN = timedelta(seconds=30)


def build_worker(
    client: Client,
    nuki: NukiClient,
    task_queue: str,
    *,
    flow: NukiFlow | None = None,
    graceful_shutdown: timedelta = DEFAULT_GRACEFUL_SHUTDOWN,
    nexus: bool = True,
    webhooks: bool = False,
    **options: Any,
) -> Worker:
    """A worker for every nukiflow workflow and activity on ``task_queue`` (through
    :class:`~nukiflow.plugin.NukiflowPlugin`).

    ``flow`` is the facade rollout items and grants send their changes through (default: one on
    this client and task queue). ``graceful_shutdown`` is how long running activities may finish
    after shutdown begins; ``nexus`` serves the Nexus service (:mod:`nukiflow.nexus`);
    ``webhooks``: the lock's webhooks reach the workflows, which then wait for the lock's
    reports before polling; ``options`` go to :class:`temporalio.worker.Worker` (``workflows``
    and ``activities`` there run beside nukiflow's own, e.g. a benchmark's yardsticks).
    """
    facade = (lambda _client, _queue: flow) if flow is not None else None
    return Worker(
        client,
        task_queue=task_queue,
        plugins=[NukiflowPlugin(nuki, facade=facade, nexus=nexus, webhooks=webhooks)],
        graceful_shutdown_timeout=graceful_shutdown,
        **options,
    )


def build_account_worker(
    client: Client,
    nuki: NukiClient,
    account: str,
    flow: NukiFlow,
    *,
    activities_per_second: float | None = None,
    graceful_shutdown: timedelta = DEFAULT_GRACEFUL_SHUTDOWN,
    webhooks: bool = False,
    **options: Any,
) -> Worker:
    """A worker for the Nuki activities of ``account`` on its task queue
    (``nukiflow-nuki-<account>``), sending through ``nuki`` (that account's client).

    ``activities_per_second`` is Temporal's task-queue-wide limit: it holds across every worker
    polling the queue, so the account's calls to Nuki stay under it however many replicas run,
    and a burst on one account waits in its own queue while the others' activities go on.
    """
    require_encryption(client)
    queue = activity_queue(account)
    assert queue is not None
    options.setdefault("max_concurrent_activities", DEFAULT_MAX_CONCURRENT_ACTIVITIES)
    return Worker(
        client,
        task_queue=queue,
        activities=nuki_activities(nuki, flow, webhooks=webhooks),
        max_task_queue_activities_per_second=activities_per_second,
        graceful_shutdown_timeout=graceful_shutdown,
        **options,
    )


def account_workers(
    client: Client,
    clients: AccountClients,
    flow: NukiFlow,
    *,
    workflow_tasks: int = DEFAULT_ACCOUNT_WORKFLOW_TASKS,
    graceful_shutdown: timedelta = DEFAULT_GRACEFUL_SHUTDOWN,
    webhooks: bool = False,
    **options: Any,
) -> list[Worker]:
    """Two workers per named account of ``clients``: one for the account's workflows on its
    workflow task queue (``<flow.task_queue>@<account>``, where ``flow`` starts them) with
    pollers, a sticky queue and ``workflow_tasks`` slots of its own, and
    :func:`build_account_worker` for its Nuki activities.

    The slots bound what one account's burst of new workflows takes of this process: the
    workflow tasks of every account run in one Python process (one interpreter lock), and a
    burst holding a hundred slots would make another account's task wait its turn a hundred
    times over. ``options`` go to both workers (``max_concurrent_workflow_tasks`` there is the
    default account's, and ignored here)."""
    options.pop("max_concurrent_workflow_tasks", None)
    workers: list[Worker] = []
    for spec in clients.named:
        if spec.name is None:
            continue
        workers.append(
            build_worker(
                client,
                clients[None],
                workflow_queue(flow.task_queue, spec.name),
                flow=flow,
                graceful_shutdown=graceful_shutdown,
                # The Nexus endpoint targets the workflows' task queue, not an account's.
                nexus=False,
                webhooks=webhooks,
                max_concurrent_workflow_tasks=workflow_tasks,
                **options,
            )
        )
        workers.append(
            build_account_worker(
                client,
                clients[spec.name],
                spec.name,
                flow,
                activities_per_second=spec.activities_per_second,
                graceful_shutdown=graceful_shutdown,
                webhooks=webhooks,
                **options,
            )
        )
    return workers


def webhook_server(client: Client, settings: Settings) -> WebhookServer:
    """The webhook receiver on ``NUKIFLOW_WEBHOOK_HOST``/``_PORT``, forwarding through
    ``client`` (the worker's own)."""
    assert settings.webhook_port is not None
    return WebhookServer(
        receiver_from_settings(client, settings), settings.webhook_host, settings.webhook_port
    )


def worker_runtime(settings: Settings) -> Runtime | None:
    """A Temporal runtime exporting Prometheus metrics, when ``NUKIFLOW_METRICS_BIND`` is set."""
    if not settings.metrics_bind:
        return None
    metrics = PrometheusConfig(bind_address=settings.metrics_bind)
    return Runtime(telemetry=TelemetryConfig(metrics=metrics))


def tuning_options(settings: Settings) -> dict[str, int]:
    """Worker concurrency limits that are set (unset ones keep Temporal's defaults)."""
    options = {
        "max_concurrent_activities": settings.max_concurrent_activities,
        "max_concurrent_workflow_tasks": settings.max_concurrent_workflow_tasks,
        "max_cached_workflows": settings.max_cached_workflows,
    }
    return {name: value for name, value in options.items() if value is not None}


async def run_worker(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run a worker until SIGINT/SIGTERM (or ``stop``), then shut down gracefully.

    On the signal the worker stops polling, lets running activities finish for
    ``NUKIFLOW_GRACEFUL_SHUTDOWN_SECONDS`` and then cancels them; whatever was cut short is
    retried by Temporal on another worker, so nothing is lost. With ``NUKIFLOW_HEALTH_PORT``
    set it serves ``/healthz`` and ``/readyz``; with ``NUKIFLOW_METRICS_BIND`` Prometheus
    metrics; with ``NUKIFLOW_WEBHOOK_PORT`` the webhook receiver (:mod:`nukiflow.webhooks`).
    """
    base_url = settings.require_nuki_url()
    provider = settings.credential_provider()
    if not await provider.accounts():
        raise RuntimeError(
            "no Nuki credentials: set NUKIFLOW_NUKI_TOKEN (or NUKIFLOW_NUKI_TOKEN_FILE), or "
            "NUKIFLOW_ACCOUNTS_FILE"
        )
    if settings.webhook_port is not None:
        # Refuse a receiver without a secret before anything starts.
        require_secrets(settings)
    client = await connect_temporal(
        settings, runtime=worker_runtime(settings), interceptors=tracing_interceptors(settings)
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    clients = await AccountClients.open(provider, base_url)
    async with clients, contextlib.AsyncExitStack() as stack:
        resolver = clients.resolver(settings.account_cache_seconds) if clients.named else None
        # Rollout items and grants name their account or have it resolved, never a fixed one.
        flow = NukiFlow.from_settings(
            client, settings.model_copy(update={"account": None}), accounts=resolver
        )
        shutdown = timedelta(seconds=settings.graceful_shutdown_seconds)
        worker = build_worker(
            client,
            clients[None],
            settings.task_queue,
            flow=flow,
            graceful_shutdown=shutdown,
            nexus=settings.nexus_service,
            webhooks=settings.expects_webhooks(),
            deployment_config=deployment_config(settings),
            **tuning_options(settings),
        )
        await stack.enter_async_context(worker)
        for account_worker in account_workers(
            client,
            clients,
            flow,
            workflow_tasks=settings.account_max_concurrent_workflow_tasks,
            graceful_shutdown=shutdown,
            webhooks=settings.expects_webhooks(),
            deployment_config=deployment_config(settings),
            **tuning_options(settings),
        ):
            await stack.enter_async_context(account_worker)
            log.info("account worker polling task queue %r", account_worker.task_queue)
        if settings.worker_versioning:
            await promote_first_version(client, settings)
        if settings.health_port is not None:
            health = health_server(client, worker, settings.health_host, settings.health_port)
            await stack.enter_async_context(health)
            log.info("health endpoints on %s (/healthz, /readyz)", health.base_url)
        if settings.webhook_port is not None:
            # Entered last, so stopped first: it forwards what it queued while the client is
            # still open.
            webhooks = await stack.enter_async_context(webhook_server(client, settings))
            log.info("webhook receiver on %s", webhooks.url)
        log.info(
            "worker polling task queue %r on %s", settings.task_queue, settings.temporal_address
        )
        await stop.wait()
        log.info("shutting down: letting running activities finish")
    if settings.otel_tracing:
        # The last spans wait in a batch until it fills or times out: send them now.
        await asyncio.to_thread(flush_traces)
