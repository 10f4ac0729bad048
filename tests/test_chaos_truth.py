"""The chaos suite's judge: its counts come from what the devices hold and executed, and a
status it does not know is counted apart, never as a lie or a success."""

from __future__ import annotations

from bench.chaos_truth import (
    ActionCall,
    ChangeCall,
    Tally,
    attribute_executions,
    judge_actions,
    judge_changes,
)
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.control_models import ExecutedAction

UNLOCK, LOCK, UNLATCH, LOCK_N_GO_UNLATCH = 1, 2, 3, 5


def _call(
    number: int, code: int, started: float, deadline_at: float, status: str | None
) -> ActionCall:
    return ActionCall(
        lock=7,
        number=number,
        action=str(code),
        code=code,
        request_id=f"r{number}",
        started=started,
        deadline_at=deadline_at,
        status=status,
    )


def _ran(code: int, at: float) -> ExecutedAction:
    return ExecutedAction(action=code, option=0, time=at, completion=0)


def test_action_counts_come_from_the_devices_executions() -> None:
    calls = [
        _call(1, UNLOCK, 0.0, 10.0, "confirmed"),  # the device ran it twice
        _call(2, LOCK, 5.0, 6.0, "expired"),  # ran anyway, and late
        _call(3, UNLATCH, 9.0, 20.0, "confirmed"),  # never ran
        _call(4, UNLOCK, 12.0, 30.0, "unknown"),  # may have run: it did, no lie
        _call(5, LOCK, 13.0, 30.0, None),  # no answer
        _call(6, UNLATCH, 14.0, 30.0, "failed"),  # failed, and the device agrees
    ]
    executed = {
        7: [
            _ran(UNLOCK, 0.1),
            _ran(UNLOCK, 0.2),
            _ran(LOCK, 8.0),
            _ran(UNLOCK, 12.1),
            _ran(LOCK_N_GO_UNLATCH, 1.0),  # no call asked for it
        ]
    }
    tally = Tally("test")
    attribute_executions(calls, executed, tally)
    judge_actions(calls, tally)
    assert tally.actions_executed_twice == 2
    assert tally.actions_executed_after_deadline == 1
    assert tally.actions_denied_but_executed == 1
    assert tally.actions_confirmed_not_executed == 1
    assert tally.unanswered == 1
    assert tally.may_have_run == 1 and tally.statuses["unknown"] == 1
    assert tally.calls == 6 and len(tally.findings) == 6


async def test_change_counts_come_from_what_the_device_holds(sim: SimulatorControl) -> None:
    lock = (await sim.add_lock()).smartlock_id
    kept = await sim.add_auth(lock, name="kept", code=511111)
    changed = await sim.add_auth(lock, name="changed", code=522222)
    twice = [await sim.add_auth(lock, name="new", code=533333)]
    twice.append(await sim.add_auth(lock, name="new", code=533333))
    assert len(twice) == 2

    def change(kind: str, status: str, held: bool | None, **fields: object) -> ChangeCall:
        call = ChangeCall(kind, lock, f"{kind}-{status}", **fields)
        call.status, call.held_at_answer = status, held
        return call

    chains = [
        # Answered applied, but the device never had it: lost.
        [change("update", "applied", False, auth_id=kept.id, code=599999)],
        # Answered failed, the device holds it: a lie.
        [change("update", "failed", True, auth_id=changed.id, code=522222)],
        # A delete answered failed while the auth is gone (the 502 after commit): a lie.
        [change("delete", "failed", None, auth_id="0" * 24)],
        # Applied and on the device, twice: one duplicate.
        [change("create", "applied", True, name="new", code=533333, auth_id=twice[0].id)],
        # A status the judge does not know: counted apart.
        [change("update", "unknown", None, auth_id=kept.id, code=588888)],
        # Applied and held: nothing to count.
        [change("update", "applied", True, auth_id=kept.id, code=511111)],
    ]
    tally = Tally("test")
    await judge_changes(sim, chains, tally)
    assert tally.changes_lost == 1
    assert tally.changes_failed_but_held == 2
    assert tally.creates_duplicated == 1
    assert tally.may_have_run == 1
    assert tally.calls == 6 and tally.statuses["applied"] == 3
    assert tally.violations() == {
        "changes_lost": 1,
        "changes_failed_but_held": 2,
        "creates_duplicated": 1,
    }
