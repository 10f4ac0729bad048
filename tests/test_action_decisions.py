"""The lock workflow's decisions as plain functions: what Temporal's record of a failed send
proves, the answer each activity result or failure gives, the timing the workflow learns and
sets, and what the Temporal UI shows. No server: failures are built as Temporal hands them over.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    RetryState,
    TimeoutType,
)
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

from nukiflow.activities import failures
from nukiflow.activities.action_matching import confirmed, running, verdict_of
from nukiflow.activities.action_schedule import fast_reads
from nukiflow.activities.nuki_errors import NukiValidationError
from nukiflow.contracts.action import (
    ActionName,
    ActionOutcome,
    ActionRequest,
    ActionStatus,
    ActionTiming,
    LockActionsView,
    LockStatus,
    QueuedAction,
    spec_of,
)
from nukiflow.contracts.action_io import (
    ConfirmActionInput,
    ConfirmActionResult,
    ConfirmProgress,
    LockSnapshot,
    LogMatch,
    LookActionResult,
    SendProgress,
    Verdict,
)
from nukiflow.contracts.action_policies import (
    LOOK_RETRY_CALLS,
    confirm_options,
    look_options,
    send_options,
)
from nukiflow.contracts.names import (
    ACTION_NOT_SUPPORTED_ERROR,
    DEADLINE_PASSED_ERROR,
    NUKI_VALIDATION_ERROR,
    SEND_ACTION_ACTIVITY,
)
from nukiflow.contracts.timing import PollTiming, RetryTiming
from nukiflow.contracts.wire import LockState, LogCompletion
from nukiflow.workflows import action_outcomes as judge
from nukiflow.workflows import action_timing as timing
from nukiflow.workflows.action_outcomes_legacy import (
    confirm_failed_without_look,
    send_failed_by_heartbeat,
)
from nukiflow.workflows.action_record import (
    deadline_reached,
    failure_details,
    innermost,
    unclear_send,
    unsent_proof,
)
from nukiflow.workflows.lock_details import details_text, queued_view

T0 = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)


# -- building failures as Temporal hands them to the workflow ---------------------------------


def _failed(
    cause: BaseException | None,
    *,
    started: int = 0,
    retry_state: RetryState = RetryState.NON_RETRYABLE_FAILURE,
) -> ActivityError:
    """``started``: the event id of the last attempt's start (0: none started since the last
    report), as Temporal records it on the activity's failure."""
    err = ActivityError(
        "Activity task failed",
        scheduled_event_id=5,
        started_event_id=started,
        identity="worker",
        activity_type=SEND_ACTION_ACTIVITY,
        activity_id="1",
        retry_state=retry_state,
    )
    err.__cause__ = cause
    return err


def _reported(message: str, kind: str, progress: Any = None) -> ApplicationError:
    details = () if progress is None else (progress.model_dump(mode="json"),)
    return ApplicationError(message, *details, type=kind)


def _timeout(
    cause: BaseException | None = None,
    kind: TimeoutType = TimeoutType.SCHEDULE_TO_CLOSE,
    heartbeat: tuple[Any, ...] = (),
) -> ActivityTimeoutError:
    timeout = ActivityTimeoutError("activity timeout", type=kind, last_heartbeat_details=heartbeat)
    timeout.__cause__ = cause
    return timeout


def _queued(
    action: ActionName = ActionName.UNLOCK, *, deadline_in: float = 60.0, number: int = 3
) -> QueuedAction:
    request = ActionRequest(
        request_id=f"r-{number}", action=action, deadline_at=T0 + timedelta(seconds=deadline_in)
    )
    return QueuedAction(number=number, request=request, accepted_at=T0)


def _snap(state: int, *, pending: bool = False, online: bool = True) -> LockSnapshot:
    return LockSnapshot(
        lock_type=4, server_state=0 if online else 4, state=state, mode=2, pending=pending
    )


# -- the record of a failed send ----------------------------------------------------------------


def test_a_send_no_attempt_started_is_proven_unsent() -> None:
    err = _failed(_timeout(), retry_state=RetryState.TIMEOUT)
    assert unsent_proof(err) == SendProgress()
    assert deadline_reached(err, None)


def test_an_attempt_that_started_and_never_reported_may_have_sent() -> None:
    err = _failed(_timeout(), started=7, retry_state=RetryState.TIMEOUT)
    assert unsent_proof(err) is None
    assert "started and never reported back" in unclear_send(err)


