"""What the chaos suite counts: what every caller was told against what the fake devices hold
and executed (their control surface, never the callers' own account).

Outcome statuses are read as strings, so the counts stay right whatever statuses the library
grows: an action answered anything but confirmed, expired, failed or rejected (an auth change
anything but applied, superseded, rejected or failed) is counted apart as "may have run", not as
a lie and not as a success.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from bench import raise_if_cancelling
from nukiflow.contracts.wire import SmartlockAuth
from nukiflow.simulator import SimulatorControl
from nukiflow.simulator.control_models import ExecutedAction

T = TypeVar("T")

ACTION_STATUSES = frozenset({"confirmed", "expired", "failed", "rejected"})
CHANGE_STATUSES = frozenset({"applied", "superseded", "rejected", "failed", "skipped"})
# The fake device starts an action the moment it takes it from its queue; one posted just
# before its deadline starts within milliseconds. A start later than this past the deadline
# means the action waited somewhere (held for an offline lock): the door opened late.
DEADLINE_TOLERANCE = 1.0

# The counts that must be zero, with the words the table prints for them.
MUST_BE_ZERO: dict[str, str] = {
    "changes_lost": "changes lost (answered applied, device lacks them)",
    "creates_duplicated": "creates duplicated (extra auths on the device)",
    "changes_failed_but_held": "changes answered failed that the device holds",
    "actions_executed_twice": "actions executed twice",
    "actions_executed_after_deadline": "actions executed after their deadline",
    "actions_denied_but_executed": "actions answered expired/failed, device executed",
    "actions_confirmed_not_executed": "actions answered confirmed, device never executed",
    "unanswered": "calls left without an answer",
}


@dataclass
class Tally:
    """One scenario's figures."""

    scenario: str
    calls: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    kills: int = 0
    restarts: int = 0
    wall_seconds: float = 0.0
    changes_lost: int = 0
    creates_duplicated: int = 0
    changes_failed_but_held: int = 0
    actions_executed_twice: int = 0
    actions_executed_after_deadline: int = 0
    actions_denied_but_executed: int = 0
    actions_confirmed_not_executed: int = 0
    unanswered: int = 0
    # Any status the library gives beyond the known ones ("unknown": may have run).
    may_have_run: int = 0
    # Measurements printed beside the counts (never asserted).
    figures: dict[str, str] = field(default_factory=dict)
    # One line per counted failure: which call, what it was told, what the device shows.
    findings: list[str] = field(default_factory=list)
    kill_hits: list[str] = field(default_factory=list)

    def violations(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in MUST_BE_ZERO if getattr(self, name)}

    def note(self, count: str, line: str) -> None:
        setattr(self, count, getattr(self, count) + 1)
        self.findings.append(f"{MUST_BE_ZERO[count]}: {line}")

    def to_json(self) -> dict[str, object]:
        return {
            "scenario": self.scenario,
            "calls": self.calls,
            "statuses": dict(self.statuses),
            "may_have_run": self.may_have_run,
            "kills": self.kills,
            "restarts": self.restarts,
            "wall_seconds": round(self.wall_seconds, 1),
            **{name: getattr(self, name) for name in MUST_BE_ZERO},
            "figures": self.figures,
            "findings": self.findings,
            "kill_hits": self.kill_hits,
        }

    def count_kills(self, hits: list[str], kills: int) -> None:
        self.kill_hits, self.kills = hits, kills
        after = sum(1 for hit in hits if hit != "random moment")
        self.figures["kills at a random moment / after a write"] = f"{len(hits) - after} / {after}"


TRANSIENT: tuple[type[BaseException], ...] = (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError)


async def persist(call: Callable[[], Awaitable[T]]) -> T:
    """Ask again (the same request id, so the same change) while Temporal is unreachable,
    as a caller that must know its outcome does. Bounded by the scenario's time budget."""
    delay = 0.2
    while True:
        try:
            return await call()
        except TRANSIENT:
            raise_if_cancelling()
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 2.0)


def status_of(outcome: object) -> str:
    status = getattr(outcome, "status", outcome)
    return str(getattr(status, "value", status))


# -- lock actions ------------------------------------------------------------------------------


@dataclass
class ActionCall:
    lock: int
    number: int
    action: str
    code: int
    request_id: str
    started: float
    deadline_at: float
    status: str | None = None
    reason: str | None = None
    answered: float | None = None
    executions: list[float] = field(default_factory=list)

    def label(self) -> str:
        return f"lock {self.lock} #{self.number} {self.action} ({self.request_id[:8]})"


def attribute_executions(
    calls: Iterable[ActionCall], executed: dict[int, list[ExecutedAction]], tally: Tally
) -> None:
    """Give every action a device executed to the call that asked for it: on that lock, the
    latest call of that action started before the device started it (a lock's callers ask one
    after another and never for the same action twice in a row, so a late execution still
    finds its own call). An execution no call explains counts as executed twice."""
    by_lock: dict[int, list[ActionCall]] = {}
    for call in calls:
        by_lock.setdefault(call.lock, []).append(call)
    for lock, actions in executed.items():
        mine = sorted(by_lock.get(lock, []), key=lambda c: c.started)
        for done in actions:
            owner = None
            for call in mine:
                if call.code == done.action and call.started <= done.time:
                    owner = call
            if owner is None:
                tally.note(
                    "actions_executed_twice",
                    f"lock {lock}: action {done.action} executed with no call asking for it",
                )
                continue
            owner.executions.append(done.time)


