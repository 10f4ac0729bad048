"""A new workflow run executes its own module only, never the helpers and contracts again.

Temporal's sandbox re-executes, for every new run, the workflow's module and whatever it
imports outside ``imports_passed_through`` (see ``nukiflow/workflows/__init__.py``). A
worker starts a run for every entity, create and rollout, so a helper executed per run costs
fleet-wide. This creates each workflow in a real sandbox, as a worker does, and records the
modules Python executes while it does.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from pathlib import Path
from types import ModuleType

import pytest
from temporalio import workflow
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from nukiflow.plugin import nukiflow_workflows


def _parents(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def _executed_by_a_new_run(workflow_class: type, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The modules Python executes while the sandbox creates one instance of the workflow."""
    definition = workflow._Definition.must_from_class(workflow_class)
    runner = SandboxedWorkflowRunner()
    # A first instance may load what the process had not loaded yet (as a worker's start does).
    runner.prepare_workflow(definition)

    executed: list[str] = []
    loader = importlib.machinery.SourceFileLoader
    original = loader.exec_module

    def recording(self: importlib.machinery.SourceFileLoader, module: ModuleType) -> None:
        executed.append(module.__name__)
        original(self, module)

    monkeypatch.setattr(loader, "exec_module", recording)
    runner.prepare_workflow(definition)  # creates an instance, as a new run does
    monkeypatch.setattr(loader, "exec_module", original)
    assert workflow_class.__module__ in executed, "the sandbox executed nothing: not measured"
    return executed


def _extra(workflow_class: type, executed: list[str]) -> list[str]:
    own = workflow_class.__module__
    return sorted(set(executed) - {own} - _parents(own))


@pytest.mark.parametrize("workflow_class", nukiflow_workflows(), ids=lambda c: c.__name__)
async def test_a_new_run_executes_only_its_own_module(
    workflow_class: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = _extra(workflow_class, _executed_by_a_new_run(workflow_class, monkeypatch))
    assert not extra, f"a new {workflow_class.__name__} run executes {extra} again"


_WORKFLOW = """
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    {import_line}


@workflow.defn(name="SandboxImportProbe")
class Probe:
    @workflow.run
    async def run(self) -> str:
        return helper.NAME
"""


@pytest.mark.parametrize(
    ("import_line", "executed_again"),
    [("from probe_pkg import helper", True), ("import probe_pkg.helper as helper", False)],
)
async def test_the_check_tells_the_two_import_forms_apart(
    import_line: str,
    executed_again: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The contrast, on a package of its own: the first form is executed again per run."""
    package = tmp_path / "probe_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helper.py").write_text('NAME = "helper"\n')
    (package / "probe.py").write_text(_WORKFLOW.format(import_line=import_line))
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("probe_pkg", "probe_pkg.helper", "probe_pkg.probe"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    probe = importlib.import_module("probe_pkg.probe")

    extra = _extra(probe.Probe, _executed_by_a_new_run(probe.Probe, monkeypatch))
    assert ("probe_pkg.helper" in extra) is executed_again
