"""A grant's daily times in the lock's own time zone, read from the lock (``config.timezoneId``)
by a worker when no ``--lock-tz`` is given; ``--lock-tz`` still overrides it. Against the
session's Temporal, the test's fake cloud (its locks carry a timezoneId) and a worker."""

from __future__ import annotations

import asyncio
import json

from temporalio.worker import Worker
from typer.testing import CliRunner

from nukiflow.cli import app
from nukiflow.client import NukiFlow
from nukiflow.fleet import Fleet
from nukiflow.fleet.grants import read_lock_zone
from nukiflow.simulator.control import SimulatorControl
from nukiflow.times.nuki_zones import NUKI_TIMEZONES, nuki_zone_name

NEW_YORK = 12  # Nuki's timezoneId of America/New_York in nukiflow's table
# A week without a daylight-saving change on either side: Berlin is six hours ahead.
START, END = "2030-06-10T00:00", "2030-06-12T00:00"


async def cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    return result.exit_code, result.output


def test_the_table_names_real_zones() -> None:
    from zoneinfo import ZoneInfo

    assert sorted(NUKI_TIMEZONES) == list(range(46))
    for name in NUKI_TIMEZONES.values():
        ZoneInfo(name)
    assert nuki_zone_name(37) == "Europe/Berlin"
    assert nuki_zone_name(None) is None and nuki_zone_name(99) is None


async def test_times_go_into_the_zone_the_lock_is_set_to(
    flow: NukiFlow, sim: SimulatorControl, worker: Worker, task_queue: str
) -> None:
    lock = await sim.add_lock(timezone_id=NEW_YORK)
    assert await read_lock_zone(flow.client, task_queue, lock.smartlock_id) == "America/New_York"
    grant = await Fleet(flow).grant_access(
        lock.smartlock_id,
        name="cleaner",
        code=535353,
        start=START,
        end=END,
        tz="Europe/Berlin",
        times="08:00-18:00",
    )
    view = await grant.created()
    assert view.auth_id is not None
    # 08:00-18:00 in Berlin is 02:00-12:00 on a lock in New York.
    assert (view.window.allowed_from_time, view.window.allowed_until_time) == (120, 720)
    (auth,) = [a for a in (await sim.device(lock.smartlock_id)).auths if a.id == view.auth_id]
    assert (auth.allowed_from_time, auth.allowed_until_time) == (120, 720)
    await grant.revoke(wait=True)


async def test_the_command_line_reads_the_lock_and_lock_tz_overrides(
    sim: SimulatorControl, worker: Worker, cli_env: dict[str, str]
) -> None:
    lock = await sim.add_lock(timezone_id=NEW_YORK)
    base = ["access", "grant", str(lock.smartlock_id), "--from", START, "--until", END]
    base += ["--tz", "Europe/Berlin", "--times", "08:00-18:00", "--json"]
    code, out = await cli(cli_env, *base, "--name", "one", "--code", "545451")
    assert code == 0, out
    window = json.loads(out)["window"]
    assert (window["allowed_from_time"], window["allowed_until_time"]) == (120, 720)
    code, out = await cli(
        cli_env, *base, "--name", "two", "--code", "545461", "--lock-tz", "Europe/Berlin"
    )
    assert code == 0, out
    window = json.loads(out)["window"]
    assert (window["allowed_from_time"], window["allowed_until_time"]) == (480, 1080)
    # A lock nukiflow cannot read: nothing is sent, and the way out is named.
    code, out = await cli(
        cli_env, "access", "grant", "424242", "--from", START, "--until", END,
        "--tz", "Europe/Berlin", "--times", "08:00-18:00", "--name", "x", "--code", "545471",
    )  # fmt: skip
    assert code == 1 and "--lock-tz" in out