def judge_actions(calls: list[ActionCall], tally: Tally) -> None:
    for call in calls:
        tally.calls += 1
        if call.status is None:
            tally.note("unanswered", f"{call.label()}: {call.reason or 'still waiting'}")
            continue
        tally.statuses[call.status] += 1
        if call.status not in ACTION_STATUSES:
            tally.may_have_run += 1
        ran = len(call.executions)
        if call.status == "confirmed" and ran == 0:
            tally.note("actions_confirmed_not_executed", call.label())
        if ran >= 2:
            tally.note("actions_executed_twice", f"{call.label()}: executed {ran} times")
        if call.status in ("expired", "failed") and ran:
            tally.note(
                "actions_denied_but_executed",
                f"{call.label()}: answered {call.status} ({call.reason}), the device ran it",
            )
        late = [t - call.deadline_at for t in call.executions]
        if any(lateness > DEADLINE_TOLERANCE for lateness in late):
            tally.note(
                "actions_executed_after_deadline",
                f"{call.label()}: started {max(late):.1f} s after its deadline",
            )


# -- auth changes ------------------------------------------------------------------------------


@dataclass
class ChangeCall:
    """One auth change a caller asked for (an update's code, a create's name and code)."""

    kind: str  # "create", "update" or "delete"
    lock: int
    request_id: str
    auth_id: str | None = None
    name: str | None = None
    code: int | None = None
    started: float = 0.0
    status: str | None = None
    reason: str | None = None
    answered: float | None = None
    # The device held the change's effect right after the answer (None: not looked at).
    held_at_answer: bool | None = None
    writes: int = 0
    reads: int = 0

    def label(self) -> str:
        what = self.name if self.kind == "create" else self.auth_id
        return f"{self.kind} {what} on lock {self.lock} ({self.request_id[-12:]})"

    def held_by(self, auths: dict[str, SmartlockAuth]) -> bool:
        if self.kind == "update":
            auth = auths.get(self.auth_id or "")
            return auth is not None and auth.code == self.code
        if self.kind == "delete":
            return self.auth_id not in auths
        return any(a.name == self.name and a.code == self.code for a in auths.values())

    def answer(self, outcome: object, now: float | None = None) -> None:
        self.status = status_of(outcome)
        self.reason = getattr(outcome, "reason", None)
        self.answered = time.monotonic() if now is None else now
        if self.kind == "create":
            self.auth_id = getattr(outcome, "auth_id", None) or self.auth_id
        self.writes = int(getattr(outcome, "writes", 0) or 0)
        self.reads = int(getattr(outcome, "reads", 0) or 0)


async def device_auths(sim: SimulatorControl, lock: int) -> dict[str, SmartlockAuth]:
    return {auth.id: auth for auth in (await sim.device(lock)).auths}


async def drain(sim: SimulatorControl, locks: Iterable[int], within: float = 60.0) -> None:
    """Until the devices worked through their queues (what was accepted has landed or not)."""
    give_up = time.monotonic() + within
    for lock in locks:
        while time.monotonic() < give_up:
            if not (await sim.device(lock)).pending:
                break
            await asyncio.sleep(0.1)


async def judge_changes(
    sim: SimulatorControl, chains: list[list[ChangeCall]], tally: Tally
) -> None:
    """Each call against the device: at its answer (when looked at) and, for the last call of
    each chain (later calls change the same auth), at the end; creates also for duplicates."""
    locks = sorted({call.lock for chain in chains for call in chain})
    await drain(sim, locks)
    final = {lock: await device_auths(sim, lock) for lock in locks}
    for chain in chains:
        for call in chain:
            tally.calls += 1
            if call.status is None:
                tally.note("unanswered", f"{call.label()}: {call.reason or 'still waiting'}")
                continue
            tally.statuses[call.status] += 1
            if call.status not in CHANGE_STATUSES:
                tally.may_have_run += 1
            last = call is chain[-1]
            held_now = call.held_by(final[call.lock])
            at_answer = call.held_at_answer
            if call.status == "applied":
                if at_answer is False:
                    tally.note("changes_lost", f"{call.label()}: not on the device when answered")
                elif last and not held_now:
                    tally.note("changes_lost", f"{call.label()}: gone from the device later")
                elif call.kind == "create" and call.auth_id not in final[call.lock]:
                    tally.note("changes_lost", f"{call.label()}: its auth id is not on the device")
            elif call.status == "failed" and (at_answer or (last and held_now)):
                when = "when answered" if at_answer else "at the end"
                tally.note(
                    "changes_failed_but_held",
                    f"{call.label()}: answered failed ({call.reason}); the device holds it {when}",
                )
        for call in chain:
            if call.kind == "create":
                copies = sum(
                    1
                    for a in final[call.lock].values()
                    if a.name == call.name and a.code == call.code
                )
                if copies > 1:
                    tally.creates_duplicated += copies - 1
                    tally.findings.append(
                        f"{MUST_BE_ZERO['creates_duplicated']}: {call.label()} is on the "
                        f"device {copies} times"
                    )