def test_the_last_report_proves_unsent_only_when_it_says_nothing_went_out() -> None:
    clean = SendProgress(requests=4, last_refusal="423")
    # The next attempt would have started after the deadline: the last report ends it.
    refused = _failed(_reported("locked", "NukiLockedError", clean), retry_state=RetryState.TIMEOUT)
    assert unsent_proof(refused) == clean
    unclear = SendProgress(requests=4, maybe_sent=True)
    late = _failed(_reported("deadline passed", DEADLINE_PASSED_ERROR, unclear))
    assert unsent_proof(late) is None
    assert "the next came after the deadline" in unclear_send(late)
    # A report without progress proves nothing.
    assert unsent_proof(_failed(_reported("boom", "Weird"))) is None


def test_a_report_before_a_timeout_is_the_proof_when_no_attempt_started_after_it() -> None:
    clean = SendProgress(requests=2)
    reported = _failed(_timeout(_reported("offline", "LockOffline", clean)))
    assert unsent_proof(reported) == clean
    # The attempt before the timeout ended without a report (its own start-to-close timeout).
    silent = _failed(_timeout(_timeout(kind=TimeoutType.START_TO_CLOSE)))
    assert unsent_proof(silent) is None
    assert "an earlier attempt ended without a report" in unclear_send(silent)


def test_a_cancelled_send_is_never_proven_unsent() -> None:
    assert unsent_proof(_failed(CancelledError())) is None


def test_innermost_and_details_read_through_the_timeout() -> None:
    progress = SendProgress(requests=3)
    last = _reported("locked", "NukiLockedError", progress)
    timeout = _timeout(last, heartbeat=({"requests": 9},))
    err = _failed(timeout)
    assert innermost(err) == (last, timeout)
    assert failure_details(err) == [progress.model_dump(mode="json"), {"requests": 9}]
    assert not deadline_reached(_failed(last), last)
    assert deadline_reached(_failed(last), _reported("late", DEADLINE_PASSED_ERROR))


# -- answers ------------------------------------------------------------------------------------


def test_never_sent_reasons_tell_late_takeup_from_waiting_in_line() -> None:
    late = _queued(deadline_in=-1.0)
    assert judge.never_sent_reason(late) == (
        "its deadline (07:59:59.0 UTC) had passed when the lock's workflow took it up at "
        "08:00:00.0 UTC (no worker could take it sooner); it was never sent and will not be"
    )
    waiting = _queued(deadline_in=5.0)
    assert judge.never_sent_reason(waiting, 2) == (
        "its deadline (08:00:05.0 UTC) passed while it waited in line behind 2 earlier "
        "action(s); it was never sent and will not be"
    )
    assert "waited in line;" in judge.never_sent_reason(waiting, 0)


def test_a_proven_unsent_send_is_rejected_expired_or_failed() -> None:
    proof = SendProgress(requests=2)
    for kind in (ACTION_NOT_SUPPORTED_ERROR, NUKI_VALIDATION_ERROR):
        err = _failed(_reported("no such thing", kind))
        assert judge.unsent(err, proof, 1) == judge.Answer(
            ActionStatus.REJECTED, reason="no such thing", api_requests=2
        )
    expired = judge.unsent(_failed(_reported("too late", DEADLINE_PASSED_ERROR)), proof, 1)
    assert expired.status is ActionStatus.EXPIRED
    assert (
        expired.reason
        == "not sent before its deadline (too late); it was never sent and will not be"
    )
    assert expired.state == 1
    failed = judge.unsent(_failed(_reported("forbidden", "NukiForbiddenError")), proof, None)
    assert failed.status is ActionStatus.FAILED
    assert failed.reason == "sending the action failed: forbidden; it was never sent"


