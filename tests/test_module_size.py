"""Modules stay small enough to read in one sitting: a module that grows past the limit is split
by subject (its name should say what lives there), not left to grow."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The package, and the two top-level directories installed as nukiflow.workflows and
# nukiflow.activities (listed here, not reached through the symlinks in nukiflow/).
PACKAGE_DIRS = ("nukiflow", "workflows", "activities")
MAX_LINES = 450


def _modules() -> list[Path]:
    # Resolved and deduplicated: a file reached through a symlink as well counts once.
    return sorted({path.resolve() for name in PACKAGE_DIRS for path in (ROOT / name).rglob("*.py")})


def test_the_walk_sees_every_package() -> None:
    modules = {path.relative_to(ROOT).parts[0] for path in _modules()}
    assert modules == set(PACKAGE_DIRS)
    assert ROOT / "nukiflow" / "client" / "facade.py" in _modules()


def test_no_module_is_over_the_limit() -> None:
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in _modules()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not too_long, f"split these by subject (at most {MAX_LINES} lines each): {too_long}"
