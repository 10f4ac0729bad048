"""Internal: where ``nukiflow dev``'s Temporal UI listens, recorded in its state directory so
the command line's links point at it whatever ``--ui-port`` was (the CLI reads it when
``NUKIFLOW_UI_URL`` is not set and its Temporal address is the one recorded)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Final

UI_ADDRESS_FILE: Final = "ui.json"


def record_ui_address(state_dir: Path, temporal_address: str, ui_url: str) -> None:
    """Write (atomically) the UI's address beside the Temporal it serves."""
    path = state_dir / UI_ADDRESS_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"temporal_address": temporal_address, "ui_url": ui_url}) + "\n")
    os.replace(tmp, path)


def recorded_ui_address(state_dir: Path, temporal_address: str) -> str | None:
    """The UI ``dev`` recorded for this Temporal address (None: none, or another one's)."""
    try:
        data = json.loads((state_dir / UI_ADDRESS_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("temporal_address") != temporal_address:
        return None
    ui_url = data.get("ui_url")
    return ui_url if isinstance(ui_url, str) and ui_url.startswith("http") else None
