"""Determinism: recorded workflow histories must replay against the current workflow code.

``tests/histories/`` holds histories recorded from real runs. A change to workflow code that
would break running workflows fails here; guard intentional changes with ``workflow.patched``.
Set ``NUKIFLOW_RECORD_HISTORIES=1`` to (re)record them from the fresh run below. Their payloads
are encrypted with the suite's fixed test key (``tests/conftest.py``), as in production.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer, Worker

from nukiflow.client import NukiFlow
from nukiflow.converter import data_converter
from nukiflow.models.action import lock_workflow_id
from nukiflow.models.auth import OutcomeStatus
from nukiflow.models.entity import auth_workflow_id, create_workflow_id
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.settings import Faults
from nukiflow.worker import WORKFLOWS
from tests.conftest import CODEC_KEYS

HISTORIES = Path(__file__).parent / "histories"


def _replayer() -> Replayer:
    return Replayer(workflows=list(WORKFLOWS), data_converter=data_converter(CODEC_KEYS))


RECORDED = {p.stem: p.read_text(encoding="utf-8") for p in sorted(HISTORIES.glob("*.json"))}


@pytest.mark.parametrize("name", sorted(RECORDED))
async def test_recorded_history_replays(name: str) -> None:
    history = WorkflowHistory.from_json(name, RECORDED[name])
    result = await _replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"


async def test_fresh_histories_replay(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, temporal_client: Client
) -> None:
    """The forum case, a lost update, a create, a delete and two lock actions, replayed."""
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="replay", code=555559)
    await sim.set_faults(Faults(lost_update_nth=[4]), lock.smartlock_id)
    tasks = []
    for code in (555551, 555552, 555553, 555554, 555555):
        tasks.append(
            asyncio.create_task(flow.update_auth(lock.smartlock_id, auth.id, {"code": code}))
        )
        await asyncio.sleep(0.02)
    assert all(o.ok for o in await asyncio.gather(*tasks))
    created = await flow.create_auth(lock.smartlock_id, name="temp", code=555561, request_id="r1")
    assert created.status is OutcomeStatus.APPLIED and created.auth_id is not None
    deleted = await flow.delete_auth(lock.smartlock_id, created.auth_id)
    assert deleted.status is OutcomeStatus.APPLIED
    for action in ("unlock", "lock"):
        assert (await flow.action(lock.smartlock_id, action)).ok

    ids = {
        "auth_entity": auth_workflow_id(lock.smartlock_id, auth.id),
        "auth_create": create_workflow_id(lock.smartlock_id, "r1"),
        "auth_entity_deleted": auth_workflow_id(lock.smartlock_id, created.auth_id),
        "lock_actions": lock_workflow_id(lock.smartlock_id),
    }
    record = os.environ.get("NUKIFLOW_RECORD_HISTORIES") == "1"
    for name, workflow_id in ids.items():
        history = await temporal_client.get_workflow_handle(workflow_id).fetch_history()
        result = await _replayer().replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, f"{name}: {result.replay_failure}"
        if record:
            HISTORIES.mkdir(exist_ok=True)
            (HISTORIES / f"{name}.json").write_text(history.to_json(), encoding="utf-8")