def test_a_confirmation_answers_from_state_or_log() -> None:
    def done(verdict: Verdict, **more: Any) -> ConfirmActionResult:
        fields: dict[str, Any] = {
            "verdict": verdict,
            "state": LockState.UNLOCKED,
            "lock_type": 4,
            "by_log": False,
            "observed_at": T0,
            "done_after": 1.23456,
            "learnable": True,
            "requests": 2,
        }
        return ConfirmActionResult(**(fields | more))

    ok = judge.from_confirmation("unlock", 42, done(Verdict.DONE), sent_requests=2, sent_at=T0)
    assert ok == judge.Answer(
        ActionStatus.CONFIRMED,
        state=LockState.UNLOCKED,
        seconds=1.235,
        sent_at=T0,
        api_requests=4,
        confirmed_by="state",
    )
    blocked = judge.from_confirmation(
        "unlock", 42, done(Verdict.BLOCKED, state=254), sent_requests=2, sent_at=T0
    )
    assert blocked.status is ActionStatus.FAILED
    assert blocked.reason == (
        "motor blocked: smartlock 42 could not complete unlock (state 254); check the door and "
        "the bolt"
    )
    canceled = judge.from_confirmation(
        "unlock",
        42,
        done(Verdict.FAILED, by_log=True, completion=LogCompletion.CANCELED),
        sent_requests=1,
        sent_at=T0,
    )
    assert canceled.reason == "the lock's log reports unlock ended canceled"
    assert canceled.confirmed_by == "log"
    assert judge.completion_text(None) == "without a completion state"
    assert judge.completion_text(77) == "with completion state 77"


def test_a_look_answers_from_the_log_entry_or_says_what_it_saw() -> None:
    since = T0 - timedelta(seconds=2)
    entry = LogMatch(log_id="l1", completion=0, trigger=0, date=T0)

    def look(**more: Any) -> LookActionResult:
        fields: dict[str, Any] = {
            "match": None,
            "last": _snap(LockState.LOCKED),
            "running": False,
            "looked_at": T0 + timedelta(seconds=30),
            "requests": 2,
        }
        return LookActionResult(**(fields | more))

    found = judge.from_look(
        "unlock", look(match=entry, running=True), None, since, unclear="x", requests=3
    )
    # Running: the state read is not the action's end, so no state is reported.
    assert found == judge.Answer(
        ActionStatus.CONFIRMED, state=None, api_requests=5, confirmed_by="log"
    )
    unknown = judge.from_look("unlock", look(), None, since, unclear="it was sent", requests=3)
    assert unknown.status is ActionStatus.UNKNOWN
    assert unknown.reason == (
        "may have run: it was sent; at 08:00:30.0 UTC the lock's log showed no unlock since "
        "07:59:58.0 UTC; the lock showed locked with nothing pending. Look at the lock before "
        "sending it again"
    )
    assert unknown.state == LockState.LOCKED
    offline = judge.seen("unlock", look(last=_snap(1, online=False), log_error="503"), None, since)
    assert "the lock's log could not be read (503)" in offline
    assert "the lock was offline (serverState 4)" in offline
    failed = judge.from_look(
        "unlock", None, "reading the lock's log failed: 401", since, unclear="u", requests=1
    )
    assert failed.reason == (
        "may have run: u; reading the lock's log failed: 401. Look at the lock before sending "
        "it again"
    )
    assert failed.api_requests == 1


def test_an_unseen_confirmation_says_when_nuki_accepted_it() -> None:
    progress = ConfirmProgress(requests=5, seen_running=True, last=_snap(LockState.UNLOCKING))
    err = _failed(_timeout(), retry_state=RetryState.TIMEOUT)
    assert judge.unclear_confirmation(err, progress, T0) == (
        "Nuki accepted it at 08:00:00.0 UTC and it was not seen completed by the deadline; the "
        "lock last showed unlocking after it had started"
    )


def test_the_lock_status_follows_the_last_action_that_was_not_rejected() -> None:
    def outcome(status: ActionStatus) -> ActionOutcome:
        return ActionOutcome(
            status=status, request_id=status.value, smartlock_id=1, action=ActionName.LOCK
        )

    assert judge.settled_status([]) is LockStatus.IDLE
    assert judge.settled_status([outcome(ActionStatus.REJECTED)]) is LockStatus.IDLE
    history = [outcome(ActionStatus.UNKNOWN), outcome(ActionStatus.REJECTED)]
    assert judge.settled_status(history) is LockStatus.UNKNOWN


def test_an_answer_becomes_the_callers_outcome() -> None:
    queued = _queued(ActionName.OPEN)
    answer = judge.Answer(ActionStatus.CONFIRMED, state=5, api_requests=3, confirmed_by="state")
    outcome = judge.outcome(answer, queued, 9, 2, "nuki-lock-9")
    assert outcome.state_name == "open"
    assert (outcome.request_id, outcome.number, outcome.deadline) == ("r-3", 3, queued.deadline)


