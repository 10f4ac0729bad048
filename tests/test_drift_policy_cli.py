"""The drift policy from the command line and through creates: `nukiflow auth drift-policy`,
`auth create --drift-policy`, and a create's entity taking the caller's (or the facade's
default) policy instead of always alert."""

from __future__ import annotations

import asyncio
import json

from temporalio.client import Client
from temporalio.worker import Worker
from typer.testing import CliRunner

from nukiflow.cli import app
from nukiflow.client import NukiFlow
from nukiflow.contracts.auth import OutcomeStatus
from nukiflow.contracts.entity import DriftPolicy
from nukiflow.simulator.control import SimulatorControl
from nukiflow.testing import FAST_TIMING


async def cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    return result.exit_code, result.output


async def test_creates_hand_their_policy_to_the_entity(
    sim: SimulatorControl, worker: Worker, temporal_client: Client, task_queue: str
) -> None:
    lock = await sim.add_lock()
    adopting = NukiFlow(
        temporal_client, task_queue=task_queue, timing=FAST_TIMING, drift_policy=DriftPolicy.ADOPT
    )
    by_default = await adopting.create_auth(lock.smartlock_id, name="one", code=535351)
    assert by_default.status is OutcomeStatus.APPLIED and by_default.auth_id
    view = await adopting.auth_state(lock.smartlock_id, by_default.auth_id)
    assert view.drift_policy is DriftPolicy.ADOPT
    given = await adopting.create_auth(
        lock.smartlock_id, name="two", code=535361, drift_policy="enforce"
    )
    assert given.auth_id
    view = await adopting.auth_state(lock.smartlock_id, given.auth_id)
    assert view.drift_policy is DriftPolicy.ENFORCE
    refused = await adopting.create_auth(
        lock.smartlock_id, name="three", code=535371, drift_policy="ignore"
    )
    assert refused.status is OutcomeStatus.REJECTED
    assert refused.reason is not None and "drift_policy" in refused.reason


async def test_the_drift_policy_commands(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, cli_env: dict[str, str]
) -> None:
    lock = await sim.add_lock()
    code, out = await cli(
        cli_env,
        "auth", "create", str(lock.smartlock_id), "--name", "guest", "--code", "545451",
        "--drift-policy", "enforce", "--json",
    )  # fmt: skip
    assert code == 0, out
    auth_id = json.loads(out)["auth_id"]
    assert (await flow.auth_state(lock.smartlock_id, auth_id)).drift_policy is DriftPolicy.ENFORCE

    code, out = await cli(
        cli_env, "auth", "drift-policy", str(lock.smartlock_id), auth_id, "adopt", "--json"
    )
    assert code == 0, out
    assert json.loads(out)["drift_policy"] == "adopt"
    assert (await flow.auth_state(lock.smartlock_id, auth_id)).drift_policy is DriftPolicy.ADOPT
    code, out = await cli(cli_env, "auth", "drift-policy", str(lock.smartlock_id), auth_id, "ALERT")
    assert code == 0 and "alert" in out

    code, _ = await cli(cli_env, "auth", "drift-policy", str(lock.smartlock_id), auth_id, "ignore")
    assert code == 2
    code, _ = await cli(
        cli_env, "auth", "create", str(lock.smartlock_id), "--name", "x", "--drift-policy", "no"
    )
    assert code == 2
    stranger = await sim.add_auth(lock.smartlock_id, name="app-made", code=656561)
    code, out = await cli(
        cli_env, "auth", "drift-policy", str(lock.smartlock_id), stranger.id, "adopt"
    )
    assert code == 1 and "does not manage" in out
