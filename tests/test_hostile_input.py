"""Hostile input at every edge: a mistyped or crafted argument never turns into an API call.

The tables below drive the command line (in process) and the ``NukiFlow``/``Fleet`` facade with
bad input of every kind: path traversal in auth ids (for every command and plan operation that
takes one), smartlock ids outside Nuki's and Temporal's int64, names with control characters,
dates and durations beyond the calendar, YAML bombs and deep nesting in plan files, malformed
grant and rollout ids. For each the test asserts the documented error (exit status 2 and what
to fix, or a ``rejected`` outcome, or the documented exception), no traceback, no workflow in
the namespace and no request at the fake cloud, while a worker is running that would carry out
anything that got through. The same table runs again against an unreachable Temporal: checking
input needs no connection, so every case still exits 2.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
from temporalio.client import Client
from temporalio.worker import Worker
from typer.testing import CliRunner, Result

from nukiflow.activities.nuki_client import NukiClient
from nukiflow.activities.nuki_errors import NukiRequestRefused
from nukiflow.cli import app
from nukiflow.client import NukiFlow
from nukiflow.contracts.action import ActionStatus
from nukiflow.contracts.auth import AuthChange, ChangeKind, OutcomeStatus
from nukiflow.contracts.validation import InputError
from nukiflow.devtools.ports import free_port
from nukiflow.fleet import Fleet
from nukiflow.fleet.plan import MAX_PLAN_BYTES, PlanError
from nukiflow.settings import Settings
from nukiflow.simulator.control import SimulatorControl
from nukiflow.temporal.codec import CodecConfigError, Keyring
from nukiflow.temporal.worker import run_worker
from nukiflow.times.zones import TimeZoneError

GOOD_AUTH = "5f2a0c8e4b1d9a7c3e6f0b12"
# A well-formed smartlock id that no fake cloud has: anything that got through would ask for it.
LOCK = "17"
ESC_TITLE = "\x1b]0;PWNED\x07\x1b[2J"
# Auth ids that would leave /smartlock/{id}/auth/{authId} (or add to it) if sent as they are.
TRAVERSAL = (
    "..",
    ".",
    "../../../account",
    "x?foo=1",
    "%2e%2e",
    f"{GOOD_AUTH}/..",
    f"{GOOD_AUTH}?x=1",
    f"{GOOD_AUTH}#x",
)
AUTH_ID_FIX = "an auth id is Nuki's 24 hexadecimal characters"
LOCK_ID_FIX = "a smartlock id is a whole number from 1 to 9223372036854775807"
DATE_FIX = "must lie between 2000-01-01 and 2099-12-31"
NAME_CONTROL = "must not contain control characters"


class Case(NamedTuple):
    """One hostile command line: what is typed, the exit status and what the error says.

    ``shape``: ``line`` is one line on stderr; ``rejected`` a rejected outcome on stdout (as
    the facade answers; JSON with --json); ``usage`` Click's usage error; ``plan`` the plan's
    problems, each pointing at its item.
    """

    args: tuple[str, ...]
    says: str
    shape: str = "line"
    exit: int = 2


def _cases() -> list[Case]:
    cases: list[Case] = []
    add = cases.append
    # Path traversal and malformed auth ids, for every command that takes one.
    for auth in (*TRAVERSAL, "a" * 23, "a" * 25, "g" * 24, "a" * 1000, " ", "\u0660" * 24):
        add(Case(("auth", "update", LOCK, auth, "--name", "x"), AUTH_ID_FIX))
        add(Case(("auth", "delete", LOCK, auth), AUTH_ID_FIX))
    for auth in TRAVERSAL[:4]:
        add(Case(("auth", "show", LOCK, auth), AUTH_ID_FIX))
        add(Case(("auth", "delete", LOCK, auth, "--json", "--no-wait"), AUTH_ID_FIX))
    add(Case(("auth", "update", LOCK, ESC_TITLE, "--name", "x"), AUTH_ID_FIX))
    # Smartlock ids outside 1..2^63-1, or no number at all, for every command that takes one.
    for lock in (
        "0",
        "99999999999999999999",
        "9223372036854775808",
        "abc",
        "1e3",
        "17.0",
        "0x11",
        "\uff11\uff17",
        "17/../1",
    ):
        add(Case(("auth", "create", lock, "--name", "x", "--code", "545452"), LOCK_ID_FIX))
        add(Case(("auth", "update", lock, GOOD_AUTH, "--name", "x"), LOCK_ID_FIX))
        add(Case(("unlock", lock), LOCK_ID_FIX))
    for command in (
        ("auth", "delete", "0", GOOD_AUTH),
        ("auth", "show", "0", GOOD_AUTH),
        ("action", "99999999999999999999", "unlatch"),
        ("lock", "0"),
        ("unlatch", "9223372036854775808"),
        ("status", "--smartlock", "99999999999999999999"),
        ("status", "--smartlock", "0"),
        (
            "access",
            "grant",
            "0",
            "--name",
            "x",
            "--code",
            "545452",
            "--from",
            "now",
            "--until",
            "+1h",
        ),
    ):
        add(Case(command, LOCK_ID_FIX))
    add(Case(("unlock", "-1"), "No such option", shape="usage"))
    # Names: blank, control characters (terminal escapes, line breaks, bidi overrides), length.
    for name, says in (
        ("   ", "must not be blank"),
        (ESC_TITLE, NAME_CONTROL),
        ("guest\nroot", NAME_CONTROL),
        ("tab\there", NAME_CONTROL),
        ("bell\x07", NAME_CONTROL),
        ("\u202eevil", NAME_CONTROL),
        ("nul\x00", NAME_CONTROL),
        ("x" * 33, "at most 32"),
    ):
        add(Case(("auth", "create", LOCK, "--name", name), says, shape="rejected"))
        add(Case(("auth", "update", LOCK, GOOD_AUTH, "--name", name), says, shape="rejected"))
    add(
        Case(
            ("auth", "create", LOCK, "--name", "x" * 21, "--code", "545452"),
            "at most 20",
            shape="rejected",
        )
    )
    add(Case(("auth", "create", LOCK, "--name", "", "--json"), "name", shape="rejected"))
    for name, says in ((ESC_TITLE, NAME_CONTROL), ("   ", "blank"), ("x" * 21, "at most 20")):
        add(
            Case(
                (
                    "access",
                    "grant",
                    LOCK,
                    "--name",
                    name,
                    "--code",
                    "545452",
                    "--from",
                    "now",
                    "--until",
                    "+1h",
                ),
                says,
            )
        )
    # Dates beyond the calendar or the supported range, and relative dates that overflow.
    for flag in ("--from", "--until"):
        for value, says in (
            ("9999-12-31T23:30-05:00", DATE_FIX),
            ("0001-01-01T00:00+01:00", DATE_FIX),
            ("+99999999d", "must be at most 36500d"),
            ("1999-12-31T23:59Z", DATE_FIX),
            ("2100-01-01T00:00Z", DATE_FIX),
            ("+inf", "finite"),
            ("soonish", "is not a date"),
        ):
            add(Case(("auth", "update", LOCK, GOOD_AUTH, flag, value), says))
        add(Case(("auth", "create", LOCK, "--name", "x", flag, "9999-12-31T23:30-05:00"), DATE_FIX))
    for value in ("9999-12-31T23:30-05:00", "0001-01-01T00:00+01:00", "+99999999d"):
        add(
            Case(
                (
                    "access",
                    "grant",
                    LOCK,
                    "--name",
                    "x",
                    "--code",
                    "545452",
                    "--from",
                    "now",
                    "--until",
                    value,
                ),
                "must",
            )
        )
        add(Case(("access", "extend", f"nuki-access-{LOCK}-r1", "--until", value), "must"))
    add(
        Case(
            (
                "access",
                "grant",
                LOCK,
                "--name",
                "x",
                "--code",
                "545452",
                "--from",
                "2020-01-01T00:00Z",
                "--until",
                "2020-01-02T00:00Z",
            ),
            "the window ended already",
        )
    )
    add(
        Case(
            ("access", "extend", f"nuki-access-{LOCK}-r1", "--until", "2020-01-02T00:00Z"),
            "must be in the future",
        )
    )
    # Durations: infinite, not a number, negative, zero, beyond the maximum.
    for value, says in (
        ("inf", "finite"),
        ("nan", "finite"),
        ("1e400", "finite"),
        ("0", "longer than zero"),
        ("-5m", "is not a duration"),
        ("99999999999d", "at most 30d"),
        ("31d", "at most 30d"),
        ("soon", "is not a duration"),
    ):
        add(Case(("auth", "update", LOCK, GOOD_AUTH, "--name", "x", "--deadline", value), says))
    for command in (("auth", "delete", LOCK, GOOD_AUTH), ("auth", "create", LOCK, "--name", "x")):
        add(Case((*command, "--deadline", "inf"), "finite"))
    for value, says in (("2d", "at most 1d"), ("inf", "finite"), ("99999999999d", "at most 1d")):
        add(Case(("unlock", LOCK, "--deadline", value), says))
    # Request ids: empty, spaces, control characters, too long.
    for value, says in (
        ("", "1 to 200 characters"),
        ("a b", "no spaces or control"),
        ("x" * 201, "1 to 200 characters"),
        ("\x1b[2J", "no spaces or control"),
    ):
        add(Case(("auth", "update", LOCK, GOOD_AUTH, "--name", "x", "--request-id", value), says))
        add(Case(("unlock", LOCK, "--request-id", value), says))
    # Keypad codes, weekdays and daily windows.
    for code, says in (
        ("123456", "must not start with 12"),
        ("12345", "6 digits"),
        ("555505", "1-9"),
        ("99999999999999999999", "6 digits"),
    ):
        add(Case(("auth", "update", LOCK, GOOD_AUTH, "--code", code), says, shape="rejected"))
    add(
        Case(
            ("auth", "update", LOCK, GOOD_AUTH, "--code", "abc"),
            "Invalid value for '--code'",
            shape="usage",
        )
    )
    add(Case(("auth", "update", LOCK, GOOD_AUTH, "--weekdays", "funday"), "unknown weekday"))
    add(Case(("auth", "update", LOCK, GOOD_AUTH, "--times", "25:00-26:00"), "00:00 to 23:59"))
    add(Case(("auth", "update", LOCK, GOOD_AUTH, "--times", "18:00-08:00"), "start before"))
    # Time zones and grant ids.
    for zone in ("Mars/Olympus", "a" * 5000, "../../etc/passwd", "UTC\x1b[2J", "Europe"):
        add(
            Case(
                (
                    "access",
                    "grant",
                    LOCK,
                    "--name",
                    "x",
                    "--code",
                    "545452",
                    "--from",
                    "2030-01-01T10:00",
                    "--until",
                    "2030-01-02T10:00",
                    "--tz",
                    zone,
                ),
                "unknown time zone",
            )
        )
    for grant in (
        "../x",
        "nuki-access-",
        "nuki-access-0-x",
        "nuki-access-99999999999999999999-x",
        "nuki-access-17-a b",
        "nuki-access-17-" + "x" * 121,
        ESC_TITLE,
    ):
        add(Case(("access", "show", grant), "a grant id is nuki-access-"))
        add(Case(("access", "revoke", grant), "a grant id is nuki-access-"))
    add(
        Case(
            ("access", "revoke", f"nuki-access-{LOCK}-r1", "--reason", ESC_TITLE),
            "must not contain control characters",
        )
    )
    # Rollout ids and names.
    for rollout in ("../x", "_x", "a" * 101, "x y", "x/../y", ESC_TITLE):
        for verb in ("status", "report", "pause", "resume", "cancel"):
            add(Case(("rollout", verb, rollout), "a rollout id is 1-100"))
    add(Case(("rollout", "pause", "good-id", "--reason", "\x1b[2J"), "control characters"))
    return cases


PLAN_ITEMS = f"""\
items:
  - {{op: create, smartlock_id: {LOCK}, name: x, code: 545452}}
