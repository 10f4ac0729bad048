"""`nukiflow reconcile plan|apply` against the session's Temporal, the test's fake cloud and a
worker: the plan lists exactly the differences seeded on the device (field names only), its
exit statuses, and apply fixing them through a rollout."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from temporalio.worker import Worker
from typer.testing import CliRunner

from nukiflow.cli import app
from nukiflow.client import NukiFlow
from nukiflow.contracts.entity import EntityStatus
from nukiflow.contracts.reconcile import ReconcilePlan
from nukiflow.fleet.reconcile import reconcile_items
from nukiflow.simulator.control import SimulatorControl
from tests.test_drift_sweep import managed

SECRET_NAME = "renamed-in-app"


async def cli(env: dict[str, str], *args: str) -> tuple[int, Any, str]:
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    try:
        data = json.loads(result.stdout)
    except ValueError:
        data = None
    return result.exit_code, data, result.output


async def test_plan_lists_the_seeded_differences_and_apply_fixes_them(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, cli_env: dict[str, str]
) -> None:
    lock = await sim.add_lock()
    other = await sim.add_lock()
    smartlock_id = lock.smartlock_id
    drifting = await managed(flow, sim, smartlock_id, 535351)
    steady = await managed(flow, sim, smartlock_id, 535361)
    vanishing = await managed(flow, sim, smartlock_id, 535371)
    await managed(flow, sim, other.smartlock_id, 535381)
    stranger = await sim.add_auth(smartlock_id, name="app-made", code=646461)
    app_auth = await sim.add_auth(smartlock_id, name="owner", type=0)
    await sim.update_device_auth(smartlock_id, drifting, name=SECRET_NAME)
    await sim.delete_device_auth(smartlock_id, vanishing)

    code, plan, output = await cli(
        cli_env, "reconcile", "plan", "--smartlock", str(smartlock_id), "--json"
    )
    assert code == 4, output
    assert plan["smartlocks"] == [smartlock_id]
    assert [(d["auth_id"], d["fields"]) for d in plan["drifted"]] == [(drifting, ["name"])]
    assert sorted(u["auth_id"] for u in plan["unmanaged"]) == sorted([stranger.id, app_auth.id])
    assert [g["auth_id"] for g in plan["disappeared"]] == [vanishing]
    assert plan["skipped"] == [] and plan["differences"] == 4
    # Names of fields, never their values.
    assert SECRET_NAME not in json.dumps(plan["drifted"])
    assert "rewrite_enabled" not in json.dumps(plan)
    # A dry run: nothing was written, the entity is as it was.
    assert (await flow.auth_state(smartlock_id, drifting)).status is EntityStatus.IN_SYNC

    code, _, output = await cli(cli_env, "reconcile", "plan", "--smartlock", str(smartlock_id))
    assert code == 4 and "name" in output and SECRET_NAME not in output and "drifted" in output

    code, done, output = await cli(
        cli_env, "reconcile", "apply", "--smartlock", str(smartlock_id), "--json"
    )
    assert code == 0, output
    assert done["rollout"]["totals"]["applied"] == 1
    device = {a.id: a for a in (await sim.device(smartlock_id)).auths}
    assert device[drifting].name == "guest535351" and device[drifting].code == 535352
    assert stranger.id in device  # unmanaged: only listed without --delete-unmanaged
    view = await flow.auth_state(smartlock_id, drifting)
    assert view.status is EntityStatus.IN_SYNC
    assert (await flow.auth_state(smartlock_id, steady)).last_outcomes[-1].writes == 1

    code, plan, _ = await cli(
        cli_env, "reconcile", "plan", "--smartlock", str(smartlock_id), "--json"
    )
    assert code == 4 and plan["drifted"] == [] and len(plan["disappeared"]) == 1

    code, done, output = await cli(
        cli_env,
        "reconcile",
        "apply",
        "--smartlock",
        str(smartlock_id),
        "--delete-unmanaged",
        "--json",
    )
    assert code == 0, output
    device = {a.id: a for a in (await sim.device(smartlock_id)).auths}
    # The keypad code went; the app auth (maybe the owner's own access) stays.
    assert stranger.id not in device and app_auth.id in device


async def test_no_differences_exit_zero_and_bad_locks(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, cli_env: dict[str, str]
) -> None:
    lock = await sim.add_lock()
    await managed(flow, sim, lock.smartlock_id, 545451)
    code, plan, output = await cli(cli_env, "reconcile", "plan", "--json")
    assert code == 0, output
    assert plan["differences"] == 0 and plan["managed"] == 1
    code, _, output = await cli(cli_env, "reconcile", "apply")
    assert code == 0 and "Nothing to apply" in output
    code, _, output = await cli(cli_env, "reconcile", "plan", "--smartlock", "424242")
    assert code == 1 and "424242" in output
    code, _, _ = await cli(cli_env, "reconcile", "plan", "--smartlock", "x")
    assert code == 2


def test_apply_rewrites_drifted_and_deletes_only_unmanaged_keypad_codes() -> None:
    plan = ReconcilePlan.model_validate(
        {
            "smartlocks": [1],
            "drifted": [
                {
                    "smartlock_id": 1,
                    "auth_id": "a" * 24,
                    "fields": ["code"],
                    "status": "drifted",
                    "rewrite_enabled": False,
                }
            ],
            "unmanaged": [
                {"smartlock_id": 1, "auth_id": "b" * 24, "name": "k", "type": 13, "enabled": True},
                {"smartlock_id": 1, "auth_id": "c" * 24, "name": "app", "type": 0, "enabled": True},
            ],
            "disappeared": [{"smartlock_id": 1, "auth_id": "d" * 24, "status": "in_sync"}],
        }
    )
    items = reconcile_items(plan)
    assert [(i.op.value, i.auth_id) for i in items] == [("update", "a" * 24)]
    assert items[0].patch is not None and items[0].patch.enabled is False
    items = reconcile_items(plan, delete_unmanaged=True)
    assert [(i.op.value, i.auth_id) for i in items] == [("update", "a" * 24), ("delete", "b" * 24)]
