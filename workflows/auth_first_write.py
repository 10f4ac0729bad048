"""The first change of an auth entity that has not read its auth: the base read folded into the
fast path's attempt (``nuki.auth.read_write_settle``, :mod:`activities.auth_first_write`).

Workflow code (deterministic, no I/O), split from the entity, which inherits this. Taken when
the entity holds no desired state, the segment is one update with a patch (a rollout's common
case) and the run writes through the fast path; runs from before ``FIRST_WRITE_PATCH`` read
the base in ``nuki.auth.read`` first (six history events more per first change). The attempt
computes the target with the rules the entity's merge uses
(:mod:`nukiflow.contracts.auth_rules`), and hands back the base, which the entity records as
:meth:`_take_base` does after its own read. Then the entity goes on as after that read:

- not found: the segment is answered as after a read that found nothing (nothing written);
- the patch does not fit the base: nothing written; the entity's merge answers the change;
- written (settled or not), or not written: the attempt is the first write round's
  (:meth:`EntityWriteRound._fast_round`), with the outcomes of a fast attempt;
- a final error (401, 403 on the read; 400, the deadline passed on the write): the change fails
  with it, nothing written, as it fails after a read or a write of the entity's own;
- the read failed otherwise, or the attempt failed (nothing of it known): the entity reads the
  base itself (``_load``; after a 429 once the time Nuki advised has passed) and writes as it
  does; an attempt whose fate is unknown (killed, timed out) may have written, so the first
  round is then the retried write told so (``after_accepted_write``).

A worker killed at any line of the attempt: its heartbeat timeout makes the fate unknown (see
above). The workflow killed at any line: the attempt's result is in history, and the replay
takes the same branch from it; the patch marker is recorded in the task that schedules the
attempt, so a replay finds it where the check is.
"""

from __future__ import annotations

import enum
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    import nukiflow.workflows.auth_calls as calls
    import nukiflow.workflows.auth_details as say
    import nukiflow.workflows.logic_version as logic_version
    from nukiflow.contracts.auth import AuthFields, ChangeKind, OutcomeStatus
    from nukiflow.contracts.auth_io import ReadAuthInput, ReadWriteSettleAuthInput
    from nukiflow.contracts.entity import EntityStatus, PendingChange
    from nukiflow.contracts.wire import SmartlockAuth
    from nukiflow.workflows.auth_write_round import (
        EntityWriteRound,
        Fate,
        fate_of,
        writing_step,
    )
    from nukiflow.workflows.completion import healthy
    from nukiflow.workflows.failure_reasons import describe_activity_failure

# Marks runs whose first change reads its base in the fast path's attempt. Checked on its own
# (plain workflow.patched): the logic generation's marker predates it (see logic_version).
FIRST_WRITE_PATCH = "first-change-reads-its-base-in-the-fast-attempt"
# Marks runs that end when the auth is not found (instead of staying open for nothing).
MISSING_PATCH = "entity-ends-when-auth-missing"
# Marks runs whose base read a recent listing of the lock may answer (activities.lock_listings).
LISTING_PATCH = "base-read-from-lock-listing"


FOLDED_STEP = "reading the auth and writing the change"


class Folded(enum.Enum):
    """What the first change's attempt left the entity with."""

    # Not taken, or nothing of the base known: the entity reads it (``_load``).
    NOT_TAKEN = "not_taken"
    # The segment is answered (the auth was not found).
    ANSWERED = "answered"
    # The base is taken; the merge follows and the attempt is the first write round.
    BASE = "base"


class EntityFirstWrite(EntityWriteRound):
    def _listed_within(self) -> float | None:
        """How old a listing of the lock may answer the base read (None: the auth's GET)."""
        age = self._input.timing.base_read_max_age_seconds
        return age if age > 0 and logic_version.since(LISTING_PATCH) else None

    def _take_base(self, auth: SmartlockAuth) -> None:
        """The auth as read before the first change: its type, desired and verified state."""
        self._auth_type = auth.type
        self._desired = self._verified = AuthFields.from_wire(auth)
        self._took_verified()
        self._took_read(auth.update_date)

    def _answer_not_found(self, segment: list[PendingChange]) -> None:
        """The base read found no auth: the segment fails, and the run ends."""
        smartlock_id, auth_id = self._input.smartlock_id, self._input.auth_id
        for pending in segment:
            self._resolve(
                pending, OutcomeStatus.FAILED, reason=say.not_found(smartlock_id, auth_id), reads=1
            )
        self._set_status(EntityStatus.FAILED)
        # Runs from before this patch stayed open for an auth that is not there.
        if logic_version.since(MISSING_PATCH):
            self._missing = True

    async def _first_write(self, segment: list[PendingChange]) -> Folded:
        """The base read and the first write round in one attempt, when this segment can
        (see the module's docstring)."""
        self._first_attempt, self._first_unclear = None, False
        last = segment[-1]
        patch = last.change.patch
        if not self._fast or len(segment) != 1 or last.change.kind is not ChangeKind.UPDATE:
            return Folded.NOT_TAKEN
        deadline = last.change.deadline_from(last.accepted_at)
        remaining = deadline - workflow.now()
        # A deadline passed already is answered by ``_load`` (never read, never written).
        if patch is None or remaining <= timedelta(0):
            return Folded.NOT_TAKEN
        if not logic_version.since(FIRST_WRITE_PATCH):
            return Folded.NOT_TAKEN
        self._begin_step(writing_step(0))
        self._publish_status()  # applying, while the attempt runs
        try:
            result = await calls.read_write_settle_auth(
                ReadWriteSettleAuthInput(
                    read=ReadAuthInput(
                        smartlock_id=self._input.smartlock_id,
                        auth_id=self._input.auth_id,
                        listed_within_seconds=self._listed_within(),
                    ),
                    patch=patch,
                    not_after=deadline,
                    timing=self._input.timing.poll,
                    wait_for_report=healthy(True, self._webhook_misses),
                ),
                self._input.timing,
                remaining=remaining,
                summary=f"update #{last.number}: read the auth, write it and wait for it",
                account=self._input.account,
            )
        except ActivityError as err:
            fate = fate_of(err)
            workflow.logger.warning(
                "the first attempt of change #%d ended without an answer (%s): reading the auth",
                last.number,
                fate.value,
            )
            if fate is Fate.FINAL:
                # A final error of the read (401, 403) or of the write (400, the deadline
                # passed before sending): nothing was written, and no retry can help.
                self._fail(last, describe_activity_failure(err, FOLDED_STEP), writes=0, reads=1)
                return Folded.ANSWERED
            if fate is Fate.NOT_SENT:
                return Folded.NOT_TAKEN
            if deadline <= workflow.now():
                self._resolve(
                    last, OutcomeStatus.FAILED, reason=say.expired_after_unclear_write(deadline)
                )
                self._set_status(self._settled_status())
                return Folded.ANSWERED
            self._first_unclear = True
            return Folded.NOT_TAKEN
        if not result.base_known:
            # Refused with 429: the entity's read waits as long as Nuki advised (never past
            # the deadline, which its read then answers).
            left = (deadline - workflow.now()).total_seconds()
            wait = min(result.retry_after or 0.0, left)
            if wait > 0:
                await workflow.sleep(wait, summary="Retry-After of the refused base read")
            return Folded.NOT_TAKEN
        if result.base is None:
            self._answer_not_found(segment)
            return Folded.ANSWERED
        self._take_base(result.base)
        self._first_attempt = result.written
        return Folded.BASE