"""


def _plans() -> list[tuple[str, str | bytes, str]]:
    """Hostile plan files: (file name, content, what the error says)."""
    plans: list[tuple[str, str | bytes, str]] = []
    for n, auth in enumerate((*TRAVERSAL, "a" * 1000)):
        for op, extra in (("update", ", enabled: false"), ("delete", "")):
            quoted = auth.replace("\\", "\\\\").replace('"', '\\"')
            item = f'{{op: {op}, smartlock_id: {LOCK}, auth_id: "{quoted}"{extra}}}'
            plans.append((f"traversal-{op}-{n}.yaml", f"items:\n  - {item}\n", AUTH_ID_FIX))
    plans += [
        (
            "bomb.yaml",
            "a: &a [x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n"
                for p, c in zip("abcdefg", "bcdefgh", strict=True)
            )
            + "items: [*h]\n",
            "YAML anchors (&a) are not accepted",
        ),
        ("alias.yaml", PLAN_ITEMS + "  - *x\n", "YAML aliases"),
        ("merge.yaml", "d: &d {op: delete}\nitems:\n  - <<: *d\n", "YAML anchors"),
        ("deep.json", "[" * 100_000 + "]" * 100_000, "nests deeper than 16 levels"),
        ("deep.yaml", "items:\n" + "  " + "[" * 20 + "]" * 20 + "\n", "nested deeper than 16"),
        (
            "bigint.json",
            '{"items": [{"op": "create", "smartlock_id": 1' + "0" * 5000 + ', "name": "x"}]}',
            "more than 30 digits",
        ),
        ("bigint.yaml", f"items:\n  - {{op: create, smartlock_id: 1{'0' * 5000}}}\n", "longer"),
        (
            "hugeint.yaml",
            f"items:\n  - {{op: create, smartlock_id: 1{'0' * 25}, name: x}}\n",
            LOCK_ID_FIX,
        ),
        ("nan.json", '{"items": [{"op": "create", "smartlock_id": NaN}]}', "NaN"),
        ("inf.yaml", PLAN_ITEMS + "options: {item_deadline: .inf}\n", "not finite"),
        ("deadline.yaml", PLAN_ITEMS + "options: {item_deadline: 99999999999d}\n", "at most 30d"),
        ("wait.yaml", PLAN_ITEMS + "options: {item_wait: 1.0e+300}\n", "at most 30d"),
        (
            "year0.yaml",
            f"items:\n  - {{op: create, smartlock_id: {LOCK}, name: x, from: 0000-01-01}}\n",
            "year 0 is out of range",
        ),
        (
            "overflow.yaml",
            f"items:\n  - {{op: create, smartlock_id: {LOCK}, name: x, "
            'from: "9999-12-31T23:30-05:00"}\n',
            DATE_FIX,
        ),
        (
            "name.yaml",
            f'items:\n  - {{op: create, smartlock_id: {LOCK}, name: "\\e]0;x\\a"}}\n',
            NAME_CONTROL,
        ),
        (
            "blank.yaml",
            f"items:\n  - {{op: create, smartlock_id: {LOCK}, name: '  '}}\n",
            "blank",
        ),
        (
            "zone.yaml",
            f"tz: ../../etc/passwd\nitems:\n  - {{op: create, smartlock_id: {LOCK}, name: x, "
            "from: 2030-01-01T10:00}\n",
            "unknown time zone",
        ),
        ("lock0.yaml", "items:\n  - {op: create, smartlock_id: 0, name: x}\n", LOCK_ID_FIX),
        ("python.yaml", "items: !!python/object/apply:os.system ['true']\n", "not valid YAML"),
        ("latin1.yaml", "items: [{name: 'caf\xe9'}]".encode("latin-1"), "not UTF-8"),
        ("huge.yaml", "#" * (MAX_PLAN_BYTES + 1), "larger than 8 MiB"),
        (
            "long-error.yaml",
            "items:\n" + f"  - {{op: upsert, name: '{'y' * 900}'}}\n" * 30,
            "op must be create",
        ),
    ]
    return plans


CASES = _cases()
PLANS = _plans()


def _plan_cases(tmp_path: Path) -> list[Case]:
    cases = []
    for name, content, says in PLANS:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        cases.append(Case(("rollout", "apply", str(path)), says, shape="plan"))
    cases.append(Case(("rollout", "apply", str(tmp_path)), "not a regular file", shape="plan"))
    cases.append(Case(("rollout", "apply", "/dev/zero"), "not a regular file", shape="plan"))
    good = tmp_path / "good.yaml"
    good.write_text(PLAN_ITEMS, encoding="utf-8")
    cases.append(Case(("rollout", "apply", str(good), "--id", "../x"), "a rollout id is 1-100"))
    cases.append(Case(("rollout", "apply", str(good), "--name", ESC_TITLE), "control characters"))
    return cases


def _invoke(env: dict[str, str], args: tuple[str, ...]) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def _problems(case: Case, result: Result) -> list[str]:
    """What is wrong with how the command line answered ``case`` (nothing, ideally)."""
    problems = []
    output = result.stdout + result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        problems.append(f"raised {type(result.exception).__name__}: {result.exception}")
    if "Traceback" in output:
        problems.append("printed a traceback")
    if result.exit_code != case.exit:
        problems.append(f"exit {result.exit_code}, expected {case.exit}")
    if case.says not in output:
        problems.append(f"does not say {case.says!r}")
    if "\x1b" in output or "\x07" in output:
        problems.append("echoed a control character")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if case.shape == "line" and (len(lines) != 1 or not lines[0].startswith("Error: ")):
        problems.append(f"not one error line: {lines[:3]}")
    if case.shape == "rejected" and "rejected" not in result.stdout.lower():
        problems.append("no rejected outcome on stdout")
    if case.shape == "plan" and (not lines or max(len(line) for line in lines) > 400):
        problems.append("plan error missing or with an unbounded line")
    return problems


def _report(failures: list[str]) -> str:
    return f"{len(failures)} case(s) answered wrongly:\n" + "\n".join(failures)


async def _run_table(env: dict[str, str], cases: list[Case]) -> list[str]:
    failures = []
    for case in cases:
        result = await asyncio.to_thread(_invoke, env, case.args)
        for problem in _problems(case, result):
            shown = " ".join(a if len(a) < 60 else a[:57] + "..." for a in case.args)
            failures.append(f"  nukiflow {shown!r}: {problem}\n    {result.output[:300]!r}")
    return failures


async def _workflows(client: Client, task_queue: str) -> set[str]:
    return {w.id async for w in client.list_workflows(f"TaskQueue = '{task_queue}'")}


async def _visible(client: Client, task_queue: str, workflow_id: str) -> set[str]:
    """The workflows listed on ``task_queue`` once ``workflow_id`` (started after every
    hostile input) shows in the listing: anything started before it had time to show too."""
    for _ in range(200):
        listed = await _workflows(client, task_queue)
        if workflow_id in listed:
            return listed
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id} never showed in the listing")


def test_the_table_is_large_and_covers_every_kind() -> None:
    assert len(CASES) + len(PLANS) + 4 >= 200
    commands = {case.args[:2] for case in CASES}
    for command in (("auth", "update"), ("auth", "delete"), ("auth", "show")):
        assert {c.args[3] for c in CASES if c.args[:2] == command} >= set(TRAVERSAL[:4])
    for op in ("update", "delete"):
        assert sum(name.startswith(f"traversal-{op}") for name, _, _ in PLANS) == len(TRAVERSAL) + 1
    assert {("access", "grant"), ("rollout", "status"), ("status", "--smartlock")} <= commands


async def test_the_command_line_refuses_hostile_input_and_sends_nothing(
    cli_env: dict[str, str],
    sim: SimulatorControl,
    worker: Worker,
    temporal_client: Client,
    task_queue: str,
    tmp_path: Path,
) -> None:
    """Every case exits as documented, says what to fix, prints no traceback and no control
    character; no workflow starts and the fake cloud sees no request, although a worker runs.
    A valid change afterwards goes through: the checks would see a leak."""
    cases = CASES + _plan_cases(tmp_path)
    failures = await _run_table(cli_env, cases)
    assert not failures, _report(failures)
    assert await sim.requests() == []

    # The control: one valid change, which does reach the fake cloud and starts a workflow.
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="guest", code=545454)
    applied = await asyncio.to_thread(
        _invoke, cli_env, ("auth", "update", str(lock.smartlock_id), auth.id.upper(), "--enable")
    )
    assert applied.exit_code == 0, applied.output
    assert await sim.requests() != []
    entity = f"nuki-auth-{lock.smartlock_id}-{auth.id}"
    assert await _visible(temporal_client, task_queue, entity) == {entity}


async def test_bad_input_exits_2_with_temporal_unreachable(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Checking input needs no connection: the same table, with nothing listening at the
    Temporal address, answers exactly as before (never "cannot reach Temporal")."""
    env = {**cli_env, "NUKIFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}"}
    cases = CASES + _plan_cases(tmp_path)
    failures = await _run_table(env, cases)
    assert not failures, _report(failures)
    # A well-formed command does try to connect, and says so: the address really is dead.
    reached = await asyncio.to_thread(_invoke, env, ("auth", "show", LOCK, GOOD_AUTH))
    assert reached.exit_code == 1 and "cannot reach Temporal" in reached.output