def test_runs_before_the_record_patch_answer_from_the_reported_progress() -> None:
    maybe = SendProgress(requests=3, maybe_sent=True)
    late = _failed(_reported("late", DEADLINE_PASSED_ERROR))
    assert send_failed_by_heartbeat(late, maybe, 1).status is ActionStatus.FAILED
    assert send_failed_by_heartbeat(late, SendProgress(), 1).status is ActionStatus.EXPIRED
    rejected = _failed(_reported("bad", NUKI_VALIDATION_ERROR))
    assert send_failed_by_heartbeat(rejected, maybe, 1).status is ActionStatus.REJECTED
    offline = ConfirmProgress(requests=2, last=_snap(LockState.LOCKED, online=False))
    answer = confirm_failed_without_look(
        _failed(_timeout(), retry_state=RetryState.TIMEOUT),
        offline,
        sent_requests=2,
        sent_at=T0,
    )
    assert answer.status is ActionStatus.FAILED
    assert answer.api_requests == 4
    assert answer.reason is not None
    assert answer.reason.startswith("unconfirmed: sent at 08:00:00 UTC (Nuki accepted it)")
    assert "was offline (serverState 4)" in answer.reason


# -- timing -------------------------------------------------------------------------------------


def test_learned_times_are_medians_and_fall_back_to_the_quickest() -> None:
    samples: timing.Samples = {}
    for seconds in (2.0, 9.0, 2.2, 2.1):
        timing.add_sample(samples, "unlock", seconds, kept=3)
    assert samples["unlock"] == [9.0, 2.2, 2.1]
    timing.add_sample(samples, "lock", 1.23456, kept=3)
    assert timing.learned(samples) == {"lock": 1.235, "unlock": 2.2}
    assert timing.expected_seconds(samples, "unlock") == 2.2
    assert timing.expected_seconds(samples, "unlatch") == 1.235
    assert timing.expected_seconds({}, "unlatch") is None


def test_every_fourth_action_probes_early() -> None:
    settings = ActionTiming(probe_fraction=0.8, probe_every=4)
    assert [timing.probe_fraction(settings, n) for n in (3, 4, 5, 8)] == [None, 0.8, None, 0.8]


def test_the_log_window_and_the_instants_that_bound_an_action() -> None:
    settings = ActionTiming(log_clock_skew_seconds=2.0, settle_grace_seconds=30.0)
    assert timing.log_window_start(T0, settings, None) == T0 - timedelta(seconds=2)
    settled = T0 - timedelta(seconds=1)
    assert timing.log_window_start(T0, settings, settled) == settled
    poll = PollTiming(fast_window_seconds=20.0)
    deadline = T0 + timedelta(seconds=5)
    assert timing.confirm_until(deadline, T0, poll) == T0 + timedelta(seconds=20)
    assert timing.confirm_until(T0 + timedelta(minutes=5), T0, poll) == T0 + timedelta(minutes=5)
    later = T0 + timedelta(seconds=10)
    assert timing.settle_until(deadline, later, settings) == later + timedelta(seconds=30)


def test_activity_options_follow_the_settings_and_the_deadline() -> None:
    settings = ActionTiming(call_timeout_seconds=30.0, report_margin_seconds=5.0)
    retry = RetryTiming()
    send = send_options(settings, retry, T0 + timedelta(seconds=60), T0)
    assert (send.start_to_close, send.schedule_to_close) == (
        timedelta(seconds=30),
        timedelta(seconds=65),
    )
    assert send.retry_policy.backoff_coefficient == retry.backoff
    short_calls = ActionTiming(call_timeout_seconds=2.0, report_margin_seconds=5.0)
    capped = send_options(short_calls, retry, T0 + timedelta(seconds=60), T0)
    assert capped.schedule_to_close == timedelta(seconds=62)  # at most one call past it
    poll = PollTiming(fast_window_seconds=20.0, heartbeat_timeout_seconds=15.0)
    confirm = confirm_options(settings, poll, T0 + timedelta(seconds=50), T0)
    assert confirm.start_to_close == timedelta(seconds=50)
    assert confirm.schedule_to_close == timedelta(seconds=50)
    assert confirm.heartbeat == timedelta(seconds=15)
    once = look_options(settings, poll, retry, None, T0)
    assert once.start_to_close == timedelta(seconds=30)
    assert once.schedule_to_close == timedelta(seconds=30 * (1 + LOOK_RETRY_CALLS))
    until = look_options(settings, poll, retry, T0 + timedelta(seconds=10), T0)
    assert until.start_to_close == timedelta(seconds=40)
    gone = look_options(settings, poll, retry, T0 - timedelta(seconds=10), T0)
    assert gone.start_to_close == timedelta(seconds=30)


