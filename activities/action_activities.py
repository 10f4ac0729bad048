"""Activities that send lock actions and confirm them through the Nuki Web API.

Two activities, methods of :class:`ActionActivities` (which owns the one shared
:class:`NukiClient`):

``nuki.action.send`` — never sends late, never sends twice. Right before the POST it checks
the clock against the action's ``not_after`` and the lock's ``serverState`` (an action sent to
an offline lock may be held by the cloud and run when the lock is back, hours later). A retry
after an attempt whose POST may have reached Nuki without a clear answer (5xx, transport error,
worker gone mid-call) first reads the lock's state and log: an action still running, or one in
the log since the first send attempt, is not sent again (an unlatch sent twice opens the door
twice). 423 and other retryable refusals are retried by the activity's retry policy, whose
schedule-to-close is the time left before the deadline.

``nuki.action.confirm`` — polls ``GET /smartlock/{id}`` until the lock shows the action's end
state, with a schedule learned from this lock (see :func:`poll_offsets`), then falls back to the
lock's log; after the fast window it hands over to slow retry-policy polling, like
:mod:`activities.polling`.

``nuki.action.look`` — what the lock's log and state say about an action whose send may have
reached Nuki without the workflow learning the outcome (an attempt that never reported back,
a confirmation that ran out of time): looks once, or keeps looking until an instant, and
returns the log entry if there is one, with the last state read.

Progress crosses attempts in heartbeat details (Temporal keeps the last heartbeat of an attempt,
also when it fails) and reaches the workflow in the details of the last failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from nukiflow.activities.failures import (
    DEADLINE_PASSED,
    LOCK_OFFLINE,
    final,
    pending,
    to_application_error,
)
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.activities.nuki_errors import NukiError, NukiLockedError, NukiRateLimitedError
from nukiflow.contracts.action import ActionName, ActionSpec, spec_of, state_name, supported
from nukiflow.contracts.timing import PollTiming
from nukiflow.contracts.wire import LockState, ServerState, Smartlock, SmartlockAction, SmartlockLog

# Error types the lock workflow looks at (ApplicationError.type), beside those of failures.py.
ACTION_NOT_SUPPORTED = "ActionNotSupported"
ACTION_RUNNING = "ActionRunning"
ACTION_UNCONFIRMED = "ActionUnconfirmed"

# Log entries read when looking for an action (newest first; one lock's recent actions).
LOG_LIMIT = 20

P = TypeVar("P", bound=BaseModel)


def utcnow() -> datetime:
    return datetime.now(UTC)


class LockSnapshot(BaseModel):
    """The parts of ``GET /smartlock/{id}`` an action is judged by."""

    lock_type: int
    server_state: int
    state: int | None
    mode: int | None
    # An operationId is set on the lock or its state: an operation is queued or running.
    pending: bool

    @classmethod
    def of(cls, lock: Smartlock) -> LockSnapshot:
        state = lock.state
        return cls(
            lock_type=lock.type,
            server_state=lock.server_state,
            state=None if state is None else state.state,
            mode=None if state is None else state.mode,
            pending=lock.operation_id is not None
            or (state is not None and state.operation_id is not None),
        )

    @property
    def online(self) -> bool:
        return self.server_state == ServerState.ONLINE

    @property
    def name(self) -> str:
        return state_name(self.state, self.lock_type) or "unknown"


class LogMatch(BaseModel):
    """A log entry taken to be the action in question."""

    log_id: str
    completion: int
    trigger: int
    date: datetime


def find_in_log(logs: list[SmartlockLog], code: int, since: datetime) -> LogMatch | None:
    """The oldest entry of action ``code`` dated ``since`` or later (``logs`` newest first).

    Any trigger counts: the check runs only when our own POST may have reached the lock, and
    mistaking another's identical action for ours is the safe error (no second door opening).
    """
    found: SmartlockLog | None = None
    for entry in logs:
        date = entry.date if entry.date.tzinfo is not None else entry.date.replace(tzinfo=UTC)
        if entry.action == code and date >= since:
            found = entry
    if found is None:
        return None
    return LogMatch(log_id=found.id, completion=found.state, trigger=found.trigger, date=found.date)


# -- send -----------------------------------------------------------------------------------


class SendProgress(BaseModel):
    """Carried across send attempts (heartbeat details) and to the workflow (failure details)."""

    requests: int = 0
    posts: int = 0
    # An earlier POST may have reached Nuki without a clear answer.
    maybe_sent: bool = False
    lock_type: int | None = None
    # Why the last attempt could not send (423, offline, ...): the reason of an expiry.
    last_refusal: str | None = None
    # The attempt whose end wrote these details. Heartbeats travel asynchronously: a worker
    # killed right after its POST may leave older details (or none), so a retry that does not
    # find its predecessor's closing details must assume that POST went out.
    closed_attempt: int = 0


class SendActionInput(BaseModel):
    smartlock_id: int
    action: ActionName
    option: int = 0
    # Nothing is sent after this instant.
    not_after: datetime
    # Log entries of this action since then count as an earlier attempt's (see find_in_log).
    log_since: datetime


class SendActionResult(BaseModel):
    # The lock right before the POST (or the check that found the action already done).
    before: LockSnapshot
    # When Nuki accepted this activity's POST (204); None when ``executed`` is set.
    sent_at: datetime | None
    # The action of an earlier attempt, found in the lock's log: it is not sent again.
    executed: LogMatch | None = None
    requests: int
    posts: int


# -- confirm --------------------------------------------------------------------------------


class Verdict(StrEnum):
    DONE = "done"  # the lock reached the end state (or the log says success)
    BLOCKED = "blocked"  # motor blocked (state 254 or log completion 1)
    FAILED = "failed"  # the log reports another completion (canceled, busy, ...)


class Assessment(StrEnum):
    WAITING = "waiting"  # not started (or someone else moved the lock)
    RUNNING = "running"  # pending operation or a transitional state of this action
    DONE = "done"
    BLOCKED = "blocked"
    UNCLEAR = "unclear"  # end state, but it equals the state before and no start was seen


def assess(
    spec: ActionSpec, before: LockSnapshot | None, now: LockSnapshot, seen_running: bool
) -> Assessment:
    """Judge one state read of the lock after the action was sent."""
    if now.pending or (now.state is not None and now.state in spec.transitional):
        return Assessment.RUNNING
    started = seen_running or before is None or (now.state, now.mode) != (before.state, before.mode)
    if not spec.opener and now.state == LockState.MOTOR_BLOCKED:
        return Assessment.BLOCKED if started else Assessment.UNCLEAR
    if now.state == spec.end_state and (spec.end_mode is None or now.mode == spec.end_mode):
        return Assessment.DONE if started else Assessment.UNCLEAR
    return Assessment.WAITING


class ConfirmProgress(BaseModel):
    """Carried across confirm attempts (heartbeat details) and to the workflow on a timeout."""

    requests: int = 0
    seen_running: bool = False
    last: LockSnapshot | None = None


class ConfirmActionInput(BaseModel):
    smartlock_id: int
    action: ActionName
    # The lock right before the POST.
    before: LockSnapshot
    sent_at: datetime
    log_since: datetime
    # Seconds from the 204 to "done" last time (None: nothing learned yet).
    expected_seconds: float | None = None
    # Read once early at this share of ``expected_seconds`` (None: read at it only).
    probe_fraction: float | None = 0.9
    timing: PollTiming


class ConfirmActionResult(BaseModel):
    verdict: Verdict
    state: int | None
    lock_type: int
    by_log: bool
    completion: int | None = None
    observed_at: datetime
    # Seconds from the 204 to the read that showed the outcome.
    done_after: float
    # Decided by a state read of the first attempt: a sample of how long the action takes.
    learnable: bool
    requests: int


# -- look -----------------------------------------------------------------------------------


class LookActionInput(BaseModel):
    smartlock_id: int
    action: ActionName
    # Log entries of this action since then count as ours (see find_in_log).
    log_since: datetime
    # Keep looking until this instant while the log does not show the action (the last look
    # is made at it); None: look once.
    until: datetime | None = None
    timing: PollTiming


class LookActionResult(BaseModel):
    # The action in the lock's log (None: not there, or the log could not be read).
    match: LogMatch | None
    # The last state read (None: no read answered).
    last: LockSnapshot | None
    # The last read showed an operation pending or one of the action's transitional states.
    running: bool
    looked_at: datetime
    requests: int
    # Why the last look could not read the log, or the state (a retryable error).
    log_error: str | None = None
    state_error: str | None = None


class LookProgress(BaseModel):
    """Carried across look attempts (heartbeat details): the requests made so far."""

    requests: int = 0


def poll_offsets(
    expected: float | None, probe_fraction: float | None, start: float, timing: PollTiming
) -> Iterator[float]:
    """When to read the lock's state, in seconds after the 204.

    With an expectation (when this lock typically shows the action done, learned by the
    workflow): a probe at ``probe_fraction`` of it when one is asked for, then one at it. At a
    steady action time that is one read (two with the probe), and probes that hit shorten the
    expectation, so it follows a lock that got faster (misses lengthen it through the reads
    that follow). Without one: the fast schedule of :mod:`activities.polling` from ``start``.
    After either, intervals grow by 1.5 up to ``fast_max_interval_seconds``.
    """
    interval = timing.fast_first_interval_seconds
    if expected is not None:
        if probe_fraction is not None:
            yield expected * probe_fraction
        yield expected
        at = expected
    else:
        at = start
    while True:
        at += interval
        yield at
        interval = min(interval * 1.5, timing.fast_max_interval_seconds)


def _progress(model: type[P]) -> P:
    details = activity.info().heartbeat_details
    if details:
        try:
            return model.model_validate(details[0])
        except (TypeError, ValueError, ValidationError):
            pass
    return model()


def _deadline_passed(progress: SendProgress) -> ApplicationError:
    message = "the action's deadline passed before it could be sent"
    if progress.last_refusal:
        message += f"; the last attempt: {progress.last_refusal}"
    return final(message, DEADLINE_PASSED)


def _with_progress(err: ApplicationError, progress: BaseModel) -> ApplicationError:
    """``err`` as failures.py made it, carrying ``progress`` as its details."""
    activity.heartbeat(progress.model_dump(mode="json"))
    return ApplicationError(
        err.message,
        progress.model_dump(mode="json"),
        type=err.type,
        non_retryable=err.non_retryable,
        next_retry_delay=err.next_retry_delay,
        category=err.category,
    )


class ActionActivities:
    def __init__(self, client: NukiClient) -> None:
        self._client = client

    # -- send -------------------------------------------------------------------------------

    @activity.defn(name="nuki.action.send")
    async def send_action(self, input: SendActionInput) -> SendActionResult:
        """Send the action once, before ``not_after``, to an online lock; or find it done.

        One GET smartlock and one POST normally; after an unclear earlier POST, also the log.
        """
        progress = _progress(SendProgress)
        attempt = activity.info().attempt
        if attempt > 1 and progress.closed_attempt != attempt - 1:
            progress.maybe_sent = True
        try:
            return await self._send(input, progress)
        except NukiError as exc:
            err = to_application_error(exc)
        except ApplicationError as exc:
            err = exc
        if not err.non_retryable:
            progress.last_refusal = err.message
        progress.closed_attempt = attempt
        raise _with_progress(err, progress)

    async def _send(self, input: SendActionInput, progress: SendProgress) -> SendActionResult:
        spec = spec_of(input.action)
        smartlock_id = input.smartlock_id
        if utcnow() >= input.not_after:
            raise _deadline_passed(progress)
        progress.requests += 1
        before = LockSnapshot.of(await self._client.get_smartlock(smartlock_id))
        progress.lock_type = before.lock_type
        why = supported(input.action, before.lock_type)
        if why is not None:
            raise final(f"smartlock {smartlock_id}: {why}", ACTION_NOT_SUPPORTED)
        if not before.online:
            raise pending(
                f"smartlock {smartlock_id} is offline (serverState {before.server_state}); "
                "an action is never sent to an offline lock (the cloud could deliver it late)",
                LOCK_OFFLINE,
            )
        if progress.maybe_sent:
            if before.pending or (before.state is not None and before.state in spec.transitional):
                raise pending(
                    f"an operation is running on smartlock {smartlock_id} and may be this "
                    "action from an earlier attempt; waiting for it to end before deciding",
                    ACTION_RUNNING,
                )
            progress.requests += 1
            logs = await self._client.logs(smartlock_id, action=spec.code, limit=LOG_LIMIT)
            match = find_in_log(logs, spec.code, input.log_since)
            if match is not None:
                activity.logger.info(
                    "%s already reached smartlock %d (log %s): not sending it again",
                    input.action.value,
                    smartlock_id,
                    match.log_id,
                )
                return SendActionResult(
                    before=before,
                    sent_at=None,
                    executed=match,
                    requests=progress.requests,
                    posts=progress.posts,
                )
            # Online, nothing running, nothing logged: the unclear POST never reached the lock.
            progress.maybe_sent = False
        if utcnow() >= input.not_after:
            raise _deadline_passed(progress)
        progress.requests += 1
        progress.posts += 1
        # Should this worker die during the POST, the next attempt must assume it went out.
        activity.heartbeat(progress.model_copy(update={"maybe_sent": True}).model_dump())
        await asyncio.sleep(0)
        try:
            await self._client.action(
                smartlock_id, SmartlockAction(action=spec.code, option=input.option)
            )
        except NukiError as exc:
            # 423 and 429 are refusals before any effect; a 5xx or a lost connection may
            # come after Nuki accepted the action.
            if exc.retryable and not isinstance(exc, NukiLockedError | NukiRateLimitedError):
                progress.maybe_sent = True
            raise
        return SendActionResult(
            before=before,
            sent_at=utcnow(),
            requests=progress.requests,
            posts=progress.posts,
        )

    # -- confirm ----------------------------------------------------------------------------

    @activity.defn(name="nuki.action.confirm")
    async def confirm_action(self, input: ConfirmActionInput) -> ConfirmActionResult:
        """Wait until the lock shows the action done (or blocked); the log decides what the
        state cannot (end state equal to the state before, the lock moved on since)."""
        progress = _progress(ConfirmProgress)
        try:
            result = await self._confirm(input, progress)
        except NukiError as exc:
            raise _with_progress(to_application_error(exc), progress) from None
        except ApplicationError as err:
            raise _with_progress(err, progress) from None
        return result

    async def _confirm(
        self, input: ConfirmActionInput, progress: ConfirmProgress
    ) -> ConfirmActionResult:
        spec = spec_of(input.action)
        timing = input.timing
        first = activity.info().attempt == 1
        log_checked = False
        if first:
            start = self._elapsed(input)
            window_end = start + timing.fast_window_seconds
            expected = input.expected_seconds
            if expected is not None and expected * (input.probe_fraction or 1.0) > window_end:
                expected = None
            offsets = poll_offsets(expected, input.probe_fraction, start, timing)
            upcoming = next(offsets)
            while upcoming <= window_end:
                offset, upcoming = upcoming, next(offsets)
                if upcoming <= self._elapsed(input):
                    continue  # this read and the next are both due (a late start): read once
                await self._sleep_until(input, offset, progress)
                found, assessment = await self._read(input, spec, progress, learnable=True)
                if found is not None:
                    return found
                if assessment is Assessment.UNCLEAR and not log_checked:
                    log_checked = True
                    found = await self._from_log(input, spec, progress)
                    if found is not None:
                        return found
        else:
            found, _ = await self._read(input, spec, progress, learnable=False)
            if found is not None:
                return found
        if not log_checked:
            found = await self._from_log(input, spec, progress)
            if found is not None:
                return found
        last = progress.last
        seen = "no answer" if last is None else f"{last.name} (serverState {last.server_state})"
        raise pending(
            f"{input.action.value} on smartlock {input.smartlock_id} is not confirmed yet; "
            f"the lock shows {seen}",
            ACTION_UNCONFIRMED,
        )

    # -- look -------------------------------------------------------------------------------

    @activity.defn(name="nuki.action.look")
    async def look_action(self, input: LookActionInput) -> LookActionResult:
        """Read the lock's log (then its state) for the action, until it shows up or until
        ``input.until``. Retryable errors are reported in the result (the next look may
        answer); final ones (401, 403, 404) end the activity."""
        progress = _progress(LookProgress)
        spec = spec_of(input.action)
        interval = input.timing.fast_first_interval_seconds
        # Between looks: at most this long (the slow polling interval of the timing).
        longest = max(interval, input.timing.slow_initial_interval_seconds)
        while True:
            result = await self._look_once(input, spec, progress)
            activity.heartbeat(progress.model_dump(mode="json"))
            if result.match is not None or input.until is None:
                return result
            left = (input.until - utcnow()).total_seconds()
            if left <= 0:
                return result
            await self._pause(min(interval, left), input.timing, progress)
            interval = min(interval * 1.5, longest)

    async def _look_once(
        self, input: LookActionInput, spec: ActionSpec, progress: LookProgress
    ) -> LookActionResult:
        log_error = state_error = None
        match: LogMatch | None = None
        last: LockSnapshot | None = None
        try:
            progress.requests += 1
            logs = await self._client.logs(input.smartlock_id, action=spec.code, limit=LOG_LIMIT)
            match = find_in_log(logs, spec.code, input.log_since)
        except NukiError as exc:
            if not exc.retryable:
                raise _with_progress(to_application_error(exc), progress) from None
            log_error = exc.message
        try:
            progress.requests += 1
            last = LockSnapshot.of(await self._client.get_smartlock(input.smartlock_id))
        except NukiError as exc:
            if not exc.retryable:
                raise _with_progress(to_application_error(exc), progress) from None
            state_error = exc.message
        running = last is not None and (
            last.pending or (last.state is not None and last.state in spec.transitional)
        )
        return LookActionResult(
            match=match,
            last=last,
            running=running,
            looked_at=utcnow(),
            requests=progress.requests,
            log_error=log_error,
            state_error=state_error,
        )

    @staticmethod
    async def _pause(seconds: float, timing: PollTiming, progress: BaseModel) -> None:
        """Sleep, heartbeating at least every third of the heartbeat timeout."""
        step = max(0.05, timing.heartbeat_timeout_seconds / 3)
        while seconds > 0:
            activity.heartbeat(progress.model_dump(mode="json"))
            await asyncio.sleep(min(seconds, step))
            seconds -= step

    def _elapsed(self, input: ConfirmActionInput) -> float:
        return (utcnow() - input.sent_at).total_seconds()

    async def _sleep_until(
        self, input: ConfirmActionInput, offset: float, progress: ConfirmProgress
    ) -> None:
        # Heartbeat at least every third of the heartbeat timeout while waiting.
        step = max(0.05, input.timing.heartbeat_timeout_seconds / 3)
        while True:
            delay = offset - self._elapsed(input)
            if delay <= 0:
                return
            activity.heartbeat(progress.model_dump(mode="json"))
            await asyncio.sleep(min(delay, step))

    async def _read(
        self,
        input: ConfirmActionInput,
        spec: ActionSpec,
        progress: ConfirmProgress,
        *,
        learnable: bool,
    ) -> tuple[ConfirmActionResult | None, Assessment | None]:
        asked = utcnow()
        progress.requests += 1
        try:
            lock = await self._client.get_smartlock(input.smartlock_id)
        except NukiError as exc:
            # A stray 503 or timeout must not end a fast poll; a 404 or 401 does.
            if not exc.retryable:
                raise
            activity.heartbeat(progress.model_dump(mode="json"))
            return None, None
        snapshot = LockSnapshot.of(lock)
        progress.last = snapshot
        assessment = assess(spec, input.before, snapshot, progress.seen_running)
        if assessment is Assessment.RUNNING:
            progress.seen_running = True
        activity.heartbeat(progress.model_dump(mode="json"))
        if assessment is Assessment.DONE or assessment is Assessment.BLOCKED:
            verdict = Verdict.DONE if assessment is Assessment.DONE else Verdict.BLOCKED
            return self._result(
                input, snapshot, verdict, progress, asked, learnable=learnable
            ), assessment
        return None, assessment

    async def _from_log(
        self, input: ConfirmActionInput, spec: ActionSpec, progress: ConfirmProgress
    ) -> ConfirmActionResult | None:
        asked = utcnow()
        progress.requests += 1
        try:
            logs = await self._client.logs(input.smartlock_id, action=spec.code, limit=LOG_LIMIT)
        except NukiError as exc:
            if not exc.retryable:
                raise
            return None
        match = find_in_log(logs, spec.code, input.log_since)
        if match is None:
            return None
        if match.completion == 0:
            verdict = Verdict.DONE
        elif match.completion == 1:
            verdict = Verdict.BLOCKED
        else:
            verdict = Verdict.FAILED
        snapshot = await self._settled_snapshot(input, spec, progress)
        result = self._result(
            input, snapshot or input.before, verdict, progress, asked, learnable=False
        )
        if snapshot is None:
            result.state = None
        result.by_log = True
        result.completion = match.completion
        return result

    async def _settled_snapshot(
        self, input: ConfirmActionInput, spec: ActionSpec, progress: ConfirmProgress
    ) -> LockSnapshot | None:
        """The lock's state to report with a verdict the log gave.

        The last read may predate the log entry (it showed the action still running, or no
        read answered): read once more rather than report a state the lock has left. None
        when that read fails too: an unknown state is better than a stale one.
        """
        last = progress.last
        stale = last is None or last.pending or last.state in spec.transitional
        if not stale:
            return last
        progress.requests += 1
        try:
            lock = await self._client.get_smartlock(input.smartlock_id)
        except NukiError as exc:
            if not exc.retryable:
                raise
            return None
        progress.last = LockSnapshot.of(lock)
        return progress.last

    def _result(
        self,
        input: ConfirmActionInput,
        snapshot: LockSnapshot,
        verdict: Verdict,
        progress: ConfirmProgress,
        asked: datetime,
        *,
        learnable: bool,
    ) -> ConfirmActionResult:
        return ConfirmActionResult(
            verdict=verdict,
            state=snapshot.state,
            lock_type=snapshot.lock_type,
            by_log=False,
            observed_at=asked,
            done_after=max(0.0, (asked - input.sent_at).total_seconds()),
            learnable=learnable and verdict is Verdict.DONE,
            requests=progress.requests,
        )


def progress_from(values: Any, model: type[P]) -> P | None:
    """A progress model from failure or heartbeat details (as the converter hands them over)."""
    for value in values or ():
        try:
            return model.model_validate(value)
        except (TypeError, ValueError, ValidationError):
            continue
    return None