class FacadeCase(NamedTuple):
    """One hostile call of the Python facade: the call, and what it answers (a ``rejected``
    outcome whose reason says ``says``, or the documented exception)."""

    label: str
    call: Callable[[NukiFlow, Fleet], Awaitable[Any]]
    says: str
    raises: type[Exception] | None = None


FAR_PAST = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
FAR_FUTURE = datetime(9999, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))


def _facade_cases() -> list[FacadeCase]:
    cases: list[FacadeCase] = []
    add = cases.append
    for auth in (*TRAVERSAL, "a" * 1000, "", 42):
        add(
            FacadeCase(
                f"update_auth(17, {auth!r:.30})",
                lambda f, _, a=auth: f.update_auth(17, a, {"name": "x"}),
                AUTH_ID_FIX,
            )
        )
        add(
            FacadeCase(
                f"delete_auth(17, {auth!r:.30})",
                lambda f, _, a=auth: f.delete_auth(17, a),
                AUTH_ID_FIX,
            )
        )
        add(
            FacadeCase(
                f"start_delete_auth(17, {auth!r:.30})",
                lambda f, _, a=auth: f.start_delete_auth(17, a),
                AUTH_ID_FIX,
            )
        )
    for auth in TRAVERSAL[:3]:
        change = AuthChange(request_id="r1", kind=ChangeKind.DELETE)
        add(
            FacadeCase(
                f"change_auth(17, {auth!r})",
                lambda f, _, a=auth, c=change: f.change_auth(17, a, c),
                AUTH_ID_FIX,
            )
        )
        add(
            FacadeCase(
                f"start_update_auth(17, {auth!r})",
                lambda f, _, a=auth: f.start_update_auth(17, a, {"enabled": False}),
                AUTH_ID_FIX,
            )
        )
        add(
            FacadeCase(
                f"auth_state(17, {auth!r})",
                lambda f, _, a=auth: f.auth_state(17, a),
                AUTH_ID_FIX,
                InputError,
            )
        )
        add(
            FacadeCase(
                f"wait_for_change(17, {auth!r})",
                lambda f, _, a=auth: f.wait_for_change(17, a, "r1"),
                AUTH_ID_FIX,
                InputError,
            )
        )
    for lock in (0, -1, 2**63, 10**20, True, "17", 17.0, None):
        add(
            FacadeCase(
                f"update_auth({lock!r:.25}, ...)",
                lambda f, _, k=lock: f.update_auth(k, GOOD_AUTH, {"name": "x"}),
                LOCK_ID_FIX,
            )
        )
        add(
            FacadeCase(
                f"create_auth({lock!r:.25}, ...)",
                lambda f, _, k=lock: f.create_auth(k, name="x", code=545452),
                LOCK_ID_FIX,
            )
        )
        add(
            FacadeCase(
                f"action({lock!r:.25}, unlock)",
                lambda f, _, k=lock: f.action(k, "unlock"),
                LOCK_ID_FIX,
            )
        )
    add(FacadeCase("lock_state(0)", lambda f, _: f.lock_state(0), LOCK_ID_FIX, InputError))
    for patch, says in (
        ({"name": "   "}, "blank"),
        ({"name": ESC_TITLE}, NAME_CONTROL),
        ({"allowed_until_date": FAR_FUTURE}, DATE_FIX),
        ({"allowed_from_date": FAR_PAST}, DATE_FIX),
        ({"account_user_id": 2**40}, "account user id"),
        ({"code": 123456}, "must not start with 12"),
        ({"bogus": 1}, "Extra inputs"),
    ):
        add(
            FacadeCase(
                f"update_auth(patch={patch!r:.40})",
                lambda f, _, p=patch: f.update_auth(17, GOOD_AUTH, p),
                says,
            )
        )
    for fields, says in (
        ({"name": ESC_TITLE, "code": 545452}, NAME_CONTROL),
        ({"name": "x", "allowed_until_date": FAR_FUTURE}, DATE_FIX),
        ({"name": "x", "allowed_from_date": FAR_PAST}, DATE_FIX),
        ({"name": " ", "code": 545452}, "blank"),
    ):
        add(
            FacadeCase(
                f"create_auth({fields!r:.40})", lambda f, _, x=fields: f.create_auth(17, **x), says
            )
        )
    for request_id in ("a b", "x" * 201, "\x1b[2J"):
        add(
            FacadeCase(
                f"update_auth(request_id={request_id!r:.20})",
                lambda f, _, r=request_id: f.update_auth(
                    17, GOOD_AUTH, {"name": "x"}, request_id=r
                ),
                "request_id",
            )
        )
        add(
            FacadeCase(
                f"action(request_id={request_id!r:.20})",
                lambda f, _, r=request_id: f.action(17, "unlock", request_id=r),
                "request_id",
            )
        )
    add(FacadeCase("action(17, explode)", lambda f, _: f.action(17, "explode"), "action"))

    def grant(**overrides: Any) -> Callable[[NukiFlow, Fleet], Awaitable[Any]]:
        values: dict[str, Any] = {
            "name": "x",
            "code": 545452,
            "start": datetime.now(UTC),
            "end": datetime.now(UTC) + timedelta(hours=1),
        }
        values.update(overrides)
        return lambda _, fleet: fleet.grant_access(int(values.pop("lock", 17)), **values)

    for label, call, says, exc in (
        ("end in year 10000", grant(end="9999-12-31T23:30-05:00"), DATE_FIX, InputError),
        ("start in year 0", grant(start="0001-01-01T00:00+01:00"), DATE_FIX, InputError),
        (
            "window in the past",
            grant(start="2020-01-01T00:00Z", end="2020-01-02T00:00Z"),
            "ended already",
            InputError,
        ),
        (
            "zone ../../etc/passwd",
            grant(start="2030-01-01T10:00", end="2030-01-02T10:00", tz="../../etc/passwd"),
            "unknown time zone",
            TimeZoneError,
        ),
        ("name with escapes", grant(name=ESC_TITLE), NAME_CONTROL, PlanError),
        ("smartlock 0", grant(lock=0), LOCK_ID_FIX, PlanError),
        ("start a number", grant(start=5), "ISO 8601", TimeZoneError),
    ):
        add(FacadeCase(f"grant_access({label})", call, says, exc))
    for auth in TRAVERSAL[:3]:
        items = [{"op": "delete", "smartlock_id": 17, "auth_id": auth}]
        add(
            FacadeCase(
                f"apply_rollout(delete {auth!r})",
                lambda _, fl, i=items: fl.apply_rollout(i),
                AUTH_ID_FIX,
                PlanError,
            )
        )
    add(
        FacadeCase(
            "apply_rollout(rollout_id='../x')",
            lambda _, fl: fl.apply_rollout(
                [{"op": "create", "smartlock_id": 17, "name": "x"}], rollout_id="../x"
            ),
            "a rollout id",
            PlanError,
        )
    )
    add(
        FacadeCase(
            "apply_rollout(options item_wait inf)",
            lambda _, fl: fl.apply_rollout(
                [{"op": "create", "smartlock_id": 17, "name": "x"}],
                options={"item_wait_seconds": float("inf")},
            ),
            "finite",
            PlanError,
        )
    )
    add(
        FacadeCase(
            "apply_rollout(nested list)",
            lambda _, fl: fl.apply_rollout(
                [{"op": "create", "smartlock_id": 17, "name": _nested(100)}]
            ),
            "nests deeper",
            PlanError,
        )
    )

    add(
        FacadeCase(
            "apply_rollout(name with escapes)",
            lambda _, fl: fl.apply_rollout(
                [{"op": "create", "smartlock_id": 17, "name": "x"}], name=ESC_TITLE
            ),
            "control characters",
            PlanError,
        )
    )
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    add(
        FacadeCase(
            "apply_rollout(a list that contains itself)",
            lambda _, fl: fl.apply_rollout(cyclic),
            "nests deeper",
            PlanError,
        )
    )

    async def handle(call: Callable[[], Any]) -> Any:
        return call()

    add(
        FacadeCase(
            "rollout('../x')",
            lambda _, fl: handle(lambda: fl.rollout("../x")),
            "a rollout id",
            InputError,
        )
    )
    add(
        FacadeCase(
            "grant('../x')",
            lambda _, fl: handle(lambda: fl.grant("../x")),
            "a grant id",
            InputError,
        )
    )
    return cases


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


