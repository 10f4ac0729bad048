"""One write round of the authorization entity: write the change, settle it, hand back the
auth as the lock holds it after (compared by :mod:`nukiflow.workflows.auth_entity`).

Workflow code (deterministic, no I/O), split from the entity, which inherits this. Two paths:

- The path of runs from before ``FAST_WRITE_PATCH``: ``nuki.auth.write`` (its retry policy
  rides out 423, 429, 5xx and an offline lock), then the settling of
  :mod:`nukiflow.workflows.auth_completion` (``nuki.auth.await``, or one read and the lock's
  report), with the entity's watch running from the start of the change.
- The fast path: ``nuki.auth.write_settle`` writes and settles in one attempt (see
  :mod:`activities.auth_write_settle`). Settled: that is the round (one activity, no timer:
  the watch never starts). Written but not settled: the settling goes on as above from what the
  attempt saw (never writing again), and the watch starts. Not written, or the attempt failed
  (its fate unknown: a worker killed, a timeout): the first path's write, settling and watch,
  the write told that an earlier attempt may have been accepted when that is so (a delete's
  404 is then checked against the lock's listing). The first round of an entity's first
  change may take the attempt made with its base read instead
  (:mod:`nukiflow.workflows.auth_first_write`). What the attempt saw (a 423, the lock
  offline, an operation still pending after the window) goes into the details at once, so an
  operator sees why a change waits after one fast window, as before.

A worker killed at any line: the attempt's heartbeat stops and its timeout sends the entity
down the first path as if the write might have gone out. The rewrite is the same full auth
(Nuki replaces the auth: sending it twice leaves the same auth), a ``423`` on it is this
change's own first write still pending and is retried until it is accepted, and a delete's
``404`` is the first delete having worked when the listing no longer shows the auth. An
attempt that never started (no worker took it up by the change's deadline, or one that does
not know the activity, during a rolling deploy) sent nothing.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError, TimeoutType

with workflow.unsafe.imports_passed_through():
    import nukiflow.workflows.auth_calls as calls
    import nukiflow.workflows.auth_details as say
    from nukiflow.contracts.activity_errors import LOCK_OFFLINE, LOCKED
    from nukiflow.contracts.auth import AuthFields
    from nukiflow.contracts.auth_io import (
        AwaitAuthResult,
        WriteAuthInput,
        WriteAuthResult,
        WriteSettleAuthInput,
        WriteSettleAuthResult,
        WriteSettleStatus,
    )
    from nukiflow.contracts.entity import PendingChange
    from nukiflow.contracts.wire import SmartlockAuth
    from nukiflow.workflows.auth_completion import EntityCompletion
    from nukiflow.workflows.auth_watch import start_watch
    from nukiflow.workflows.completion import healthy
    from nukiflow.workflows.failure_reasons import describe_activity_failure

# Marks runs whose write rounds start with the fast path (runs before it wrote, then settled,
# in activities of their own, and watched every change from its start).
FAST_WRITE_PATCH = "auth-write-settled-in-one-activity"
WRITING_STEP = "writing the change"
WAITING_STEP = "waiting for the lock to apply the change"
# The type of the failure a worker gives an activity it does not know (Temporal's Python SDK).
UNKNOWN_ACTIVITY = "NotFoundError"


@dataclass(frozen=True)
class Round:
    """What one write round did: the auth after it (``settled``), or why it failed."""

    settled: AwaitAuthResult | None = None
    writes: int = 0
    reads: int = 0
    failure: str | None = None


class Fate(enum.Enum):
    """What a failed fast attempt tells about its write."""

    # A final error (no retry can help): the change fails with it, as a write would.
    FINAL = "final"
    # It never ran: nothing was sent.
    NOT_SENT = "not_sent"
    # Killed, timed out or broken somewhere: the write may have gone out.
    UNKNOWN = "unknown"


def fate_of(err: ActivityError) -> Fate:
    cause = err.cause
    if isinstance(cause, ApplicationError):
        if cause.non_retryable:
            return Fate.FINAL
        if cause.type == UNKNOWN_ACTIVITY:
            return Fate.NOT_SENT
    if isinstance(cause, TimeoutError) and cause.type is TimeoutType.SCHEDULE_TO_START:
        return Fate.NOT_SENT
    return Fate.UNKNOWN


def writing_step(round_: int) -> str:
    return say.WRITING if round_ == 0 else f"{say.WRITING} again ({round_ + 1})"


class EntityWriteRound(EntityCompletion):
    # This run writes through the fast path (FAST_WRITE_PATCH; set by the main loop).
    _fast: bool = False
    # The watch over the change being written (None: not started).
    _watch: asyncio.Task[None] | None = None
    # The first change's attempt (nukiflow.workflows.auth_first_write), taken by the first
    # round of its write in place of a fast attempt of its own: what it did, or that its fate
    # is unknown (the retried write follows, told so). Cleared once a segment ends.
    _first_attempt: WriteSettleAuthResult | None = None
    _first_unclear: bool = False

    def _holds_first_attempt(self) -> bool:
        return self._first_attempt is not None or self._first_unclear

    def _ensure_watch(self) -> None:
        if self._watch is None:
            self._watch = start_watch(
                self._input.smartlock_id,
                self._input.auth_id,
                self._input.timing,
                self._notes,
                self._show_details,
                self._input.account,
            )

    def _write_input(
        self, target: AuthFields | None, deadline: datetime, round_: int
    ) -> WriteAuthInput:
        return WriteAuthInput(
            smartlock_id=self._input.smartlock_id,
            auth_id=self._input.auth_id,
            desired=target,
            not_after=deadline,
            check_online=round_ > 0,
            after_accepted_write=round_ > 0,
        )

    async def _classic_round(
        self, pending: PendingChange, target: AuthFields | None, deadline: datetime, round_: int
    ) -> Round:
        """The write activity with its retry policy, then the settling."""
        self._begin_step(writing_step(round_))
        try:
            written = await calls.write_auth(
                self._write_input(target, deadline, round_),
                self._input.timing,
                remaining=deadline - workflow.now(),
                summary=f"{pending.change.kind.value} #{pending.number}, write {round_ + 1}",
                account=self._input.account,
            )
        except ActivityError as err:
            return Round(failure=describe_activity_failure(err, WRITING_STEP))
        return await self._settle_round(pending, deadline, written)

    async def _settle_round(
        self,
        pending: PendingChange,
        deadline: datetime,
        written: WriteAuthResult,
        *,
        marked: SmartlockAuth | None = None,
        reads: int = 0,
    ) -> Round:
        """Settle an accepted write (``reads``: made already and not counted by the
        settling)."""
        self._begin_step(say.WAITING)
        try:
            # From the lock's report when it comes in time, else by polling.
            settled = await self._settle(pending, deadline, written, marked)
        except ActivityError as err:
            # This round's write was accepted and is still pending: offline, Nuki may hold it
            # and apply it when the lock is back.
            reason = describe_activity_failure(err, WAITING_STEP) + say.ACCEPTED_BUT_PENDING
            return Round(failure=reason, writes=1, reads=reads)
        return Round(settled=settled, writes=1, reads=reads + settled.reads)

    async def _fast_round(
        self,
        pending: PendingChange,
        target: AuthFields | None,
        deadline: datetime,
        round_: int,
        writes: int,
    ) -> Round:
        """The fast path (see the module's docstring); ``writes``: this change's so far."""
        write = self._write_input(target, deadline, round_)
        # Whether the entity would wait for the lock's report (when the worker expects them;
        # a run on the fast path settles by report unless it began before that could, and
        # then the settling polls and counts the mark as a read).
        by_report = healthy(True, self._webhook_misses)
        known = self._lock_date
        summary = f"{pending.change.kind.value} #{pending.number}, write {round_ + 1}"
        self._begin_step(writing_step(round_))
        first, unclear = self._first_attempt, self._first_unclear
        self._first_attempt, self._first_unclear = None, False
        if unclear and round_ == 0:
            return await self._fallback_round(
                pending, write, deadline, writes, summary, unclear=True
            )
        try:
            if first is not None and round_ == 0:
                fast = first
            else:
                fast = await calls.write_settle_auth(
                    WriteSettleAuthInput(
                        write=write, timing=self._input.timing.poll, wait_for_report=by_report
                    ),
                    self._input.timing,
                    remaining=deadline - workflow.now(),
                    summary=f"{summary} and wait for it",
                    account=self._input.account,
                )
        except ActivityError as err:
            fate = fate_of(err)
            if fate is Fate.FINAL:
                return Round(failure=describe_activity_failure(err, WRITING_STEP))
            workflow.logger.warning(
                "the fast write of change #%d ended without an answer (%s): writing it through "
                "the retried write",
                pending.number,
                fate.value,
            )
            return await self._fallback_round(
                pending, write, deadline, writes, summary, unclear=fate is Fate.UNKNOWN
            )
        if fast.status is WriteSettleStatus.SETTLED:
            if fast.webhooks and not by_report:
                self._note_report_of(fast.auth, known)
            return Round(
                settled=AwaitAuthResult(auth=fast.auth, reads=fast.reads),
                writes=1,
                reads=fast.reads,
            )
        self._note_what_the_attempt_saw(fast)
        self._ensure_watch()
        if fast.status is WriteSettleStatus.WRITTEN:
            written = WriteAuthResult(attempts=1, webhooks=fast.webhooks)
            # The settling counts the mark as its first read; without one, the polling reads.
            before = 0 if fast.mark is not None else fast.reads
            return await self._settle_round(
                pending, deadline, written, marked=fast.mark, reads=before
            )
        workflow.logger.info(
            "change #%d not written by the fast attempt (%s): writing it through the retried write",
            pending.number,
            fast.refused_type,
        )
        return await self._fallback_round(
            pending, write, deadline, writes, summary, unclear=fast.maybe_sent
        )

    async def _fallback_round(
        self,
        pending: PendingChange,
        write: WriteAuthInput,
        deadline: datetime,
        writes: int,
        summary: str,
        *,
        unclear: bool,
    ) -> Round:
        """The write activity with its retry policy after a fast attempt that wrote nothing,
        or may have (``unclear``), then the settling; the watch runs meanwhile."""
        self._ensure_watch()
        remaining = deadline - workflow.now()
        if remaining <= timedelta(0):
            if unclear:
                return Round(failure=say.expired_after_unclear_write(deadline))
            return Round(failure=say.expired_before_landing(deadline, writes))
        if unclear:
            write = write.model_copy(update={"after_accepted_write": True})
        try:
            written = await calls.write_auth(
                write,
                self._input.timing,
                remaining=remaining,
                summary=summary,
                account=self._input.account,
            )
        except ActivityError as err:
            reason = describe_activity_failure(err, WRITING_STEP)
            if unclear:
                reason += say.MAY_HAVE_BEEN_TAKEN
            return Round(failure=reason)
        return await self._settle_round(pending, deadline, written)

    def _note_what_the_attempt_saw(self, fast: WriteSettleAuthResult) -> None:
        """Why the change waits, as the fast attempt saw it (the watch's notes, shown in the
        details; its looks take over from here)."""
        notes, now = self._notes, workflow.now()
        if fast.status is WriteSettleStatus.NOT_WRITTEN:
            busy = fast.refused_type == LOCKED
            offline = fast.refused_type == LOCK_OFFLINE
        else:
            busy, offline = fast.online is True, fast.online is False
        if not busy and not offline:
            return
        if busy:
            notes.busy_since = notes.busy_since or now
        if offline:
            notes.offline_since = notes.offline_since or now
        notes.checked_at = now
