"""The layers stay apart: workflow code never loads the HTTP client or the activities, and the
contracts depend on nothing of the facade, command line, fleet, workflows, activities, Temporal
wiring or dev tools.

Workflow modules are imported by every workflow worker's sandbox: pulling in ``httpx`` (through
an activity module) costs each workflow run the import and invites I/O into code that must be
deterministic. Each module is imported in a fresh interpreter, so what another test or module
already loaded cannot hide an import.
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import nukiflow.contracts

ROOT = Path(__file__).parents[1]
WORKFLOWS = sorted(m.name for m in pkgutil.iter_modules([str(ROOT / "workflows")]))
CONTRACTS = sorted(m.name for m in pkgutil.iter_modules(nukiflow.contracts.__path__))
# What workflow code must not load.
NOT_IN_WORKFLOWS = ("httpx", "nukiflow.activities")
# What the contracts must not import (``workflows`` and ``activities`` also under their
# checkout names).
NOT_IN_CONTRACTS = (
    "nukiflow.client",
    "nukiflow.cli",
    "nukiflow.fleet",
    "nukiflow.workflows",
    "nukiflow.activities",
    "nukiflow.temporal",
    "nukiflow.devtools",
    "workflows",
    "activities",
)


def _loaded_after_import(module: str, watched: tuple[str, ...]) -> list[str]:
    """The modules of ``watched`` (or below them) that importing ``module`` loads."""
    script = (
        "import importlib, sys\n"
        f"importlib.import_module({module!r})\n"
        f"watched = {watched!r}\n"
        "print('\\n'.join(sorted(m for m in sys.modules\n"
        "    if any(m == w or m.startswith(w + '.') for w in watched))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.split()


@pytest.mark.parametrize("name", WORKFLOWS)
def test_a_workflow_module_loads_no_http_client_and_no_activity(name: str) -> None:
    loaded = _loaded_after_import(f"nukiflow.workflows.{name}", NOT_IN_WORKFLOWS)
    assert loaded == [], f"importing nukiflow.workflows.{name} loads {loaded}"


def test_every_workflow_module_is_checked() -> None:
    # The list is read from the directory: a new module cannot slip past.
    assert {"auth_entity", "auth_create", "rollout", "access_grant", "lock_actions"} <= set(
        WORKFLOWS
    )


def _imports(path: Path) -> list[str]:
    """Every module ``path`` imports, wherever the import statement stands (inside
    ``if TYPE_CHECKING:`` and functions too)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in NOT_IN_CONTRACTS)


@pytest.mark.parametrize("name", CONTRACTS)
def test_a_contracts_module_imports_nothing_of_the_layers_above(name: str) -> None:
    path = Path(nukiflow.contracts.__path__[0]) / f"{name}.py"
    bad = sorted({i for i in _imports(path) if _forbidden(i)})
    assert bad == [], f"nukiflow/contracts/{name}.py imports {bad}"


def test_the_contracts_load_nothing_of_the_layers_above() -> None:
    script = "; ".join(f"import nukiflow.contracts.{name}" for name in CONTRACTS)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"{script}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = [m for m in done.stdout.split() if _forbidden(m)]
    assert loaded == [], f"importing the contracts loads {loaded}"
