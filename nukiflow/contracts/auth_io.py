"""Inputs and results of the authorization activities (``nuki.auth.*``).

The entity and create workflows call these activities by name
(:mod:`nukiflow.contracts.names`) with these models; the activities
(:mod:`nukiflow.activities.auth_activities`) take and return the same. Temporal records them,
so they keep decoding what older and newer workers wrote (unknown fields are ignored).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from nukiflow.contracts.auth import AuthFields, AuthPatch
from nukiflow.contracts.timing import PollTiming
from nukiflow.contracts.wire import SmartlockAuth


class ReadAuthInput(BaseModel):
    smartlock_id: int
    auth_id: str
    # A change's base read only: a listing of the lock the worker sent at most this many seconds
    # ago may answer (see activities.lock_listings). None (every other read, and inputs recorded
    # before the field existed): the auth's own GET.
    listed_within_seconds: float | None = None


class ReadAuthResult(BaseModel):
    """The auth as Nuki holds it, or ``None`` when it does not exist."""

    auth: SmartlockAuth | None


class LookAuthInput(BaseModel):
    smartlock_id: int
    # None: only the lock is looked at (a create, before its auth has an id).
    auth_id: str | None = None


class LookAuthResult(BaseModel):
    """What one look at the lock and the auth saw while a change waited (never a code)."""

    # Nuki's ``serverState`` of the lock (0: online).
    server_state: int
    online: bool
    # The auth carries an ``operationId``: an operation is pending on the lock (writes get 423).
    operation_pending: bool = False
    # False: the auth was not found.
    found: bool = True


class WriteAuthInput(BaseModel):
    smartlock_id: int
    auth_id: str
    # None means delete the auth.
    desired: AuthFields | None
    # No write is sent after this instant: a change must never land later than promised.
    not_after: datetime
    # Check that the lock is online before writing (set for rewrites after a lost update).
    check_online: bool = False
    # An earlier write of this change was accepted by Nuki (a rewrite after a ghost delete):
    # a 404 on a delete then may be that earlier delete having landed.
    after_accepted_write: bool = False


class WriteAuthResult(BaseModel):
    # API write attempts this activity made (accepted and refused with 423/5xx/...).
    attempts: int
    # The worker expects the lock's webhooks (it serves the receiver, or is told one runs):
    # the entity may wait for the lock's report instead of polling at once.
    webhooks: bool = False


class AwaitAuthInput(BaseModel):
    smartlock_id: int
    auth_id: str
    timing: PollTiming


class AwaitAuthResult(BaseModel):
    """The auth read back once no operation is pending on it (``None``: it is gone)."""

    auth: SmartlockAuth | None
    reads: int


class WriteSettleAuthInput(BaseModel):
    """One bounded attempt at a change: the write (same rules as ``nuki.auth.write``), then
    its settling for at most one fast polling window (see
    :mod:`activities.auth_write_settle`)."""

    write: WriteAuthInput
    timing: PollTiming
    # The entity would wait for the lock's report (its webhooks have been coming): when the
    # worker expects them, the attempt reads once right after the write (the mark the report
    # is told apart by) instead of polling.
    wait_for_report: bool = True


class WriteSettleStatus(StrEnum):
    # Nothing was accepted (423, an offline lock, 429, 5xx, no answer: see ``refused_type``).
    NOT_WRITTEN = "not_written"
    # Nuki accepted the write (204); no read showed it settled within the attempt.
    WRITTEN = "written"
    # Accepted, and read back with no operation pending: ``auth`` is the read-back.
    SETTLED = "settled"


class WriteSettleAuthResult(BaseModel):
    """What one fast attempt did: never a guess (a write whose answer never came is
    ``NOT_WRITTEN`` with ``maybe_sent``)."""

    status: WriteSettleStatus
    # NOT_WRITTEN: why, in words a person can act on, and the failure's type (the Nuki client's
    # exception class name, or ``LockOffline``); never a code.
    refused: str | None = None
    refused_type: str | None = None
    # NOT_WRITTEN: the request may have reached Nuki all the same (a 5xx, an answer that never
    # came): a delete's later 404 is then checked against the lock's listing.
    maybe_sent: bool = False
    # SETTLED: the auth read back (None: it is gone, as a delete wants it).
    auth: SmartlockAuth | None = None
    # WRITTEN, waiting for the report: the read right after the write, the operation still
    # pending on it (None: that read failed; the entity reads again).
    mark: SmartlockAuth | None = None
    # Reads of the auth this attempt made (the mark included).
    reads: int = 0
    # WRITTEN after a window of polling: whether the lock was online then (None: not known).
    online: bool | None = None
    # The worker expects the lock's webhooks (as WriteAuthResult.webhooks).
    webhooks: bool = False


class ReadWriteSettleAuthInput(BaseModel):
    """The first change of an entity that holds no desired state yet, in one attempt: read the
    base (as ``nuki.auth.read`` with ``read``), put ``patch`` on it by the entity's own rules
    (:mod:`nukiflow.contracts.auth_rules`), then write and settle as ``nuki.auth.write_settle``
    (see :mod:`activities.auth_first_write`)."""

    read: ReadAuthInput
    patch: AuthPatch
    # No write is sent after this instant (the change's deadline).
    not_after: datetime
    timing: PollTiming
    wait_for_report: bool = True


class ReadWriteSettleAuthResult(BaseModel):
    """What the attempt read and did. ``base_known`` False: the read failed (nothing was
    written; the entity reads the auth itself). Known with ``base`` None: the auth was not
    found (nothing written). ``written`` None: the patch does not fit the base (nothing
    written; the entity's merge says why); else what the write and its settling did."""

    base_known: bool
    base: SmartlockAuth | None = None
    written: WriteSettleAuthResult | None = None
    # The read was refused with 429 and Nuki advised this many seconds before asking again:
    # the entity's own read waits as long.
    retry_after: float | None = None


class ListAuthIdsInput(BaseModel):
    smartlock_id: int


class ListAuthIdsResult(BaseModel):
    ids: list[str]


class CreateAuthInput(BaseModel):
    smartlock_id: int
    auth_type: int
    desired: AuthFields
    not_after: datetime
    timing: PollTiming
    # The lock's auths before the first attempt (recorded in history by the workflow): none
    # of them can be the one this create makes, however well it matches. None (runs started
    # before the snapshot existed): every match counts.
    existing_ids: list[str] | None = None


class CreateAuthResult(BaseModel):
    auth_id: str
    # True when the auth was already there (a retry after the create was accepted).
    adopted: bool
    writes: int
    reads: int
    # The auth as the listing that found it showed it (absent in results of older workers):
    # with no operation pending it is the read-back, and no wait follows.
    auth: SmartlockAuth | None = None