def test_the_fast_reads_drop_an_expectation_beyond_the_window() -> None:
    poll = PollTiming(fast_window_seconds=1.0, fast_first_interval_seconds=0.25)
    reads = list(fast_reads(0.5, 0.9, 0.0, poll))
    assert [round(offset, 3) for offset, _ in reads] == [0.45, 0.5, 0.75]
    # Each read comes with the one after it, so a late caller can skip a read that is due.
    assert [round(following, 3) for _, following in reads][:2] == [0.5, 0.75]
    beyond = list(fast_reads(5.0, 0.9, 0.0, poll))
    assert [round(offset, 3) for offset, _ in beyond] == [0.25, 0.625]


def test_log_verdicts_and_running_states() -> None:
    assert [verdict_of(c) for c in (0, 1, 2, 9)] == [
        Verdict.DONE,
        Verdict.BLOCKED,
        Verdict.FAILED,
        Verdict.FAILED,
    ]
    unlock = spec_of(ActionName.UNLOCK)
    assert running(unlock, _snap(LockState.UNLOCKING))
    assert running(unlock, _snap(LockState.LOCKED, pending=True))
    assert not running(unlock, _snap(LockState.LOCKED))
    before = _snap(LockState.LOCKED)
    sent = ConfirmActionInput(
        smartlock_id=1,
        action=ActionName.UNLOCK,
        before=before,
        sent_at=T0,
        log_since=T0,
        timing=PollTiming(),
    )
    blocked = confirmed(
        sent,
        _snap(254),
        Verdict.BLOCKED,
        asked=T0 + timedelta(seconds=2),
        requests=3,
        learnable=True,
    )
    assert (blocked.done_after, blocked.learnable) == (2.0, False)  # only "done" is a sample


# -- what the UI shows ----------------------------------------------------------------------------


def test_current_details_show_the_lock_its_queue_and_the_last_outcome() -> None:
    current = queued_view(_queued(ActionName.UNLOCK, number=4)).model_copy(
        update={"step": "confirming"}
    )
    waiting = [queued_view(_queued(ActionName.LOCK, number=n)) for n in range(5, 17)]
    last = ActionOutcome(
        status=ActionStatus.CONFIRMED,
        request_id="r-3",
        smartlock_id=7,
        action=ActionName.LOCK,
        number=3,
        seconds=1.5,
        api_requests=3,
    )
    view = LockActionsView(
        smartlock_id=7,
        status=LockStatus.ACTING,
        lock_type=4,
        last_state=1,
        last_state_name="locked",
        current=current,
        queue=waiting,
        action_counter=16,
        learned_seconds={"lock": 1.5},
        last_outcomes=[last],
        history_length=40,
    )
    assert details_text(view).split("\n\n") == [
        "**Smartlock** `7` · **status:** acting · actions: 16",
        "**Last seen state:** locked",
        "**Now:** #4 unlock (confirming), send before 08:01:00 UTC",
        "**Waiting:** " + ", ".join(f"#{n} lock" for n in range(5, 15)) + " and 2 more",
        "**Last outcome:** #3 lock confirmed in 1.50 s (3 API requests)",
        "**Action times learned:** lock 1.50 s",
    ]


# -- names and layering -------------------------------------------------------------------------


def test_error_types_the_workflow_tells_apart_are_what_the_activities_raise() -> None:
    assert failures.DEADLINE_PASSED == DEADLINE_PASSED_ERROR
    # Client errors become failures typed after their class (activities/failures.py).
    assert NukiValidationError.__name__ == NUKI_VALIDATION_ERROR


@pytest.mark.parametrize(
    "module",
    [
        "nukiflow.workflows.lock_actions",
        "nukiflow.contracts.action_io",
        "nukiflow.contracts.action_policies",
    ],
)
def test_the_lock_workflow_loads_without_the_activities_or_httpx(module: str) -> None:
    # A fresh interpreter: this one has long imported both.
    code = (
        f"import sys, {module}; "
        "bad = sorted(m for m in sys.modules "
        "if m == 'httpx' or m.startswith(('httpx.', 'nukiflow.activities'))); "
        "print(','.join(bad))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert found == ""
