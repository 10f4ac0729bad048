"""`nukiflow rollout ...`, `nukiflow access ...` and the fleet rows of `nukiflow status` through
the real entry points, against the session's Temporal dev server, the test's fake Nuki cloud and
the shared worker (which runs the fleet workflows): outputs, JSON shapes and exit statuses.

Keypad codes appear only where the user typed them: never from a plan file, never in `show`.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from temporalio.worker import Worker

from nukiflow.cli import render_fleet
from nukiflow.cli.render_status import StatusRow, render_status
from nukiflow.client import NukiFlow
from nukiflow.contracts.rollout import (
    ItemReport,
    ItemStatus,
    ReportLimits,
    RolloutOp,
    RolloutProgress,
    RolloutReport,
    RolloutState,
    RolloutTotals,
)
from nukiflow.fleet import Fleet
from nukiflow.fleet import rollouts as fleet_rollouts
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.settings import Faults
from tests.grant_support import end_soon
from tests.test_cli import as_json, run, status_showing

# Item timings of the plan files, scaled to the fake cloud's 0.1 s device delay.
FAST_OPTIONS = """\
options:
  heartbeat: 2
  item_wait: 3
  item_poll_initial: 0.2
  item_poll_max: 0.5
  drain: 5
"""
MISSING = "0" * 24


async def _wait_for(check: Callable[[], Awaitable[bool]], within: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def _lock_with_auths(
    sim: SimulatorControl, n: int, first_code: int = 611111
) -> tuple[int, list[str]]:
    lock = (await sim.add_lock()).smartlock_id
    ids = [(await sim.add_auth(lock, name=f"a{i}", code=first_code + i)).id for i in range(n)]
    return lock, ids


# -- rollouts ------------------------------------------------------------------------------


async def test_rollout_apply_reports_what_did_not_apply(
    cli_env: dict[str, str], sim: SimulatorControl, worker: Worker, tmp_path: Path
) -> None:
    l1, (a1,) = await _lock_with_auths(sim, 1)
    l2 = (await sim.add_lock()).smartlock_id
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"""\
name: cli plan
{FAST_OPTIONS}
items:
  - op: update
    smartlock_id: {l1}
    auth_id: "{a1}"
    name: renamed
  - op: create
    smartlock_ids: [{l1}, {l2}]
    name: visitor
    code: 533333
  - op: update
    smartlock_id: {l2}
    auth_id: "{MISSING}"
    enabled: false
