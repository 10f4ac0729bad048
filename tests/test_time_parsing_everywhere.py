"""One reading of dates, durations, weekdays and daily times at every edge.

Each case of the table goes through the three ways in: the command line (``nukiflow auth
create``, invoked in-process, stopped where it would connect), a plan file (``load_plan``) and
the Python API (``Fleet.grant_access``, stopped where it would start the grant's workflow).
Every edge must accept it with the same value, or refuse it saying the same thing.

Durations reach the Python API as ``timedelta`` objects, except as ``+DURATION`` dates: their
third way in is ``grant_access(end="+1h30m")``. Naive date-times are read in Europe/Berlin
everywhere: the plan and the API are told so (``tz``), and the command line, which reads them
in the machine's zone, runs with ``TZ=Europe/Berlin``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from nukiflow.cli import app
from nukiflow.cli import auth_changes as cli_auth
from nukiflow.contracts.access import GrantInput
from nukiflow.fleet import Fleet
from nukiflow.fleet.plan import PlanError, load_plan

BERLIN = "Europe/Berlin"
LOCK = 18834485182
# A fixed end for the cases about the start (and a start for those about the end).
UNTIL = "2031-01-01T00:00+00:00"
FROM = "2030-01-01T00:00+00:00"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass(frozen=True)
class Refused:
    """A refusal: every edge's message contains each of ``says``."""

    says: tuple[str, ...]


@dataclass(frozen=True)
class Case:
    kind: str  # weekdays, times, from, duration
    value: str
    expected: Any  # the value every edge reads, or Refused


def refused(*says: str) -> Refused:
    return Refused(says)


UNKNOWN_DAY = "; use mon, tue, wed, thu, fri, sat, sun, ranges such as mon-fri (or sat-mon"
CASES = [
    # Weekdays: Nuki's mask (Mon 64 ... Sun 1); ranges run forwards and wrap over Sunday.
    Case("weekdays", "mon-fri", 124),
    Case("weekdays", "sat-mon", 2 + 1 + 64),
    Case("weekdays", "fri-mon", 4 + 2 + 1 + 64),
    Case("weekdays", "sun-tue", 1 + 64 + 32),
    Case("weekdays", "wed-wed", 16),
    Case("weekdays", "Monday, wed", 64 + 16),
    Case("weekdays", "tues-thurs", 32 + 16 + 8),
    Case("weekdays", "weekdays,sat", 126),
    Case("weekdays", "weekend", 3),
    Case("weekdays", "all", 127),
    Case("weekdays", "funday", refused("unknown weekday 'funday'" + UNKNOWN_DAY)),
    Case("weekdays", "mon-", refused("unknown weekday ''" + UNKNOWN_DAY)),
    Case("weekdays", "", refused("give weekdays such as mon,tue or mon-fri")),
    # Daily windows, minutes after midnight in the lock's time.
    Case("times", "08:00-18:30", (480, 1110)),
    Case("times", "8-17", (480, 1020)),
    Case("times", " 7:05 - 9:00 ", (425, 540)),
    Case("times", "18:00-24:00", (1080, 1439)),
    Case("times", "22:00-06:00", refused("'22:00-06:00' crosses midnight or is empty")),
    Case("times", "25:00-26:00", refused("'25:00-26:00': times run from 00:00 to 23:59")),
    Case("times", "8:00", refused("'8:00' is not a daily window; use HH:MM-HH:MM")),
    Case("times", "", refused("give a daily window such as 08:00-18:30")),
    # Dates: naive ones in Berlin with that date's offset; explicit offsets as given.
    Case("from", "2030-06-01T10:00", utc(2030, 6, 1, 8)),
    Case("from", "2030-06-01 10:00", utc(2030, 6, 1, 8)),
    Case("from", "2030-01-15T10:00", utc(2030, 1, 15, 9)),
    Case("from", "2030-06-01", utc(2030, 5, 31, 22)),
    Case("from", "2030-06-01T10:00+00:00", utc(2030, 6, 1, 10)),
    Case("from", "2030-06-01T10:00Z", utc(2030, 6, 1, 10)),
    Case("from", "2030-03-31T02:30+02:00", utc(2030, 3, 31, 0, 30)),
    Case("from", "2030-10-27T02:30+01:00", utc(2030, 10, 27, 1, 30)),
    # The hour the clocks skip, and the one they repeat, in Berlin: refused, naming both.
    Case(
        "from",
        "2030-03-31T02:30",
        refused(
            "2030-03-31 02:30 does not exist in",
            "(the clocks jump forward from +01:00 to +02:00 that night)",
            "(2030-03-31T02:30+01:00 or 2030-03-31T02:30+02:00)",
        ),
    ),
    Case(
        "from",
        "2030-10-27T02:30",
        refused(
            "2030-10-27 02:30 happens twice in",
            "2030-10-27T02:30+02:00 for the first or 2030-10-27T02:30+01:00 for the second",
        ),
    ),
    Case("from", "tomorrow-ish", refused("'tomorrow-ish' is not a date-time; use ISO 8601")),
    Case("from", "2030-13-01", refused("'2030-13-01' is not a date-time; use ISO 8601")),
    Case("from", "2101-01-01T00:00Z", refused("must lie between 2000-01-01 and 2099-12-31")),
    # Durations (a number alone is seconds).
    Case("duration", "90", timedelta(seconds=90)),
    Case("duration", "90s", timedelta(seconds=90)),
    Case("duration", "1h30m", timedelta(minutes=90)),
    Case("duration", "1h 30m", timedelta(minutes=90)),
    Case("duration", "1.5h", timedelta(minutes=90)),
    Case("duration", "2H", timedelta(hours=2)),
    Case("duration", "10min", timedelta(minutes=10)),
    Case("duration", "1w", timedelta(days=7)),
    Case("duration", "soon", refused("'soon' is not a duration; use e.g. 30s, 5m, 2h, 1d")),
    Case("duration", "-5m", refused("'-5m' is not a duration")),
    Case("duration", "1h30", refused("'1h30' is not a duration")),
    Case("duration", "0", refused("('0') must be longer than zero and finite")),
]