FACADE_CASES = _facade_cases()


async def test_the_facade_rejects_hostile_input_and_sends_nothing(
    flow: NukiFlow,
    sim: SimulatorControl,
    worker: Worker,
    temporal_client: Client,
    task_queue: str,
) -> None:
    """Each call answers ``rejected`` with a reason that names the field and what to fix, or
    raises the documented exception (never OverflowError, ValidationError or a traceback
    from deeper down); no workflow starts, no request reaches the fake cloud."""
    assert len(FACADE_CASES) >= 100
    fleet = Fleet(flow)
    failures = []
    for case in FACADE_CASES:
        try:
            answer = await case.call(flow, fleet)
        except Exception as exc:
            if case.raises is None or not isinstance(exc, case.raises):
                failures.append(f"  {case.label}: raised {type(exc).__name__}: {exc}")
            elif case.says not in str(exc):
                failures.append(f"  {case.label}: {exc} does not say {case.says!r}")
            continue
        if case.raises is not None:
            failures.append(f"  {case.label}: answered {answer!r:.100}, no {case.raises}")
        elif getattr(answer, "status", None) not in (OutcomeStatus.REJECTED, ActionStatus.REJECTED):
            failures.append(f"  {case.label}: answered {answer!r:.200}")
        elif case.says not in (answer.reason or ""):
            failures.append(f"  {case.label}: reason {answer.reason!r} lacks {case.says!r}")
    assert not failures, _report(failures)
    assert await sim.requests() == []

    # The control: a valid call starts its workflow; nothing listed before it.
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name="guest", code=545454)
    outcome = await flow.update_auth(lock.smartlock_id, auth.id, {"enabled": False})
    assert outcome.status is OutcomeStatus.APPLIED, outcome.reason
    entity = f"nuki-auth-{lock.smartlock_id}-{auth.id}"
    assert await _visible(temporal_client, task_queue, entity) == {entity}


