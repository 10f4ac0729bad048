"""`nukiflow demo --json` through the console script: the forum case end to end."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "nukiflow"
CODES = [555551, 555552, 555553, 555554, 555555]


async def test_demo_json_shows_the_lost_update_and_nukiflow_verifying_the_last_code(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUKIFLOW_")}
    process = await asyncio.create_subprocess_exec(
        str(SCRIPT),
        "demo",
        "--json",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    result = json.loads(stdout)

    raw = result["raw"]
    assert raw["statuses"] == [204, 204, 204, 204, 423]
    # The code stored afterwards is not the last one answered 204 (the forum's lost update).
    assert raw["final_code"] != raw["last_accepted_code"] == 555554
    assert raw["final_code"] == 555553

    ours = result["nukiflow"]
    assert ours["final_code"] == CODES[-1] and ours["verified"] is True
    outcomes = ours["outcomes"]
    assert [o["code"] for o in outcomes] == CODES
    assert {o["status"] for o in outcomes[:-1]} <= {"applied", "superseded"}
    assert outcomes[-1]["status"] == "applied"
    # The fake cloud lost nukiflow's first write too; nukiflow wrote again.
    assert sum(o["writes"] for o in outcomes) >= 2
    ui_url = ours["ui_url"]
    assert ui_url.endswith(f"/namespaces/default/workflows/{ours['workflow_id']}")

    # Nothing is left behind: no files in the working directory, and the Temporal server
    # (which serves the UI) is gone.
    assert not os.listdir(tmp_path)
    ui_port = int(ui_url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", ui_port)) != 0
