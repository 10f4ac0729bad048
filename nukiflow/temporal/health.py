"""Internal: liveness and readiness endpoints of a worker process, for Kubernetes probes.

``/healthz`` (liveness) answers as long as the event loop does: a wedged process stops
answering and gets restarted. ``/readyz`` (readiness) answers 200 only while the worker is
polling and the Temporal frontend answers its health check, so a replica that lost Temporal or is
shutting down is taken out of rotation (it receives no work from Kubernetes anyway, but the
signal shows in ``kubectl get pods`` and rollouts wait for it).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.client import Client

from nukiflow.temporal.asgi import EmbeddedServer

CHECK_TIMEOUT = timedelta(seconds=3)


class RunningWorker(Protocol):
    @property
    def is_running(self) -> bool: ...


def health_app(client: Client, worker: RunningWorker) -> Starlette:
    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "alive"})

    async def readyz(request: Request) -> JSONResponse:
        if not worker.is_running:
            return JSONResponse({"status": "not ready", "reason": "worker not polling"}, 503)
        try:
            await client.service_client.check_health(timeout=CHECK_TIMEOUT)
        except Exception as exc:  # any failure to reach Temporal means "not ready"
            reason = f"Temporal unreachable: {type(exc).__name__}"
            return JSONResponse({"status": "not ready", "reason": reason}, 503)
        return JSONResponse({"status": "ready"})

    return Starlette(routes=[Route("/healthz", healthz), Route("/readyz", readyz)])


def health_server(client: Client, worker: RunningWorker, host: str, port: int) -> EmbeddedServer:
    """The health endpoints on ``host:port``, served in the worker's event loop."""
    return EmbeddedServer(health_app(client, worker), host, port, name="health")