# -- defence in depth: the Nuki client checks every path itself -----------------------------


def _recording_client() -> tuple[NukiClient, list[httpx.Request]]:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    return NukiClient(token="t", transport=httpx.MockTransport(answer)), sent


CLIENT_CALLS: list[tuple[str, Callable[[NukiClient, Any, Any], Awaitable[Any]]]] = [
    ("get_auth", lambda c, lock, auth: c.get_auth(lock, auth)),
    ("update_auth", lambda c, lock, auth: c.update_auth(lock, auth, _update())),
    ("delete_auth", lambda c, lock, auth: c.delete_auth(lock, auth)),
    ("logs", lambda c, lock, auth: c.logs(lock, auth_id=auth)),
    ("delete_auths", lambda c, lock, auth: c.delete_auths([auth])),
]
LOCK_CALLS: list[tuple[str, Callable[[NukiClient, Any], Awaitable[Any]]]] = [
    ("get_smartlock", lambda c, lock: c.get_smartlock(lock)),
    ("sync", lambda c, lock: c.sync(lock)),
    ("list_auths", lambda c, lock: c.list_auths(lock)),
    ("lock", lambda c, lock: c.lock(lock)),
    ("unlock", lambda c, lock: c.unlock(lock)),
    ("logs", lambda c, lock: c.logs(lock)),
]


