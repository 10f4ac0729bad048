"""Workers as versions of a Temporal Worker Deployment (rolling upgrades)."""

from __future__ import annotations

import uuid

from temporalio.api.enums.v1 import VersioningBehavior
from temporalio.client import Client

from nukiflow.activities.nuki_client import NukiClient
from nukiflow.client import NukiFlow
from nukiflow.contracts.auth import OutcomeStatus
from nukiflow.contracts.entity import auth_workflow_id
from nukiflow.settings import Settings
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.server import SimulatorServer
from nukiflow.temporal.versioning import build_id, deployment_config, promote_first_version
from nukiflow.temporal.worker import build_worker
from tests.conftest import FAST_TIMING, TOKEN


def test_without_versioning_a_worker_polls_unversioned() -> None:
    assert deployment_config(Settings(worker_versioning=False)) is None


def test_the_build_id_defaults_to_the_package_version() -> None:
    from nukiflow import __version__

    assert build_id(Settings()) == __version__
    assert build_id(Settings(build_id="2026.11.30-abc")) == "2026.11.30-abc"


async def test_a_versioned_worker_promotes_the_first_version_and_runs_changes_on_it(
    temporal_client: Client, simulator: SimulatorServer, sim: SimulatorControl, task_queue: str
) -> None:
    settings = Settings(
        worker_versioning=True,
        deployment_name="nukiflow-test-" + uuid.uuid4().hex[:8],
        build_id="1.2.3",
    )
    flow = NukiFlow(temporal_client, task_queue=task_queue, timing=FAST_TIMING)
    async with (
        NukiClient(TOKEN, simulator.base_url) as nuki,
        build_worker(
            temporal_client,
            nuki,
            task_queue,
            flow=flow,
            deployment_config=deployment_config(settings),
        ),
    ):
        assert await promote_first_version(temporal_client, settings)
        # A deployment with a current version is the operator's to change.
        other = settings.model_copy(update={"build_id": "1.2.4"})
        assert not await promote_first_version(temporal_client, other)

        lock = await sim.add_lock()
        auth = await sim.add_auth(lock.smartlock_id, name="Versioned", code=535353)
        outcome = await flow.update_auth(lock.smartlock_id, auth.id, {"code": 565656})
        assert outcome.status is OutcomeStatus.APPLIED

        handle = temporal_client.get_workflow_handle(auth_workflow_id(lock.smartlock_id, auth.id))
        info = (await handle.describe()).raw_description.workflow_execution_info.versioning_info
        assert info.deployment_version.build_id == "1.2.3"
        assert info.deployment_version.deployment_name == settings.deployment_name
        assert info.behavior == VersioningBehavior.VERSIONING_BEHAVIOR_AUTO_UPGRADE