"""
    )
    applied = await run(cli_env, "rollout", "apply", str(plan))
    assert applied.exit_code == 1, applied.output
    out = applied.stdout
    assert "Completed with failures" in out and "cli plan" in out
    assert "3 applied" in out and "1 failed" in out
    assert f"#3 update auth {MISSING} on smartlock {l2} failed" in out
    assert "was not found" in out
    assert "New auths:" in out and "#1 →" in out and "#2 →" in out
    assert "533333" not in applied.output, "a code from a plan file is never shown"
    assert {a.name for a in (await sim.device(l2)).auths} == {"visitor"}

    # The same plan again attaches to the finished rollout: same report, nothing sent again.
    again = await run(cli_env, "rollout", "apply", str(plan), "--json")
    assert again.exit_code == 1, again.output
    report = as_json(again)
    assert report["attached"] is True and report["state"] == "completed_with_failures"
    assert report["totals"]["applied"] == 3 and report["totals"]["failed"] == 1
    assert [(i["index"], i["status"]) for i in report["not_applied"]] == [(3, "failed")]
    assert sorted(report["created"]) == ["1", "2"]
    assert "533333" not in again.stdout
    assert len((await sim.device(l1)).auths) == 2

    status = await run(cli_env, "rollout", "status", report["workflow_id"], "--json")
    assert status.exit_code == 0, status.output
    shown = as_json(status)
    assert shown["state"] == "completed_with_failures" and shown["running"] is False
    assert [i["index"] for i in shown["items"]] == [3]
    human = await run(cli_env, "rollout", "status", report["rollout_id"].removeprefix("nuki-"))
    assert human.exit_code == 1 and "there is no rollout" in human.output  # wrong id form
    human = await run(cli_env, "rollout", "status", report["rollout_id"])
    assert human.exit_code == 0 and "Completed with failures" in human.stdout

    # Options from the command line: stop at the first failure, one item at a time.
    stop_plan = tmp_path / "stop.json"
    stop_plan.write_text(
        '{"options": {"heartbeat": 2, "item_wait": 3, "item_poll_initial": 0.2, '
        '"item_poll_max": 0.5, "drain": 5}, "items": ['
        f'{{"op": "update", "smartlock_id": {l1}, "auth_id": "{MISSING}", "name": "x"}}, '
        f'{{"op": "update", "smartlock_id": {l1}, "auth_id": "{a1}", "name": "later"}}]}}'
    )
    stopped = await run(
        cli_env, "rollout", "apply", str(stop_plan), "--on-failure", "stop", "--max-in-flight", "1"
    )
    assert stopped.exit_code == 1, stopped.output
    assert "Stopped" in stopped.stdout and "item 0 failed" in stopped.stdout
    assert f"#1 update auth {a1} on smartlock {l1} skipped" in stopped.stdout
    assert {a.name for a in (await sim.device(l1)).auths} == {"renamed", "visitor"}

    ok_plan = tmp_path / "ok.yaml"
    ok_plan.write_text(
        f'{FAST_OPTIONS}items:\n  - {{op: update, smartlock_id: {l1}, auth_id: "{a1}", '
        "name: final}\n"
    )
    ok = await run(cli_env, "rollout", "apply", str(ok_plan), "--per-lock", "2")
    assert ok.exit_code == 0, ok.output
    assert "Completed" in ok.stdout and "1 item: 1 applied" in ok.stdout


async def test_rollout_reports_name_every_item_beyond_the_results_limits(
    cli_env: dict[str, str],
    sim: SimulatorControl,
    worker: Worker,
    flow: NukiFlow,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A rollout whose result lists only 2 of its 5 failures and 1 of its 2 new auths: the
    report of `rollout apply` (attached), `rollout report` and `rollout status --json` or
    `--all` still name every one, read 2 items a page."""
    monkeypatch.setattr(fleet_rollouts, "PAGE_ITEMS", 2)
    lock = (await sim.add_lock()).smartlock_id
    missing = [f"{n:024x}" for n in range(1, 6)]
    updates = "".join(
        f'  - {{op: update, smartlock_id: {lock}, auth_id: "{a}", name: ghost}}\n' for a in missing
    )
    creates = "".join(
        f"  - {{op: create, smartlock_id: {lock}, name: new{n}, code: {533333 + n}}}\n"
        for n in range(2)
    )
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"{FAST_OPTIONS}  per_lock: 2\nitems:\n{creates}{updates}")
    limits = ReportLimits(items=2, creates=1)
    started = await Fleet(flow, report_limits=limits).apply_rollout(plan)
    result = await started.result()
    assert (result.not_applied_omitted, result.created_omitted) == (3, 1)
    failed = [f"#{n + 2} update auth {a} on smartlock {lock} failed" for n, a in enumerate(missing)]

    applied = await run(cli_env, "rollout", "apply", str(plan))
    assert applied.exit_code == 1, applied.output
    assert all(line in applied.stdout for line in failed), applied.stdout
    assert "#0 →" in applied.stdout and "#1 →" in applied.stdout
    assert "more" not in applied.stdout and "incomplete" not in applied.output
    report = as_json(await run(cli_env, "rollout", "apply", str(plan), "--json"))
    assert report["attached"] is True
    assert [i["index"] for i in report["not_applied"]] == [2, 3, 4, 5, 6]
    assert report["not_applied_omitted"] == 0 and report["created_omitted"] == 0
    assert sorted(report["created"]) == ["0", "1"]
    ended = await run(cli_env, "rollout", "report", started.id, "--json")
    assert ended.exit_code == 1, ended.output
    assert {**as_json(ended), "attached": True} == report
    human = await run(cli_env, "rollout", "report", started.id)
    assert all(line in human.stdout for line in failed) and "#1 →" in human.stdout

    status = as_json(await run(cli_env, "rollout", "status", started.id, "--json"))
    assert [i["index"] for i in status["items"]] == [2, 3, 4, 5, 6] and status["matched"] == 5
    short = await run(cli_env, "rollout", "status", started.id, "--limit", "2")
    assert short.exit_code == 0, short.output
    assert failed[1] in short.stdout and failed[2] not in short.stdout
    assert f"… and 3 more: `nukiflow rollout status {started.id} --all` lists every one" in (
        short.stdout
    )
    every = await run(cli_env, "rollout", "status", started.id, "--all")
    assert all(line in every.stdout for line in failed) and "more" not in every.stdout