def _update() -> Any:
    from nukiflow.contracts.wire import SmartlockAuthUpdate

    return SmartlockAuthUpdate(name="x")


@pytest.mark.parametrize("auth", [*TRAVERSAL, "", "a" * 1000, 42])
@pytest.mark.parametrize(("method", "call"), CLIENT_CALLS, ids=[m for m, _ in CLIENT_CALLS])
async def test_the_nuki_client_refuses_a_path_that_would_leave_its_template(
    method: str, call: Callable[[NukiClient, Any, Any], Awaitable[Any]], auth: Any
) -> None:
    """Whatever the caller validated: ``delete_auth(1, "..")`` once became DELETE /smartlock/1
    (which removes the lock from the account). Now nothing is sent, and the error is final."""
    client, sent = _recording_client()
    async with client:
        with pytest.raises(NukiRequestRefused) as refused:
            await call(client, 1, auth)
    assert sent == []
    assert refused.value.retryable is False


@pytest.mark.parametrize("lock", [0, -1, 2**63, True, "1", "1/../2", None])
@pytest.mark.parametrize(("method", "call"), LOCK_CALLS, ids=[m for m, _ in LOCK_CALLS])
async def test_the_nuki_client_refuses_a_smartlock_id_of_the_wrong_shape(
    method: str, call: Callable[[NukiClient, Any], Awaitable[Any]], lock: Any
) -> None:
    client, sent = _recording_client()
    async with client:
        with pytest.raises(NukiRequestRefused):
            await call(client, lock)
    assert sent == []