# -- the three ways in ---------------------------------------------------------------------


@pytest.fixture
def berlin_time() -> Iterator[None]:
    """This process in Europe/Berlin: the command line reads local times in its zone."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = BERLIN
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


@dataclass
class Read:
    """What one edge made of a case: the value, or the message it refused it with."""

    value: Any = None
    message: str | None = None


def through_cli(case: Case, monkeypatch: pytest.MonkeyPatch) -> Read:
    """``nukiflow auth create``: what it would hand to the facade, or its refusal."""
    seen: dict[str, Any] = {}

    async def handed_over(*args: Any, **kwargs: Any) -> int:
        seen["fields"], seen["deadline"] = args[3], kwargs["deadline"]
        return 0

    monkeypatch.setattr(cli_auth, "_auth_create", handed_over)
    args = ["auth", "create", str(LOCK), "--name", "guest"]
    args += {
        "weekdays": ["--weekdays", case.value],
        "times": ["--times", case.value],
        "from": ["--from", case.value, "--until", UNTIL],
        "duration": ["--deadline", case.value],
    }[case.kind]
    result = CliRunner().invoke(app, args, env={"NUKIFLOW_TEMPORAL_ADDRESS": "127.0.0.1:1"})
    assert "Traceback" not in result.output
    if result.exit_code != 0:
        assert result.exit_code == 2, result.output
        return Read(message=result.stderr)
    fields = seen["fields"]
    return Read(
        value={
            "weekdays": lambda: fields["allowed_week_days"],
            "times": lambda: (fields["allowed_from_time"], fields["allowed_until_time"]),
            "from": lambda: fields["allowed_from_date"],
            "duration": lambda: seen["deadline"],
        }[case.kind]()
    )


def through_plan(case: Case, tmp_path: Path) -> Read:
    """A plan file with one create (the value quoted: YAML reads it as text)."""
    value = json.dumps(case.value)
    item = {
        "weekdays": f"weekdays: {value}",
        "times": f"times: {value}",
        "from": f"from: {value}\n    until: {json.dumps(UNTIL)}",
        "duration": "",
    }[case.kind]
    options = f"options:\n  item_deadline: {value}\n" if case.kind == "duration" else ""
    path = tmp_path / "plan.yaml"
    path.write_text(
        f"tz: {BERLIN}\n{options}items:\n  - op: create\n    smartlock_id: {LOCK}\n"
        f"    name: guest\n    {item}\n"
    )
    try:
        plan = load_plan(path)
    except PlanError as exc:
        return Read(message=str(exc))
    create = plan.items[0].create
    assert create is not None
    return Read(
        value={
            "weekdays": lambda: create.allowed_week_days,
            "times": lambda: (create.allowed_from_time, create.allowed_until_time),
            "from": lambda: create.allowed_from_date,
            "duration": lambda: timedelta(seconds=plan.options.item_deadline_seconds),
        }[case.kind]()
    )


class _Started(Exception):
    def __init__(self, argument: Any) -> None:
        super().__init__("stopped where the grant's workflow would start")
        self.argument = argument


class _Client:
    """Stands in for Temporal's client: the grant stops where its workflow would start."""

    async def start_workflow(self, workflow: Any, argument: Any, **options: Any) -> None:
        raise _Started(argument)

    async def execute_workflow(self, workflow: Any, argument: Any, **options: Any) -> Any:
        """The lock's own zone, read for daily times and weekdays: the zone the cases use."""
        from nukiflow.contracts.lock_zone import LockZone

        return LockZone(smartlock_id=argument.smartlock_id, timezone_id=37, zone=BERLIN)


