"""The suite runs on nukiflow's own pytest plugin (:mod:`nukiflow.testing`, registered as an
entry point): one real Temporal dev server per session, one fake Nuki cloud per test, workers on a
task queue of each test's own. The names below keep the tests' imports short."""

from __future__ import annotations

from nukiflow.testing import (
    ACTION_TIME,
    DEVICE_DELAY,
    FAST_TIMING,
    StartWorker,
    sim_settings,
)
from nukiflow.testing import TEST_CODEC_KEYS as CODEC_KEYS
from nukiflow.testing import TEST_TOKEN as TOKEN

__all__ = [
    "ACTION_TIME",
    "CODEC_KEYS",
    "DEVICE_DELAY",
    "FAST_TIMING",
    "TOKEN",
    "StartWorker",
    "sim_settings",
]