async def test_the_nuki_client_encodes_what_it_sends() -> None:
    client, sent = _recording_client()
    async with client:
        await client.delete_auth(2**63 - 1, GOOD_AUTH.upper())
    assert [r.url.path for r in sent] == [f"/smartlock/{2**63 - 1}/auth/{GOOD_AUTH}"]


def test_the_command_line_maxima_are_the_models_own() -> None:
    """--deadline is refused on the command line where the models would refuse it."""
    from nukiflow.contracts.action import MAX_DEADLINE_SECONDS, ActionRequest
    from nukiflow.contracts.auth import CreateAuthRequest
    from nukiflow.contracts.rollout import RolloutOptions
    from nukiflow.contracts.validation import MAX_ACTION_DEADLINE, MAX_CHANGE_DEADLINE

    def bound(model: Any, field: str) -> float:
        (le,) = [m.le for m in model.model_fields[field].metadata if hasattr(m, "le")]
        return float(le)

    assert MAX_ACTION_DEADLINE.total_seconds() == MAX_DEADLINE_SECONDS
    assert MAX_ACTION_DEADLINE.total_seconds() == bound(ActionRequest, "deadline_seconds")
    for model, field in (
        (AuthChange, "deadline_seconds"),
        (CreateAuthRequest, "deadline_seconds"),
        (RolloutOptions, "item_deadline_seconds"),
    ):
        assert MAX_CHANGE_DEADLINE.total_seconds() == bound(model, field), model


def test_no_path_in_the_nuki_client_is_an_f_string() -> None:
    """Every path goes through ``api_path``, which checks and encodes each value: an
    f-string path would interpolate a value unchecked (``git grep`` finds none either)."""
    source = (Path(__file__).parent.parent / "activities" / "nuki_client.py").read_text()
    offending = [
        line.strip()
        for line in source.splitlines()
        if ('f"/' in line or "f'/" in line) and "smartlock" in line
    ]
    assert offending == []


# -- what the CLI prints: names from Nuki or input never reach the terminal raw ---------------