async def through_api(case: Case) -> Read:
    """``Fleet.grant_access``: the window it would start the grant with, or its refusal."""
    fleet = Fleet(_Client(), task_queue="unused")  # type: ignore[arg-type]
    window: dict[str, Any] = {"start": FROM, "end": UNTIL}
    if case.kind in ("weekdays", "times"):
        window[case.kind] = case.value
    elif case.kind == "from":
        window["start"] = case.value
    else:
        window["start"], window["end"] = "2000-01-01T00:00+00:00", f"+{case.value}"
    before = datetime.now(UTC)
    try:
        await fleet.grant_access(LOCK, name="guest", code=535353, tz=BERLIN, **window)
    except _Started as started:
        assert isinstance(started.argument, GrantInput)
        granted = started.argument.request.window
    except ValueError as exc:
        return Read(message=str(exc))
    else:
        raise AssertionError("grant_access neither started a workflow nor refused")
    after = datetime.now(UTC)
    if case.kind == "duration":
        # `+DURATION` counts from the call: between the instants read around it.
        return Read(value=_Ahead(granted.allowed_until_date, before, after))
    value: Callable[[], Any] = {
        "weekdays": lambda: granted.allowed_week_days,
        "times": lambda: (granted.allowed_from_time, granted.allowed_until_time),
        "from": lambda: granted.allowed_from_date,
    }[case.kind]
    return Read(value=value())


@dataclass(frozen=True)
class _Ahead:
    """``+DURATION`` as read by the API: the instant and the clock around the call."""

    instant: datetime
    before: datetime
    after: datetime

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, timedelta):
            return NotImplemented
        # Windows keep milliseconds: the instant may be up to 1 ms below the exact sum.
        earliest = self.before.replace(microsecond=self.before.microsecond // 1000 * 1000)
        return earliest + other <= self.instant <= self.after + other

    __hash__ = None  # type: ignore[assignment]


# -- the table -----------------------------------------------------------------------------


def _id(case: Case) -> str:
    return f"{case.kind}={case.value!r}"


@pytest.mark.parametrize("case", CASES, ids=_id)
async def test_every_edge_reads_it_the_same(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, berlin_time: None
) -> None:
    edges = {
        # In a thread: the command line runs its own event loop.
        "command line": await asyncio.to_thread(through_cli, case, monkeypatch),
        "plan file": through_plan(case, tmp_path),
        "Python API": await through_api(case),
    }
    for edge, read in edges.items():
        if isinstance(case.expected, Refused):
            assert read.message is not None, f"{edge} accepted {case.value!r}: {read.value!r}"
            for says in case.expected.says:
                assert says in read.message, f"{edge} says: {read.message}"
        else:
            assert read.message is None, f"{edge} refused {case.value!r}: {read.message}"
            assert read.value == case.expected, f"{edge} read {read.value!r}"


# -- where the edges differ on purpose -----------------------------------------------------


def test_a_plan_takes_absolute_dates_only(tmp_path: Path) -> None:
    """`now` and `+2h` would make the same plan file mean another rollout each time it is
    applied (applying it again attaches to its rollout): plans refuse them, saying why."""
    for relative in ("now", "+2h"):
        path = tmp_path / "plan.yaml"
        path.write_text(
            f"items:\n  - op: create\n    smartlock_id: {LOCK}\n    name: guest\n"
            f"    from: {json.dumps(relative)}\n"
        )
        with pytest.raises(PlanError, match="is relative; here a date is ISO 8601"):
            load_plan(path)


async def test_the_command_line_and_the_api_take_relative_dates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cli = await asyncio.to_thread(through_cli, Case("from", "+1h30m", None), monkeypatch)
    api = await through_api(Case("duration", "1h30m", None))
    assert cli.message is None and api.message is None
    assert isinstance(cli.value, datetime) and cli.value.tzinfo is UTC
    assert api.value == timedelta(minutes=90)


def test_maxima_are_the_same_where_the_rule_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An auth change's deadline and a plan item's deadline are both at most 30 days."""
    for value, ok in (("30d", True), ("720h", True), ("30d1s", False), ("31d", False)):
        cli = through_cli(Case("duration", value, None), monkeypatch)
        plan = through_plan(Case("duration", value, None), tmp_path)
        for read in (cli, plan):
            if ok:
                assert read.value == timedelta(days=30)
            else:
                assert read.message is not None and "must be at most 30d" in read.message
