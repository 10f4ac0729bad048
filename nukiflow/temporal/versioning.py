"""Rolling upgrades the Temporal way: workers as versions of a Worker Deployment.

With ``NUKIFLOW_WORKER_VERSIONING=true`` a worker polls as version
``<NUKIFLOW_DEPLOYMENT_NAME>.<NUKIFLOW_BUILD_ID>`` (the build id defaults to the package version;
the deploy files set the image tag). Running workflows move to a new version once it becomes
current (``AUTO_UPGRADE``, the worker's default behaviour), each type for its reason:

- the auth entity, the lock's action queue, access grants and rollouts live for hours to months:
  pinning them would keep every old build running for as long, so they upgrade, and every change
  to their code is guarded with ``workflow.patched`` and replayed against recorded histories;
- a create settles in minutes and could stay pinned, but its code is guarded the same way, and
  upgrading lets an old build drain in seconds instead of waiting for its last create.

The behaviour is set on the worker, not with ``versioning_behavior`` on each workflow definition:
Temporal refuses a per-type behaviour from a worker that polls unversioned, which a plain worker,
``nukiflow dev`` and the tests do.

Which version is current is the operator's decision (``temporal worker deployment
set-current-version``), with one exception: a deployment that has no current version yet (its
very first rollout) would route no work anywhere, so its first worker makes itself current.
"""

from __future__ import annotations

import asyncio
import logging

from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    SetWorkerDeploymentCurrentVersionRequest,
)
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import WorkerDeploymentConfig

from nukiflow.settings import Settings

log = logging.getLogger("nukiflow.temporal.versioning")

# The server learns of a version from its pollers; right after start it may not know it yet.
_PROMOTE_ATTEMPTS = 20
_PROMOTE_PAUSE_SECONDS = 0.5


def build_id(settings: Settings) -> str:
    """This worker's build id: the setting, else the package version (never ``latest``)."""
    if settings.build_id:
        return settings.build_id
    from nukiflow import __version__

    return __version__


def worker_version(settings: Settings) -> WorkerDeploymentVersion:
    return WorkerDeploymentVersion(settings.deployment_name, build_id(settings))


def deployment_config(settings: Settings) -> WorkerDeploymentConfig | None:
    """The worker's deployment version when Worker Versioning is on, else ``None``."""
    if not settings.worker_versioning:
        return None
    return WorkerDeploymentConfig(
        version=worker_version(settings),
        use_worker_versioning=True,
        default_versioning_behavior=VersioningBehavior.AUTO_UPGRADE,
    )


async def current_build_id(client: Client, deployment_name: str) -> str | None:
    """The current version's build id of ``deployment_name``, ``None`` when it has none."""
    try:
        described = await client.workflow_service.describe_worker_deployment(
            DescribeWorkerDeploymentRequest(
                namespace=client.namespace, deployment_name=deployment_name
            )
        )
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    current = described.worker_deployment_info.routing_config.current_deployment_version
    return current.build_id or None


async def promote_first_version(client: Client, settings: Settings) -> bool:
    """Make this worker's version current if its deployment has no current version yet.

    Returns whether it did. A deployment that already has a current version is left alone:
    promoting a new build is the operator's step.
    """
    version = worker_version(settings)
    for attempt in range(_PROMOTE_ATTEMPTS):
        current = await current_build_id(client, version.deployment_name)
        if current is not None:
            if current != version.build_id:
                log.info(
                    "worker deployment %s: current build is %s; this worker (%s) waits to be "
                    "promoted",
                    version.deployment_name,
                    current,
                    version.build_id,
                )
            return False
        try:
            await client.workflow_service.set_worker_deployment_current_version(
                SetWorkerDeploymentCurrentVersionRequest(
                    namespace=client.namespace,
                    deployment_name=version.deployment_name,
                    build_id=version.build_id,
                    identity=client.identity,
                )
            )
        except RPCError as exc:
            # The server has not seen this version's pollers yet: ask again shortly.
            if attempt + 1 == _PROMOTE_ATTEMPTS:
                raise
            log.debug("promoting %s not possible yet: %s", version.to_canonical_string(), exc)
            await asyncio.sleep(_PROMOTE_PAUSE_SECONDS)
            continue
        log.info(
            "worker deployment %s: first version %s is current",
            version.deployment_name,
            version.build_id,
        )
        return True
    return False