async def test_auth_show_escapes_a_name_planted_on_the_lock(
    cli_env: dict[str, str], sim: SimulatorControl, worker: Worker
) -> None:
    """A name set on the device (by the Nuki app, say) with a terminal escape: `auth show`
    and the change's own output print it escaped, never raw."""
    lock = await sim.add_lock()
    auth = await sim.add_auth(lock.smartlock_id, name=ESC_TITLE, code=545454)
    changed = await asyncio.to_thread(
        _invoke, cli_env, ("auth", "update", str(lock.smartlock_id), auth.id, "--disable")
    )
    assert changed.exit_code == 0, changed.output
    shown = await asyncio.to_thread(
        _invoke, cli_env, ("auth", "show", str(lock.smartlock_id), auth.id)
    )
    assert shown.exit_code == 0, shown.output
    for output in (changed.output, shown.output):
        assert "\x1b" not in output and "\x07" not in output
        assert "\\x1b]0;PWNED\\x07\\x1b[2J" in output
    as_json = await asyncio.to_thread(
        _invoke, cli_env, ("auth", "show", str(lock.smartlock_id), auth.id, "--json")
    )
    assert "\x1b" not in as_json.stdout and "\\u001b]0;PWNED" in as_json.stdout


# -- local times the clocks skip or repeat: refused everywhere, naming both offsets ----------


@pytest.fixture
def berlin_time() -> Iterator[None]:
    """This process in Europe/Berlin (the CLI reads local times in the machine's zone)."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Berlin"
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


@pytest.mark.parametrize(
    "args",
    [
        ("auth", "update", LOCK, GOOD_AUTH, "--from", "2030-03-31T02:30"),
        ("auth", "update", LOCK, GOOD_AUTH, "--until", "2030-03-31T02:30"),
        ("auth", "create", LOCK, "--name", "x", "--from", "2030-03-31T02:30"),
        (
            "access",
            "grant",
            LOCK,
            "--name",
            "x",
            "--code",
            "545452",
            "--from",
            "2030-03-31T02:30",
            "--until",
            "2030-04-02T10:00",
            "--tz",
            "Europe/Berlin",
        ),
    ],
)
def test_a_skipped_local_time_is_refused_naming_both_offsets(
    berlin_time: None, args: tuple[str, ...]
) -> None:
    result = _invoke({"NUKIFLOW_TEMPORAL_ADDRESS": "127.0.0.1:1"}, args)
    assert result.exit_code == 2, result.output
    assert "does not exist" in result.stderr
    assert "+01:00" in result.stderr and "+02:00" in result.stderr


def test_a_repeated_local_time_is_refused_naming_both_offsets(berlin_time: None) -> None:
    result = _invoke(
        {"NUKIFLOW_TEMPORAL_ADDRESS": "127.0.0.1:1"},
        ("auth", "update", LOCK, GOOD_AUTH, "--from", "2030-10-27T02:30"),
    )
    assert result.exit_code == 2 and "happens twice" in result.stderr
    assert "2030-10-27T02:30+02:00" in result.stderr and "2030-10-27T02:30+01:00" in result.stderr


# -- deployment defaults --------------------------------------------------------------------


def test_health_probes_listen_on_loopback_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NUKIFLOW_HEALTH_HOST", raising=False)
    assert Settings().health_host == "127.0.0.1"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o606])
def test_a_key_file_group_or_others_can_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int
) -> None:
    path = tmp_path / "keys"
    path.write_text(Keyring.generate("k").to_text())
    path.chmod(mode)
    monkeypatch.delenv("NUKIFLOW_CODEC_KEYS", raising=False)
    settings = Settings(codec_key_file=path, nuki_url="https://api.nuki.io")
    with pytest.raises(CodecConfigError, match="chmod 600"):
        settings.keyring()
    path.chmod(0o600)
    assert settings.keyring().key_ids == ["k"]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.nuki.io", True),
        ("http://127.0.0.1:8080", True),
        ("http://localhost:8080", True),
        ("http://[::1]:8080", True),
        ("http://127.1.2.3", True),
        ("http://api.nuki.io", False),
        ("http://10.0.0.5:8080", False),
        ("http://localhost.evil.example", False),
        ("ftp://api.nuki.io", False),
        ("api.nuki.io", False),
        ("https://", False),
    ],
)
def test_the_token_travels_over_https_unless_it_stays_on_this_machine(
    url: str, allowed: bool
) -> None:
    settings = Settings(nuki_url=url, nuki_token="t")
    if allowed:
        assert settings.require_nuki() == (url, "t")
    else:
        with pytest.raises(RuntimeError, match="NUKIFLOW_NUKI_URL"):
            settings.require_nuki()


def test_plain_http_beyond_loopback_only_when_allowed_explicitly() -> None:
    settings = Settings(nuki_url="http://nuki-proxy.internal:8080", nuki_token="t")
    with pytest.raises(RuntimeError, match="NUKIFLOW_NUKI_ALLOW_HTTP"):
        settings.require_nuki()
    allowed = Settings(
        nuki_url="http://nuki-proxy.internal:8080", nuki_token="t", nuki_allow_http=True
    )
    assert allowed.require_nuki()[0] == "http://nuki-proxy.internal:8080"


async def test_a_worker_refuses_plain_http_before_it_connects() -> None:
    settings = Settings(
        nuki_url="http://api.nuki.io", nuki_token="t", temporal_address=f"127.0.0.1:{free_port()}"
    )
    with pytest.raises(RuntimeError, match=r"plain http to api\.nuki\.io"):
        await run_worker(settings)
