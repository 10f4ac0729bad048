"""The suite runs on nukiflow's own pytest plugin (:mod:`nukiflow.testing`, registered as an
entry point): one real Temporal dev server per session, one fake Nuki cloud per test, workers on a
task queue of each test's own. The names below keep the tests' imports short; ``cli_env`` is the
suite's own fixture for driving the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from nukiflow.testing import (
    ACTION_TIME,
    DEVICE_DELAY,
    FAST_TIMING,
    StartWorker,
    sim_settings,
)
from nukiflow.testing import TEST_CODEC_KEYS as CODEC_KEYS
from nukiflow.testing import TEST_TOKEN as TOKEN

# The Temporal UI base the CLI's links point to in tests.
UI = "http://ui.test"

__all__ = [
    "ACTION_TIME",
    "CODEC_KEYS",
    "DEVICE_DELAY",
    "FAST_TIMING",
    "TOKEN",
    "UI",
    "StartWorker",
    "sim_settings",
]


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