def test_a_report_cut_short_names_the_command_that_lists_everything() -> None:
    item = ItemReport(
        index=0,
        op=RolloutOp.UPDATE,
        smartlock_id=17,
        auth_id=MISSING,
        label=f"update auth {MISSING} on smartlock 17",
        status=ItemStatus.FAILED,
        reason="not found",
    )
    report = RolloutReport(
        rollout_id="nuki-rollout-x",
        state=RolloutState.COMPLETED_WITH_FAILURES,
        totals=RolloutTotals(total=5, applied=2, failed=3),
        not_applied=[item],
        not_applied_omitted=2,
        created={1: "a" * 24},
        created_omitted=1,
    )
    buffer = io.StringIO()
    render_fleet.render_rollout_report(Console(file=buffer, width=200), report)
    text = buffer.getvalue()
    assert "… and 2 more: `nukiflow rollout report nuki-rollout-x` lists every one" in text
    assert "… and 1 more: `nukiflow rollout report nuki-rollout-x` lists every one" in text
    assert render_fleet.render_rollout_omissions(report) == (
        "it lists 1 of 3 items not applied and 1 of 2 new auth ids"
    )


async def test_rollout_no_wait_pause_resume_cancel_and_status(
    cli_env: dict[str, str], sim: SimulatorControl, worker: Worker, tmp_path: Path
) -> None:
    lock, auths = await _lock_with_auths(sim, 6)
    await sim.set_faults(Faults(device_delay=0.3))
    items = "".join(
        f'  - {{op: update, smartlock_id: {lock}, auth_id: "{a}", name: n{i}}}\n'
        for i, a in enumerate(auths)
    )
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"name: slow\n{FAST_OPTIONS}  max_in_flight: 1\nitems:\n{items}")

    started = await run(cli_env, "rollout", "apply", str(plan), "--no-wait", "--json")
    assert started.exit_code == 0, started.output
    data = as_json(started)
    assert data["status"] == "started" and data["items"] == 6
    rollout_id = data["rollout_id"]

    paused = await run(cli_env, "rollout", "pause", rollout_id, "--reason", "maintenance")
    assert paused.exit_code == 0, paused.output
    assert "is paused" in paused.stdout and f"nukiflow rollout resume {rollout_id}" in paused.stdout

    def paused_row(shown: Any) -> bool:
        rows = shown["workflows"]
        return {(r["kind"], r["status"]) for r in rows if r["workflow_id"] == rollout_id} == {
            ("rollout", "paused")
        }

    await status_showing(cli_env, paused_row)
    listed = await run(cli_env, "status")
    assert listed.exit_code == 0, listed.output
    assert "paused" in listed.stdout and rollout_id in listed.stdout

    resumed = as_json(await run(cli_env, "rollout", "resume", rollout_id, "--json"))
    assert resumed["state"] == "running"
    cancelled = await run(cli_env, "rollout", "cancel", rollout_id, "--reason", "wrong plan")
    assert cancelled.exit_code == 0, cancelled.output
    assert "is cancelling" in cancelled.stdout or "is cancelled" in cancelled.stdout

    async def ended() -> bool:
        shown = await run(cli_env, "rollout", "status", rollout_id, "--json")
        return bool(as_json(shown)["state"] == "cancelled")

    await _wait_for(ended)
    report = await run(cli_env, "rollout", "status", rollout_id)
    assert report.exit_code == 0, report.output
    assert "Cancelled" in report.stdout and "cancelled: wrong plan" in report.stdout
    assert "skipped" in report.stdout

    late = await run(cli_env, "rollout", "pause", rollout_id)
    assert late.exit_code == 2, late.output
    assert "cannot pause" in late.output and "nukiflow rollout status" in late.output
    missing = await run(cli_env, "rollout", "cancel", "no-such-rollout")
    assert missing.exit_code == 1 and "there is no rollout nuki-rollout-no-such-rollout" in (
        missing.output
    )


