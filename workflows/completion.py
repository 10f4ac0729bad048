"""Completion by webhook: when the lock's report settles a write or confirms an action.

Plain functions of their arguments (no Temporal calls), used by the auth entity
(:mod:`nukiflow.workflows.auth_completion`) and the lock workflow
(:mod:`nukiflow.workflows.action_reports`). A report is a hint that may come late, twice, out of
order or never, so it settles only what it proves on its own; polling finishes everything else.

**Healthy webhooks.** The worker says whether this deployment receives the lock's webhooks (it
serves the receiver, or ``NUKIFLOW_WEBHOOKS_EXPECTED`` says one runs). Then a workflow whose
recent writes or actions were settled by reports waits for the report before it polls (the
slow cadence); after :data:`MAX_MISSES` in a row that polling had to settle (reports lost, or
later than the wait) it polls at once as without webhooks (the fast cadence), and is healthy
again once a write's or action's reports had come in by the time polling settled it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from nukiflow.contracts.action import ActionSpec
from nukiflow.contracts.action_io import LockSnapshot, Verdict
from nukiflow.contracts.action_judging import Assessment, assess, log_entry_counts, verdict_of
from nukiflow.contracts.events import AuthEvent, LockEvent, LockEventKind

# Writes (or actions) in a row settled by polling after which a workflow stops waiting for
# reports before it polls.
MAX_MISSES = 2


def healthy(expected: bool, misses: int) -> bool:
    """Whether to wait for the lock's report before polling."""
    return expected and misses < MAX_MISSES


def settles_write(
    event: AuthEvent, since: datetime, known: datetime | None, recent_digests: list[str]
) -> bool:
    """Whether ``event`` carries the full state of the auth after the entity's write, whose
    pending operation the entity read with ``updateDate`` ``since`` (Nuki's clock: set when it
    accepted the write, or a later write to the auth); ``known`` is the newest ``updateDate``
    the entity had taken before the write (its last read-back or report).

    Not a delivery taken before (a duplicate), not one with an operation still pending (an
    earlier write landed, a later one is on its way: the lock's final state is not known yet),
    not one older than ``since`` nor one not newer than ``known`` (an earlier write's report,
    late or reordered). A deletion (Nuki never reuses an auth id) is final: the auth is gone.
    """
    if event.digest in recent_digests:
        return False
    if event.deleted:
        return True
    if event.auth.operation_id is not None:
        return False
    date = event.auth.update_date
    if date is None or date < since:
        return False
    return known is None or date > known


@dataclass(frozen=True)
class ReportedOutcome:
    """What the lock's reports say about an action: its verdict, the state last reported
    (None: none), whether a log entry decided it, and the entry's completion."""

    verdict: Verdict
    state: int | None
    by_log: bool
    completion: int | None = None


def action_outcome(
    reports: list[LockEvent],
    spec: ActionSpec,
    before: LockSnapshot,
    log_since: datetime,
    states_current: bool,
) -> ReportedOutcome | None:
    """The action's outcome from the reports received since it began, in arrival order.

    A log entry of the action dated ``log_since`` or later decides (its completion, as the
    confirm activity's look in the log). A ``DEVICE_STATUS`` carries no date, so state reports
    count only when ``states_current`` (the reports were keeping up with the lock when the
    action began), and decide only after one of the action's transitional states was reported
    (evidence it ran): then the end state confirms it, motor blocked fails it. An end state
    alone (the lock may have been there before, or the report is an old one delivered late)
    waits for the log or for polling.
    """
    seen_running = False
    state: int | None = None
    for report in reports:
        if report.kind is LockEventKind.LOG and report.log is not None:
            entry = report.log
            if log_entry_counts(entry.action, entry.date, spec.code, log_since):
                completion = entry.state
                return ReportedOutcome(verdict_of(completion), state, True, completion)
            continue
        if not states_current or report.kind is not LockEventKind.STATUS or report.state is None:
            continue
        snapshot = LockSnapshot(
            lock_type=before.lock_type,
            server_state=report.server_state if report.server_state is not None else 0,
            state=report.state.state,
            mode=report.state.mode,
            pending=report.state.operation_id is not None,
        )
        state = snapshot.state
        judged = assess(spec, before, snapshot, seen_running)
        if judged is Assessment.RUNNING:
            seen_running = True
        elif seen_running and judged is Assessment.DONE:
            return ReportedOutcome(Verdict.DONE, state, False)
        elif seen_running and judged is Assessment.BLOCKED:
            return ReportedOutcome(Verdict.BLOCKED, state, False)
    return None
