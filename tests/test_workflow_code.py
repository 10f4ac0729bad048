"""A worker compiles nukiflow's workflow modules once, also where no bytecode may be written.

The sandbox executes a workflow's module anew for every new run; with no current ``.pyc`` (and
``PYTHONDONTWRITEBYTECODE=1``, as container images often set) Python would compile its source
every time. These tests run the sandbox as a worker does, with an empty bytecode cache, and
count the compilations of the workflow's source.
"""

from __future__ import annotations

import importlib.machinery
import sys
import uuid
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from nukiflow.activities.nuki_client import NukiClient
from nukiflow.temporal import workflow_code
from nukiflow.temporal.worker import build_worker
from nukiflow.temporal.workflow_code import keep_compiled_code
from nukiflow.workflows.auth_entity import AuthEntityWorkflow

RUNS = 3


@pytest.fixture
def no_bytecode(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """No .pyc to read or write; returns the source files compiled from here on."""
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.setattr(workflow_code._CodeKeepingLoader, "_codes", {})
    compiled: list[str] = []
    loader = importlib.machinery.SourceFileLoader
    original = loader.source_to_code

    def recording(self: importlib.machinery.SourceFileLoader, data: bytes, path: str) -> object:
        compiled.append(str(path))
        return original(self, data, path)  # type: ignore[arg-type]

    monkeypatch.setattr(loader, "source_to_code", recording)
    return compiled


async def _new_runs() -> None:
    definition = workflow._Definition.must_from_class(AuthEntityWorkflow)
    runner = SandboxedWorkflowRunner()
    for _ in range(RUNS):
        runner.prepare_workflow(definition)  # creates an instance, as a new run does


def _of_the_entity(compiled: list[str]) -> int:
    return sum(path.endswith("/workflows/auth_entity.py") for path in compiled)


async def test_new_runs_compile_the_workflow_module_once(no_bytecode: list[str]) -> None:
    keep_compiled_code()
    keep_compiled_code()  # once per process, however many workers
    assert sum(isinstance(f, workflow_code._CodeKeepingFinder) for f in sys.meta_path) == 1
    await _new_runs()
    assert _of_the_entity(no_bytecode) == 1


async def test_without_it_every_new_run_compiles_again(no_bytecode: list[str]) -> None:
    sys.meta_path[:] = [
        f for f in sys.meta_path if not isinstance(f, workflow_code._CodeKeepingFinder)
    ]
    await _new_runs()
    assert _of_the_entity(no_bytecode) == RUNS


async def test_an_edited_file_is_compiled_again(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text("VALUE = 1\n")
    loader = workflow_code._CodeKeepingLoader("probe", str(source))
    first = loader.get_code("probe")
    assert loader.get_code("probe") is first
    source.write_text("VALUE = 22\n")
    assert loader.get_code("probe") is not first


def test_the_finder_goes_right_before_pythons_path_finder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        sys,
        "meta_path",
        [f for f in sys.meta_path if not isinstance(f, workflow_code._CodeKeepingFinder)],
    )
    keep_compiled_code()
    ours = next(
        i for i, f in enumerate(sys.meta_path) if isinstance(f, workflow_code._CodeKeepingFinder)
    )
    assert sys.meta_path[ours + 1] is importlib.machinery.PathFinder


async def test_a_worker_with_the_plugin_keeps_the_code(
    temporal_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        sys,
        "meta_path",
        [f for f in sys.meta_path if not isinstance(f, workflow_code._CodeKeepingFinder)],
    )
    async with NukiClient("token", "http://127.0.0.1:9") as nuki:
        build_worker(temporal_client, nuki, "tq-" + uuid.uuid4().hex[:12])
    assert any(isinstance(f, workflow_code._CodeKeepingFinder) for f in sys.meta_path)
