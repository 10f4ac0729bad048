"""Activities that send lock actions and confirm them through the Nuki Web API.

Three activities, methods of :class:`ActionActivities` (which owns the one shared
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
state, with a schedule learned from this lock (see :mod:`activities.action_schedule`), then
falls back to the lock's log; after the fast window it hands over to slow retry-policy
polling, like :mod:`activities.polling`.

``nuki.action.look`` — what the lock's log and state say about an action whose send may have
reached Nuki without the workflow learning the outcome (an attempt that never reported back,
a confirmation that ran out of time): looks once, or keeps looking until an instant, and
returns the log entry if there is one, with the last state read.

Progress crosses attempts in heartbeat details (Temporal keeps the last heartbeat of an attempt,
also when it fails) and reaches the workflow in the details of the last failure
(:mod:`activities.action_progress`). What a log entry or a state read says about the action is
judged in :mod:`activities.action_matching`; inputs and results are those of
:mod:`nukiflow.contracts.action_io`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from nukiflow.activities.action_matching import (
    LOG_LIMIT,
    Assessment,
    assess,
    confirmed,
    find_in_log,
    running,
    verdict_of,
)
from nukiflow.activities.action_progress import (
    LookProgress,
    deadline_passed,
    pause,
    resumed,
    sleep_until,
    with_progress,
)
from nukiflow.activities.action_schedule import fast_reads, seconds_since
from nukiflow.activities.failures import LOCK_OFFLINE, final, pending, to_application_error
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.activities.nuki_errors import NukiError, NukiLockedError, NukiRateLimitedError
from nukiflow.contracts.action import ActionSpec, spec_of, supported
from nukiflow.contracts.action_io import (
    ConfirmActionInput,
    ConfirmActionResult,
    ConfirmProgress,
    LockSnapshot,
    LogMatch,
    LookActionInput,
    LookActionResult,
    SendActionInput,
    SendActionResult,
    SendProgress,
    Verdict,
)
from nukiflow.contracts.names import (
    ACTION_NOT_SUPPORTED_ERROR,
    CONFIRM_ACTION_ACTIVITY,
    LOOK_ACTION_ACTIVITY,
    SEND_ACTION_ACTIVITY,
)
from nukiflow.contracts.wire import SmartlockAction

# Error types of the retryable failures that poll through the retry policy (the workflow does
# not tell them apart; they name the wait in the activity's history).
ACTION_RUNNING = "ActionRunning"
ACTION_UNCONFIRMED = "ActionUnconfirmed"


def utcnow() -> datetime:
    return datetime.now(UTC)


class ActionActivities:
    def __init__(self, client: NukiClient, *, webhooks: bool = False) -> None:
        """``webhooks``: this deployment receives the lock's webhooks (told to the workflow
        with the send, so it may wait for the lock's reports instead of polling at once)."""
        self._client = client
        self._webhooks = webhooks

    # -- send -------------------------------------------------------------------------------

    @activity.defn(name=SEND_ACTION_ACTIVITY)
    async def send_action(self, input: SendActionInput) -> SendActionResult:
        """Send the action once, before ``not_after``, to an online lock; or find it done.

        One GET smartlock and one POST normally; after an unclear earlier POST, also the log.
        """
        progress = resumed(SendProgress)
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
        raise with_progress(err, progress)

    async def _send(self, input: SendActionInput, progress: SendProgress) -> SendActionResult:
        spec = spec_of(input.action)
        smartlock_id = input.smartlock_id
        if utcnow() >= input.not_after:
            raise deadline_passed(progress)
        progress.requests += 1
        before = LockSnapshot.of(await self._client.get_smartlock(smartlock_id))
        progress.lock_type = before.lock_type
        progress.lock_name = before.lock_name
        why = supported(input.action, before.lock_type)
        if why is not None:
            raise final(f"smartlock {smartlock_id}: {why}", ACTION_NOT_SUPPORTED_ERROR)
        if not before.online:
            raise pending(
                f"smartlock {smartlock_id} is offline (serverState {before.server_state}); "
                "an action is never sent to an offline lock (the cloud could deliver it late)",
                LOCK_OFFLINE,
            )
        if progress.maybe_sent:
            if running(spec, before):
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
            raise deadline_passed(progress)
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
            webhooks=self._webhooks,
        )

    # -- confirm ----------------------------------------------------------------------------

    @activity.defn(name=CONFIRM_ACTION_ACTIVITY)
    async def confirm_action(self, input: ConfirmActionInput) -> ConfirmActionResult:
        """Wait until the lock shows the action done (or blocked); the log decides what the
        state cannot (end state equal to the state before, the lock moved on since)."""
        progress = resumed(ConfirmProgress)
        try:
            result = await self._confirm(input, progress)
        except NukiError as exc:
            raise with_progress(to_application_error(exc), progress) from None
        except ApplicationError as err:
            raise with_progress(err, progress) from None
        return result

    async def _confirm(
        self, input: ConfirmActionInput, progress: ConfirmProgress
    ) -> ConfirmActionResult:
        spec = spec_of(input.action)
        timing = input.timing
        first = activity.info().attempt == 1
        log_checked = False
        if first:

            def elapsed() -> float:
                return seconds_since(input.sent_at, utcnow())

            reads = fast_reads(input.expected_seconds, input.probe_fraction, elapsed(), timing)
            for offset, following in reads:
                if following <= elapsed():
                    continue  # this read and the next are both due (a late start): read once
                await sleep_until(offset, elapsed, timing, progress)
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

    @activity.defn(name=LOOK_ACTION_ACTIVITY)
    async def look_action(self, input: LookActionInput) -> LookActionResult:
        """Read the lock's log (then its state) for the action, until it shows up or until
        ``input.until``. Retryable errors are reported in the result (the next look may
        answer); final ones (401, 403, 404) end the activity."""
        progress = resumed(LookProgress)
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
            await pause(min(interval, left), input.timing, progress)
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
                raise with_progress(to_application_error(exc), progress) from None
            log_error = exc.message
        try:
            progress.requests += 1
            last = LockSnapshot.of(await self._client.get_smartlock(input.smartlock_id))
        except NukiError as exc:
            if not exc.retryable:
                raise with_progress(to_application_error(exc), progress) from None
            state_error = exc.message
        return LookActionResult(
            match=match,
            last=last,
            running=last is not None and running(spec, last),
            looked_at=utcnow(),
            requests=progress.requests,
            log_error=log_error,
            state_error=state_error,
        )

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
            result = confirmed(
                input,
                snapshot,
                verdict,
                asked=asked,
                requests=progress.requests,
                learnable=learnable,
            )
            return result, assessment
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
        snapshot = await self._settled_snapshot(input, spec, progress)
        result = confirmed(
            input,
            snapshot or input.before,
            verdict_of(match.completion),
            asked=asked,
            requests=progress.requests,
            learnable=False,
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
        if last is not None and not running(spec, last):
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
