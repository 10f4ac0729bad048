"""The published contract of the Nexus service: the exported files match the models (and the
checked-in copy callers vendor), inputs validate against their schemas and unknown fields do
not; ``nukiflow nexus-demo`` shows a caller's check-in end to end."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import nexusrpc
import pytest
from temporalio.client import Client
from temporalio.worker import Worker
from typer.testing import CliRunner

from nukiflow.cli import app
from nukiflow.contracts.action import ActionName
from nukiflow.contracts.auth import AuthPatch
from nukiflow.nexus.contract import contract_files
from nukiflow.nexus.handler import NukiflowNexusHandler
from nukiflow.nexus.models import LockActionInput, UpdateAuthInput, VaultInput
from nukiflow.nexus.service import NukiflowService
from nukiflow.nexus.workflows import CodeVaultWorkflow, code_vault_id

ROOT = Path(__file__).parents[1]
CHECKED_IN = ROOT / "contract"
SCRIPT = Path(sys.executable).parent / "nukiflow"


def test_the_checked_in_contract_matches_the_models() -> None:
    files = contract_files()
    on_disk = {
        str(path.relative_to(CHECKED_IN)): path.read_text(encoding="utf-8")
        for path in CHECKED_IN.rglob("*.json")
    }
    assert sorted(on_disk) == sorted(files), "run `nukiflow contract export` and commit contract/"
    for name, text in files.items():
        assert on_disk[name] == text, f"contract/{name} is stale: run `nukiflow contract export`"


def test_export_writes_the_contract(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["contract", "export", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    files = contract_files()
    assert len(json.loads(result.stdout)["files"]) == len(files)
    for name, text in files.items():
        assert (tmp_path / name).read_text(encoding="utf-8") == text


def test_the_contract_names_every_operation_the_handler_serves() -> None:
    service = json.loads(contract_files()["service.json"])
    definition = nexusrpc.get_service_definition(NukiflowService)
    assert definition is not None
    assert service["service"] == definition.name == "nukiflow"
    assert sorted(service["operations"]) == sorted(definition.operation_definitions)
    handled = {
        name for name in dir(NukiflowNexusHandler) if name in definition.operation_definitions
    }
    assert handled == set(definition.operation_definitions)


def _schema(name: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(contract_files()[f"schemas/{name}"])
    return loaded


def test_inputs_validate_against_their_schemas_and_unknown_fields_do_not() -> None:
    deadline = datetime.now(UTC) + timedelta(minutes=5)
    update = UpdateAuthInput(
        request_id="r-1",
        smartlock_id=17,
        auth_id="5f2a0c8e4b1d9a7c3e6f0b12",
        patch=AuthPatch(enabled=False),
        deadline_at=deadline,
    ).model_dump(mode="json", exclude_defaults=True)
    jsonschema.validate(update, _schema("update_auth.input.json"))
    action = LockActionInput(
        request_id="r-2", smartlock_id=17, action=ActionName.UNLOCK, deadline_at=deadline
    ).model_dump(mode="json")
    jsonschema.validate(action, _schema("lock_action.input.json"))
    # A duration instead of the instant, or a misspelt field, is not the contract.
    for wrong in (
        {**action, "deadline_seconds": 30},
        {k: v for k, v in action.items() if k != "deadline_at"},
        {**update, "patch": {"alowed_until_date": "2026-01-01T00:00:00Z"}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(
                wrong,
                _schema(
                    "lock_action.input.json" if "action" in wrong else "update_auth.input.json"
                ),
            )


def test_redeem_code_refuses_to_print_a_code_into_a_pipe() -> None:
    result = CliRunner().invoke(app, ["redeem-code", "nuki-code-17-r-1"])
    assert result.exit_code == 2
    assert "--to-pipe" in result.output


async def test_nexus_demo_runs_a_callers_check_in_through_nexus(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUKIFLOW_")}
    process = await asyncio.create_subprocess_exec(
        str(SCRIPT),
        "nexus-demo",
        "--json",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0, stderr.decode()
    result = json.loads(stdout)
    assert result["caller_namespace"] == "nukiflow-callers"
    assert result["check_in"]["code"]["outcome"]["status"] == "applied"
    assert result["check_in"]["code"]["masked_code"] == "******"
    assert result["check_in"]["unlock"]["status"] == "confirmed"
    assert result["code_kept_out_of_caller_history"] is True
    assert result["redeemed_code_matches_lock"] is True


@pytest.mark.parametrize(
    "module",
    [
        "nukiflow.nexus.service",
        "nukiflow.nexus.caller",
        "nukiflow.nexus.workflows",
        "nukiflow.nexus.fleet_workflows",
    ],
)
def test_what_callers_and_workflows_import_loads_no_worker_code(module: str) -> None:
    # A caller's workflow imports the service and models only; the request workflows run in
    # the sandbox. Neither may drag in the HTTP client, the activities, the facade or the fleet.
    script = (
        f"import importlib, sys; importlib.import_module({module!r}); "
        "print(sorted(m for m in sys.modules if m == 'httpx' or m.split('.')[:2] in "
        "(['nukiflow', 'activities'], ['nukiflow', 'client'], ['nukiflow', 'fleet'])))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


async def test_redeem_code_prints_a_kept_code_once(
    temporal_client: Client, task_queue: str, worker: Worker, cli_env: dict[str, str]
) -> None:
    handle = code_vault_id(17, f"cli-{task_queue}")
    await temporal_client.start_workflow(
        CodeVaultWorkflow.run,
        VaultInput(
            smartlock_id=17,
            request_id=f"cli-{task_queue}",
            code=535353,
            redeemable_until=datetime.now(UTC) + timedelta(minutes=5),
        ),
        id=handle,
        task_queue=task_queue,
    )
    args = ["redeem-code", handle, "--to-pipe"]
    first = await asyncio.to_thread(CliRunner().invoke, app, args, env=cli_env)
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "535353"
    again = await asyncio.to_thread(CliRunner().invoke, app, args, env=cli_env)
    assert again.exit_code == 2
    assert "535353" not in again.output