async def test_bad_plans_exit_2_and_say_what_to_fix(
    cli_env: dict[str, str], sim: SimulatorControl, tmp_path: Path
) -> None:
    bad_code = tmp_path / "bad.yaml"
    bad_code.write_text(
        "items:\n  - {op: create, smartlock_id: 17, name: guest, code: 123456}\n"
        "  - {op: update, smartlock_id: 17, auth_id: 5, name: x}\n"
    )
    result = await run(cli_env, "rollout", "apply", str(bad_code))
    assert result.exit_code == 2, result.output
    assert "must not start with 12" in result.output and "quote it" in result.output
    assert "fix the plan file" in result.output and "123456" not in result.output

    broken = tmp_path / "broken.json"
    broken.write_text("{items: [")
    result = await run(cli_env, "rollout", "apply", str(broken))
    assert result.exit_code == 2 and "not valid JSON" in result.output

    result = await run(cli_env, "rollout", "apply", str(tmp_path / "missing.yaml"))
    assert result.exit_code == 2 and "cannot read the plan" in result.output

    fine = tmp_path / "fine.yaml"
    fine.write_text("items:\n  - {op: delete, smartlock_id: 17, auth_id: abc}\n")
    result = await run(cli_env, "rollout", "apply", str(fine), "--on-failure", "maybe")
    assert result.exit_code == 2 and "--on-failure" in result.output
    result = await run(cli_env, "rollout", "apply", str(fine), "--id", "bad id!")
    assert result.exit_code == 2 and "a rollout id is" in result.output
    assert await sim.requests() == []


# -- access grants -------------------------------------------------------------------------


def _grant_id(text: str) -> str:
    match = re.search(r"nuki-access-\S+", text)
    assert match, text
    return match.group(0)


