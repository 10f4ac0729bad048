"""The operator commands through their real entry points, against the session's Temporal dev
server, the test's fake Nuki cloud and a worker: outputs, JSON shapes and exit statuses.

Typer's CliRunner runs a command in a thread (the command runs its own event loop there) so the
fake cloud and the worker keep running in the test's loop meanwhile. One test goes through the
console script in a subprocess, as a user's shell does.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from temporalio.worker import Worker
from typer.testing import CliRunner, Result

from nukiflow.cli import app, status_query, ui_base_url
from nukiflow.cli.console import echoed_code
from nukiflow.cli.run import _quiet_logging
from nukiflow.client import NukiFlow
from nukiflow.contracts.auth import AuthOutcome, OutcomeStatus
from nukiflow.contracts.entity import auth_workflow_id
from nukiflow.devtools.ports import free_port
from nukiflow.settings import Settings
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.settings import Faults
from tests.conftest import UI
from tests.webhook_receiver import eventually


async def run(env: dict[str, str], *args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


def as_json(result: Result) -> Any:
    assert result.stdout.strip(), result.output
    return json.loads(result.stdout)


async def status_showing(env: dict[str, str], shows: Callable[[Any], bool], *args: str) -> Any:
    """``nukiflow status --json ARGS`` once it shows what ``shows`` looks for. The command lists
    from Temporal's visibility, which the server writes a moment after a workflow started or
    changed its search attributes (on a loaded machine, seconds later)."""
    report: Any = None

    async def listed() -> bool:
        nonlocal report
        result = await run(env, "status", "--json", *args)
        assert result.exit_code == 0, result.output
        report = as_json(result)
        return shows(report)

    await eventually(listed, within=30)
    return report


async def keypad_auth(sim: SimulatorControl, code: int = 545454) -> tuple[int, str]:
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="guest", code=code)
    return lock.smartlock_id, auth.id


def test_a_typed_code_is_echoed_to_a_terminal_only() -> None:
    terminal = Console(file=io.StringIO(), force_terminal=True)
    piped = Console(file=io.StringIO(), force_terminal=False)
    assert echoed_code(terminal, 535353) == "535353 (as you typed it)"
    shown = echoed_code(piped, 535353)
    assert shown is not None and "535353" not in shown
    assert echoed_code(terminal, None) is None


async def test_auth_lifecycle_with_human_output(
    cli_env: dict[str, str], sim: SimulatorControl, worker: Worker
) -> None:
    lock = await sim.add_lock()
    lock_id = str(lock.smartlock_id)

    created = await run(cli_env, "auth", "create", lock_id, "--name", "guest", "--code", "535353")
    assert created.exit_code == 0, created.output
    assert "Applied" in created.stdout
    # Not a terminal (as in a CI log): the typed code is not echoed.
    assert "code ****** (as you typed it; shown only on a terminal)" in created.stdout
    assert "535353" not in created.output
    auth_id = (await sim.device(lock.smartlock_id)).auths[0].id
    assert f"New auth id: {auth_id}" in created.stdout

    updated = await run(
        cli_env,
        "auth",
        "update",
        lock_id,
        auth_id,
        "--code",
        "565656",
        "--weekdays",
        "mon-fri",
        "--times",
        "08:00-18:00",
    )
    assert updated.exit_code == 0, updated.output
    assert "Applied" in updated.stdout and "565656" not in updated.output
    assert "mon,tue,wed,thu,fri · 08:00-18:00" in updated.stdout
    workflow_id = auth_workflow_id(lock.smartlock_id, auth_id)
    assert f"{UI}/namespaces/default/workflows/{workflow_id}" in updated.stdout
    device = (await sim.device(lock.smartlock_id)).auths[0]
    assert (device.code, device.allowed_week_days, device.allowed_from_time) == (565656, 124, 480)

    # Where the user did not type the code, it is never shown.
    shown = await run(cli_env, "auth", "show", lock_id, auth_id)
    assert shown.exit_code == 0, shown.output
    assert "in sync" in shown.stdout and "code ******" in shown.stdout
    assert "565656" not in shown.output and "535353" not in shown.output

    # `none` removes a restriction; fields not named keep their value (the code too).
    renamed = await run(
        cli_env,
        "auth",
        "update",
        lock_id,
        auth_id,
        "--name",
        "cleaner",
        "--weekdays",
        "none",
        "--times",
        "none",
    )
    assert renamed.exit_code == 0, renamed.output
    assert "code ******" in renamed.stdout and "565656" not in renamed.output
    assert "no time restriction" in renamed.stdout
    device = (await sim.device(lock.smartlock_id)).auths[0]
    assert (device.name, device.code, device.allowed_week_days, device.allowed_from_time) == (
        "cleaner",
        565656,
        None,
        None,
    )

    deleted = await run(cli_env, "auth", "delete", lock_id, auth_id)
    assert deleted.exit_code == 0, deleted.output
    assert "Applied" in deleted.stdout and "gone from the lock" in deleted.stdout
    assert (await sim.device(lock.smartlock_id)).auths == []


async def test_json_shapes_and_the_code_stays_out(
    cli_env: dict[str, str], sim: SimulatorControl, worker: Worker
) -> None:
    lock_id, auth_id = await keypad_auth(sim)
    result = await run(
        cli_env, "auth", "update", str(lock_id), auth_id, "--code", "575757", "--json"
    )
    assert result.exit_code == 0, result.output
    outcome = as_json(result)
    assert outcome["status"] == "applied"
    assert outcome["kind"] == "update"
    assert (outcome["smartlock_id"], outcome["auth_id"]) == (lock_id, auth_id)
    assert outcome["workflow_id"] == auth_workflow_id(lock_id, auth_id)
    assert outcome["verified"]["code"] == "******"
    assert "575757" not in result.stdout

    shown = as_json(await run(cli_env, "auth", "show", str(lock_id), auth_id, "--json"))
    assert shown["status"] == "in_sync"
    assert shown["verified"]["code"] == "******"
    assert shown["running"] is True and shown["pending_changes"] == 0
    assert shown["last_outcomes"][-1]["status"] == "applied"

    report = await status_showing(
        cli_env, lambda shown: shown["counts"] == {"in_sync": 1}, "--smartlock", str(lock_id)
    )
    assert report["workflows"][0]["workflow_id"] == auth_workflow_id(lock_id, auth_id)
    assert report["workflows"][0]["status"] == "in_sync"


async def test_rejected_input_exits_2_and_writes_nothing(
    cli_env: dict[str, str], sim: SimulatorControl, worker: Worker
) -> None:
    lock_id, auth_id = await keypad_auth(sim)
    sim_requests_before = len(await sim.requests())

    bad_code = await run(cli_env, "auth", "update", str(lock_id), auth_id, "--code", "123456")
    assert bad_code.exit_code == 2, bad_code.output
    assert "Rejected" in bad_code.stdout and "must not start with 12" in bad_code.stdout

    as_json_rejected = await run(
        cli_env, "auth", "update", str(lock_id), auth_id, "--code", "12345", "--json"
    )
    assert as_json_rejected.exit_code == 2
    assert as_json(as_json_rejected)["status"] == "rejected"
    assert "12345" not in as_json_rejected.stdout and "12345" not in as_json_rejected.stderr

    bad_window = await run(
        cli_env, "auth", "update", str(lock_id), auth_id, "--times", "18:00-08:00"
    )
    assert bad_window.exit_code == 2 and "--times" in bad_window.output

    bad_day = await run(cli_env, "auth", "update", str(lock_id), auth_id, "--weekdays", "funday")
    assert bad_day.exit_code == 2 and "unknown weekday" in bad_day.output

    nothing = await run(cli_env, "auth", "update", str(lock_id), auth_id)
    assert nothing.exit_code == 2 and "nothing to change" in nothing.output

    bad_deadline = await run(
        cli_env, "auth", "update", str(lock_id), auth_id, "--name", "x", "--deadline", "soon"
    )
    assert bad_deadline.exit_code == 2 and "--deadline" in bad_deadline.output

    assert len(await sim.requests()) == sim_requests_before


async def test_failed_change_exits_1_with_the_reason(
    cli_env: dict[str, str], sim: SimulatorControl, worker: Worker
) -> None:
    lock = await sim.add_lock()
    result = await run(cli_env, "auth", "update", str(lock.smartlock_id), "a" * 24, "--name", "x")
    assert result.exit_code == 1, result.output
    assert "Failed" in result.stdout and "was not found" in result.stdout
    assert f"nukiflow auth show {lock.smartlock_id}" in result.stdout
    # An auth that is not there has no entity to keep: nothing is listed for it.
    listed = as_json(await run(cli_env, "status", "--json", "--smartlock", str(lock.smartlock_id)))
    assert listed["counts"] == {}

    # A managed auth whose change failed (offline past its deadline) is listed as failing.
    lock_id, auth_id = await keypad_auth(sim)
    await sim.set_faults(Faults(offline_mode="drop"), lock_id)
    await sim.set_online(lock_id, False)
    result = await run(
        cli_env, "auth", "update", str(lock_id), auth_id, "--name", "x", "--deadline", "2s"
    )
    assert result.exit_code == 1, result.output
    await status_showing(
        cli_env, lambda shown: shown["counts"] == {"failed": 1}, "--smartlock", str(lock_id)
    )
    table = await run(cli_env, "status", "--smartlock", str(lock_id))
    assert table.exit_code == 0
    assert "1 failing" in table.stdout
    assert auth_workflow_id(lock_id, auth_id) in table.stdout


async def test_no_wait_returns_once_accepted(
    cli_env: dict[str, str], sim: SimulatorControl, worker: Worker
) -> None:
    lock_id, auth_id = await keypad_auth(sim)
    result = await run(
        cli_env, "auth", "update", str(lock_id), auth_id, "--code", "585858", "--no-wait", "--json"
    )
    assert result.exit_code == 0, result.output
    accepted = as_json(result)
    assert accepted["status"] == "accepted"
    assert accepted["workflow_id"] == auth_workflow_id(lock_id, auth_id)
    for _ in range(100):
        shown = as_json(await run(cli_env, "auth", "show", str(lock_id), auth_id, "--json"))
        if shown["status"] == "in_sync":
            break
        await asyncio.sleep(0.1)
    assert shown["status"] == "in_sync"
    assert (await sim.device(lock_id)).auths[0].code == 585858


async def test_show_of_an_unmanaged_auth_says_what_to_do(
    cli_env: dict[str, str], sim: SimulatorControl
) -> None:
    result = await run(cli_env, "auth", "show", "4242", "b" * 24)
    assert result.exit_code == 1
    assert "does not manage auth" in result.output and "nukiflow auth update" in result.output


async def test_actions_and_their_exit_statuses(
    cli_env: dict[str, str], sim: SimulatorControl, worker: Worker
) -> None:
    lock = await sim.add_lock()
    lock_id = str(lock.smartlock_id)

    unlocked = await run(cli_env, "unlock", lock_id, "--json")
    assert unlocked.exit_code == 0, unlocked.output
    outcome = as_json(unlocked)
    assert (outcome["status"], outcome["action"], outcome["state_name"]) == (
        "confirmed",
        "unlock",
        "unlocked",
    )

    locked = await run(cli_env, "action", lock_id, "lock", "--full-lock")
    assert locked.exit_code == 0, locked.output
    assert "Confirmed" in locked.stdout and "locked" in locked.stdout

    opener_only = await run(cli_env, "action", lock_id, "open")
    assert opener_only.exit_code == 2, opener_only.output
    assert "Rejected" in opener_only.stdout and "Opener" in opener_only.stdout

    unknown = await run(cli_env, "action", lock_id, "explode")
    assert unknown.exit_code == 2 and "explode" in unknown.output

    # Offline and held back past the deadline: the unlock is never sent (exit 1).
    await sim.set_faults(Faults(offline_mode="hold"), lock.smartlock_id)
    await sim.set_online(lock.smartlock_id, False)
    late = await run(cli_env, "unlock", lock_id, "--deadline", "1s", "--json")
    assert late.exit_code == 1, late.output
    assert as_json(late)["status"] in ("expired", "failed")

    await status_showing(
        cli_env,
        lambda shown: [w["kind"] for w in shown["workflows"]] == ["lock"],
        "--smartlock",
        lock_id,
    )


async def test_lock_and_unlatch_short_forms(
    cli_env: dict[str, str], sim: SimulatorControl, worker: Worker
) -> None:
    lock = await sim.add_lock()
    lock_id = str(lock.smartlock_id)

    unlatched = await run(cli_env, "unlatch", lock_id, "--json")
    assert unlatched.exit_code == 0, unlatched.output
    outcome = as_json(unlatched)
    assert (outcome["status"], outcome["action"], outcome["state_name"]) == (
        "confirmed",
        "unlatch",
        "unlatched",
    )

    locked = await run(cli_env, "lock", lock_id)
    assert locked.exit_code == 0, locked.output
    assert "Confirmed" in locked.stdout and "locked" in locked.stdout
    await status_showing(
        cli_env,
        lambda shown: [w["kind"] for w in shown["workflows"]] == ["lock"],
        "--smartlock",
        lock_id,
    )


async def test_a_superseded_change_exits_0(
    cli_env: dict[str, str], sim: SimulatorControl, worker: Worker, flow: NukiFlow
) -> None:
    """Superseded means a later change replaced this one before it was written: not a failure
    (the later change's own outcome says whether the lock got it)."""
    lock_id, auth_id = await keypad_auth(sim)
    # Offline, the lock holds what it is sent: the first change stays in flight until the lock
    # is back, so the CLI's change and the third are accepted while it is being written.
    await sim.set_faults(Faults(offline_mode="hold"), lock_id)
    await sim.set_online(lock_id, False)
    first = asyncio.create_task(flow.update_auth(lock_id, auth_id, {"name": "one"}))
    for _ in range(1500):
        if any(r.method == "POST" and r.status == 204 for r in await sim.requests()):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the first change was never written")
    second = asyncio.create_task(
        run(cli_env, "auth", "update", str(lock_id), auth_id, "--name", "two")
    )
    for _ in range(1500):
        if (await flow.auth_state(lock_id, auth_id)).change_counter >= 2:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the CLI's change was never accepted")
    third = await flow.start_update_auth(lock_id, auth_id, {"name": "three"})
    assert not isinstance(third, AuthOutcome)
    await sim.set_online(lock_id, True)

    superseded = await second
    assert superseded.exit_code == 0, superseded.output
    assert "Superseded" in superseded.stdout
    assert (await third.result()).status is OutcomeStatus.APPLIED
    assert (await first).status is OutcomeStatus.APPLIED
    assert (await sim.device(lock_id)).auths[0].name == "three"


async def test_unreachable_temporal_says_how_to_start_it(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "NUKIFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}"}
    result = await run(env, "status")
    assert result.exit_code == 1
    assert "cannot reach Temporal" in result.output and "nukiflow dev" in result.output


async def test_the_console_script_exits_with_the_command_status(
    cli_env: dict[str, str], sim: SimulatorControl, worker: Worker
) -> None:
    """Through `nukiflow` itself (console script, os._exit path), as a shell runs it."""
    lock_id, auth_id = await keypad_auth(sim)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUKIFLOW_")} | cli_env
    script = str(Path(sys.executable).parent / "nukiflow")

    def shell(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [script, *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    applied = await asyncio.to_thread(
        shell, "auth", "update", str(lock_id), auth_id, "--enable", "--json"
    )
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout)["status"] == "applied"
    rejected = await asyncio.to_thread(
        shell, "auth", "update", str(lock_id), auth_id, "--code", "999"
    )
    assert rejected.returncode == 2, rejected.stderr
    usage = await asyncio.to_thread(shell, "auth", "update", str(lock_id))
    assert usage.returncode == 2 and "Missing argument" in usage.stderr


def test_status_query_and_ui_link(monkeypatch: pytest.MonkeyPatch) -> None:
    assert status_query("q'1", 7) == (
        "(TaskQueue = 'q\\'1' OR TaskQueue STARTS_WITH 'q\\'1@') "
        "AND ExecutionStatus = 'Running' AND NukiKind IS NOT NULL "
        "AND NukiSmartlockId = 7"
    )
    # Settings read the environment when built: clear it first, and only for this test.
    monkeypatch.delenv("NUKIFLOW_UI_URL", raising=False)
    local = Settings(temporal_address="localhost:7300")
    remote = Settings(temporal_address="temporal.example.com:7233")
    assert ui_base_url(local) == "http://localhost:8300"
    assert ui_base_url(remote) is None

    monkeypatch.setenv("NUKIFLOW_UI_URL", "https://ui.example.com/")
    configured = Settings(temporal_address="temporal.example.com:7233")
    assert ui_base_url(configured) == "https://ui.example.com"


def test_dev_and_demo_logging_masks_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    """dev and demo run a worker in their own process: its log is masked as the worker's is."""
    root, httpx_logger = logging.getLogger(), logging.getLogger("httpx")
    saved = (root.handlers[:], root.level, httpx_logger.level)
    try:
        _quiet_logging(Settings(nuki_token="tok-live-secret-value"))
        logging.getLogger("nukiflow.test").warning(
            "request with tok-live-secret-value failed for code 535353"
        )
        logging.getLogger("nukiflow.test").info("not shown: dev and demo log warnings only")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        httpx_logger.setLevel(saved[2])
    logged = capsys.readouterr().err
    assert "WARNING nukiflow.test: request with ****** failed for code ******" in logged
    assert "tok-live-secret-value" not in logged and "535353" not in logged
    assert "not shown" not in logged
