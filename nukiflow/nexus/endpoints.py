"""The caller namespace and the Nexus endpoint that routes its calls to nukiflow's namespace and
task queue, created through Temporal's operator service (as ``temporal operator namespace
create`` and ``temporal operator nexus endpoint create`` would)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from temporalio.api.nexus.v1 import EndpointSpec, EndpointTarget
from temporalio.api.operatorservice.v1 import (
    CreateNexusEndpointRequest,
    DeleteNexusEndpointRequest,
    ListNexusEndpointsRequest,
    UpdateNexusEndpointRequest,
)
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    RegisterNamespaceRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode


async def ensure_namespace(client: Client, namespace: str, *, retention_days: int = 1) -> None:
    """Register ``namespace`` unless it exists, and wait until the server serves it."""
    service = client.workflow_service
    try:
        await service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
        return
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
    try:
        await service.register_namespace(
            RegisterNamespaceRequest(
                namespace=namespace,
                workflow_execution_retention_period=Duration(
                    seconds=int(timedelta(days=retention_days).total_seconds())
                ),
            )
        )
    except RPCError as error:
        if error.status != RPCStatusCode.ALREADY_EXISTS:
            raise
    for _ in range(100):
        try:
            await service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
            return
        except RPCError:
            await asyncio.sleep(0.1)


async def ensure_endpoint(
    client: Client, name: str, *, target_namespace: str, target_task_queue: str
) -> None:
    """Create the endpoint ``name`` routing to the namespace and task queue, or point an
    existing one of that name there."""
    operator = client.operator_service
    spec = EndpointSpec(
        name=name,
        target=EndpointTarget(
            worker=EndpointTarget.Worker(namespace=target_namespace, task_queue=target_task_queue)
        ),
    )
    listed = await operator.list_nexus_endpoints(ListNexusEndpointsRequest(name=name))
    for endpoint in listed.endpoints:
        if endpoint.spec.name != name:
            continue
        if endpoint.spec == spec:
            return
        await operator.update_nexus_endpoint(
            UpdateNexusEndpointRequest(id=endpoint.id, version=endpoint.version, spec=spec)
        )
        return
    await operator.create_nexus_endpoint(CreateNexusEndpointRequest(spec=spec))


async def delete_endpoint(client: Client, name: str) -> None:
    """Delete the endpoint ``name`` if it exists."""
    operator = client.operator_service
    listed = await operator.list_nexus_endpoints(ListNexusEndpointsRequest(name=name))
    for endpoint in listed.endpoints:
        if endpoint.spec.name == name:
            await operator.delete_nexus_endpoint(
                DeleteNexusEndpointRequest(id=endpoint.id, version=endpoint.version)
            )