async def test_grant_show_extend_revoke(
    cli_env: dict[str, str], sim: SimulatorControl, worker: Worker
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    granted = await run(
        cli_env,
        "access",
        "grant",
        str(lock),
        "--name",
        "cleaner",
        "--code",
        "555123",
        "--from",
        "now",
        "--until",
        "+1h",
        "--tz",
        "Europe/Berlin",
        "--weekdays",
        "mon-fri",
        "--times",
        "08:00-18:00",
    )
    assert granted.exit_code == 0, granted.output
    out = granted.stdout
    assert "Granted" in out and "'cleaner'" in out and "555123" not in granted.output
    assert "Code ****** (as you typed it; shown only on a terminal)" in out
    assert "Revoked automatically at" in out and "Mon,Tue,Wed,Thu,Fri 08:00-18:00" in out
    grant_id = _grant_id(out)
    assert grant_id.startswith(f"nuki-access-{lock}-")
    (auth,) = (await sim.device(lock)).auths
    assert (auth.code, auth.allowed_week_days, auth.allowed_from_time) == (555123, 124, 480)

    shown = await run(cli_env, "access", "show", grant_id)
    assert shown.exit_code == 0, shown.output
    assert grant_id in shown.stdout and f"Auth {auth.id} (on the lock)" in shown.stdout
    assert "555123" not in shown.output
    assert re.search(r"Active|Scheduled", shown.stdout)

    await status_showing(
        cli_env,
        lambda shown: any(
            (w["workflow_id"], w["status"]) in ((grant_id, "active"), (grant_id, "scheduled"))
            for w in shown["workflows"]
        ),
        "--smartlock",
        str(lock),
    )
    listed = await run(cli_env, "status", "--smartlock", str(lock))
    assert listed.exit_code == 0 and grant_id in listed.stdout
    assert "active" in listed.stdout or "scheduled" in listed.stdout

    new_end = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    extended = await run(cli_env, "access", "extend", grant_id, "--until", new_end.isoformat())
    assert extended.exit_code == 0, extended.output
    assert "Extended" in extended.stdout
    assert "(end moved by an extension; granted until " in extended.stdout
    assert (await sim.device(lock)).auths[0].allowed_until_date == new_end
    past = await run(cli_env, "access", "extend", grant_id, "--until", "2020-01-01T00:00Z")
    assert past.exit_code == 2 and "must be in the future" in past.output
    naive = await run(cli_env, "access", "extend", grant_id, "--until", "2030-01-01T10:00")
    assert naive.exit_code == 2 and "--tz" in naive.output

    revoked = await run(cli_env, "access", "revoke", grant_id, "--reason", "left early", "--json")
    assert revoked.exit_code == 0, revoked.output
    view = as_json(revoked)
    assert view["status"] == "revoked" and view["revoke_reason"] == "left early"
    assert (await sim.device(lock)).auths == []
    again = await run(cli_env, "access", "revoke", grant_id)
    assert again.exit_code == 0 and "ended already" in again.stdout and "Revoked" in again.stdout
    changed = await run(cli_env, "access", "extend", grant_id, "--until", "+3h")
    assert changed.exit_code == 2 and "has ended" in changed.output
    missing = await run(cli_env, "access", "show", f"{lock}-nope")
    assert missing.exit_code == 1 and f"there is no grant nuki-access-{lock}-nope" in missing.output


async def test_grant_json_is_revoked_at_the_end_and_a_failed_create_exits_1(
    cli_env: dict[str, str], sim: SimulatorControl, worker: Worker, flow: NukiFlow
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    # The end is far while the code is created (a loaded machine could not before a near
    # end), then brought near (see tests/grant_support.py).
    result = await run(
        cli_env,
        "access",
        "grant",
        str(lock),
        "--name",
        "guest",
        "--code",
        "555124",
        "--from",
        "now",
        "--until",
        "+1h",
        "--json",
    )
    assert result.exit_code == 0, result.output
    grant = as_json(result)
    assert grant["status"] == "active" and grant["auth_id"]
    assert grant["grant_id"] == grant["workflow_id"]
    assert grant["revoke_at"] == grant["window"]["allowed_until_date"]
    assert "555124" not in result.stdout
    await end_soon(Fleet(flow).grant(grant["grant_id"]))

    async def revoked() -> bool:
        shown = as_json(await run(cli_env, "access", "show", grant["grant_id"], "--json"))
        return bool(shown["status"] == "revoked")

    await _wait_for(revoked)
    assert (await sim.device(lock)).auths == []

    # A code the lock already has: the create fails (exit 1) with the reason.
    await sim.add_auth(lock, name="owner", code=555125)
    failed = await run(
        cli_env,
        "access",
        "grant",
        str(lock),
        "--name",
        "guest",
        "--code",
        "555125",
        "--from",
        "now",
        "--until",
        "+1m",
    )
    assert failed.exit_code == 1, failed.output
    assert "Failed" in failed.stdout and "already uses this keypad code" in failed.stdout

    started = as_json(
        await run(
            cli_env,
            "access",
            "grant",
            str(lock),
            "--name",
            "later",
            "--code",
            "555126",
            "--from",
            "+1d",
            "--until",
            "+2d",
            "--no-wait",
            "--json",
        )
    )
    assert started["status"] in ("creating", "scheduled") and started["running"] is True
    revoked_early = await run(cli_env, "access", "revoke", started["grant_id"])
    assert revoked_early.exit_code == 0, revoked_early.output
    assert "Revoked" in revoked_early.stdout
    assert [a.name for a in (await sim.device(lock)).auths] == ["owner"]


async def test_grant_input_is_checked_before_anything_is_sent(
    cli_env: dict[str, str], sim: SimulatorControl
) -> None:
    base = ["access", "grant", "17", "--name", "guest"]

    async def grant(*args: str) -> Any:
        return await run(cli_env, *base, *args)

    zone = await grant("--code", "555555", "--from", "now", "--until", "+1h", "--tz", "Mars/Base")
    assert zone.exit_code == 2 and "unknown time zone 'Mars/Base'" in zone.output
    gap = await grant(
        "--code", "555555", "--from", "2030-03-31T02:30", "--until", "2030-04-02",
        "--tz", "Europe/Berlin",
    )  # fmt: skip
    assert gap.exit_code == 2 and "does not exist in Europe/Berlin" in gap.output
    naive = await grant("--code", "555555", "--from", "2030-03-01T10:00", "--until", "+3000d")
    assert naive.exit_code == 2 and "has no time zone" in naive.output and "--tz" in naive.output
    code = await grant("--code", "555055", "--from", "now", "--until", "+1h")
    assert code.exit_code == 2 and "digits 1-9" in code.output
    times = await grant("--code", "555555", "--from", "now", "--until", "+1h", "--times", "18-08")
    assert times.exit_code == 2 and "crosses midnight" in times.output
    order = await grant("--code", "555555", "--from", "+2h", "--until", "+1h")
    assert order.exit_code == 2 and "start before it ends" in order.output
    assert await sim.requests() == []


# -- status --------------------------------------------------------------------------------


def test_status_words_and_colours_of_rollouts_and_grants() -> None:
    rows = [
        StatusRow(workflow_id=f"w-{status}", kind=kind, status=status)
        for kind, status in (
            ("rollout", "running"),
            ("rollout", "paused"),
            ("rollout", "cancelling"),
            ("rollout", "stopping"),
            ("access", "creating"),
            ("access", "scheduled"),
            ("access", "active"),
            ("access", "revoking"),
            ("access", "revocation_overdue"),
            ("access", "failed"),
        )
    ]
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="standard", width=200)
    render_status(console, rows, scope="on this task queue")
    text = buffer.getvalue()
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    first, *table = plain.splitlines()
    assert first.startswith("10 nukiflow workflows on this task queue: 1 revocation overdue")
    for word in (
        "rolling out",
        "paused",
        "cancelling",
        "stopping",
        "creating",
        "scheduled",
        "active",
        "revoking",
        "revocation overdue",
        "failed",
    ):
        assert word in plain
    # The most urgent first: an overdue revocation leads the table, in bold red.
    assert "w-revocation_overdue" in table[1]
    assert "\x1b[1;31mrevocation overdue" in text
    assert "\x1b[31mfailed" in text and "\x1b[32mactive" in text and "\x1b[35mpaused" in text


async def test_the_progress_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.StringIO()
    terminal = Console(file=buffer, force_terminal=True, width=160)
    monkeypatch.setattr(render_fleet, "stderr_console", lambda: terminal)
    async with render_fleet.rollout_bar("Rolling out nuki-rollout-x") as show:
        for applied, state in ((1, RolloutState.RUNNING), (2, RolloutState.PAUSED)):
            totals = RolloutTotals(total=3, applied=applied, pending=3 - applied)
            show(RolloutProgress(rollout_id="nuki-rollout-x", state=state, totals=totals))
    plain = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", buffer.getvalue())
    assert "Rolling out nuki-rollout-x" in plain and "2/3" in plain
    assert "paused · 1 pending, 2 applied" in plain
