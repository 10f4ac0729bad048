"""Lock actions: what callers send (unlock, lock, unlatch, ...), what they get back, and the
input, carried memory and query view of the lock actions workflow (``nuki-lock-<smartlockId>``).

Validation lives here, at the edge: a request that breaks a rule fails to construct, so the
facade refuses it before it reaches Temporal; the workflow's update validator checks what only
the workflow knows (the lock's type).

What an answer claims (:class:`ActionStatus`), from what Temporal recorded and what the lock
reports, never from a heartbeat that may not have arrived:

- ``confirmed``: the lock ran it: its state reached the action's end state with evidence that
  the action ran, or its log shows the action completed successfully.
- ``expired``: it did not run and will not: the deadline came before it could be sent, and
  the workflow's record proves no send attempt reached its POST (none started, or every one
  that started reported back that it had not sent).
- ``failed``: the lock or Nuki says why it did not complete (motor blocked, another completion
  state in the lock's log, not found, unauthorized...); ``reason`` has it.
- ``unknown``: it may have run. A send attempt may have reached Nuki (it started and never
  reported back, or Nuki accepted it) and neither the lock's state nor its log showed the
  outcome by the deadline plus a grace period; ``reason`` says what was seen. Look at the
  lock before acting again.
- ``rejected``: bad input, refused before anything was sent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nukiflow.contracts.accounts import AccountName
from nukiflow.contracts.deadline import UtcInstant, one_deadline
from nukiflow.contracts.timing import WorkflowTiming
from nukiflow.contracts.validation import SmartlockId
from nukiflow.contracts.wire import ActionOption, LockAction, LockState, OpenerAction, SmartlockType

DEFAULT_DEADLINE_SECONDS = 60.0
# An action is immediate; a day is the longest one may wait for its turn or for its lock.
MAX_DEADLINE_SECONDS = 24 * 3600.0
MAX_DEADLINE = timedelta(seconds=MAX_DEADLINE_SECONDS)


class ActionName(StrEnum):
    """The actions a caller can ask for. Lock actions for Smart Locks (types 0, 3, 4; a Box
    (type 1) only unlocks), opener actions for Openers (type 2)."""

    UNLOCK = "unlock"
    LOCK = "lock"
    UNLATCH = "unlatch"
    LOCK_N_GO = "lock-n-go"
    LOCK_N_GO_UNLATCH = "lock-n-go-unlatch"
    # Opener.
    ACTIVATE_RTO = "activate-rto"
    DEACTIVATE_RTO = "deactivate-rto"
    OPEN = "open"
    CONTINUOUS_ON = "continuous-on"
    CONTINUOUS_OFF = "continuous-off"


class OpenerState(IntEnum):
    """``Smartlock.State.state`` for openers (type 2)."""

    UNTRAINED = 0
    ONLINE = 1
    RTO_ACTIVE = 3
    OPEN = 5
    OPENING = 7
    BOOT_RUN = 253
    UNDEFINED = 255


MODE_DOOR = 2
MODE_CONTINUOUS = 3


class ActionSpec(NamedTuple):
    """How an action looks on the wire and on the lock.

    ``transitional`` are the states the lock passes through while it acts; ``end_state`` (and
    ``end_mode`` for the opener's continuous mode) is where it ends. Seeing a transitional
    state, or a pending ``operationId``, is evidence that the device started the action, which
    tells "done" from "not started yet" when the end state equals the state before (lock on a
    locked lock, lock'n'go).
    """

    code: int
    opener: bool
    transitional: frozenset[int]
    end_state: int
    end_mode: int | None = None
    # Whether the `option` bits (force, full lock) apply.
    takes_force: bool = True
    takes_full_lock: bool = False


SPECS: dict[ActionName, ActionSpec] = {
    ActionName.UNLOCK: ActionSpec(
        LockAction.UNLOCK, False, frozenset({LockState.UNLOCKING}), LockState.UNLOCKED
    ),
    ActionName.LOCK: ActionSpec(
        LockAction.LOCK,
        False,
        frozenset({LockState.LOCKING}),
        LockState.LOCKED,
        takes_full_lock=True,
    ),
    ActionName.UNLATCH: ActionSpec(
        LockAction.UNLATCH, False, frozenset({LockState.UNLATCHING}), LockState.UNLATCHED
    ),
    ActionName.LOCK_N_GO: ActionSpec(
        LockAction.LOCK_N_GO,
        False,
        frozenset({LockState.UNLOCKING, LockState.UNLOCKED_LOCK_N_GO, LockState.LOCKING}),
        LockState.LOCKED,
        takes_full_lock=True,
    ),
    ActionName.LOCK_N_GO_UNLATCH: ActionSpec(
        LockAction.LOCK_N_GO_UNLATCH,
        False,
        frozenset({LockState.UNLATCHING, LockState.UNLOCKED_LOCK_N_GO, LockState.LOCKING}),
        LockState.LOCKED,
        takes_full_lock=True,
    ),
    ActionName.ACTIVATE_RTO: ActionSpec(
        OpenerAction.ACTIVATE_RTO,
        True,
        frozenset(),
        OpenerState.RTO_ACTIVE,
        MODE_DOOR,
        takes_force=False,
    ),
    ActionName.DEACTIVATE_RTO: ActionSpec(
        OpenerAction.DEACTIVATE_RTO,
        True,
        frozenset(),
        OpenerState.ONLINE,
        MODE_DOOR,
        takes_force=False,
    ),
    ActionName.OPEN: ActionSpec(
        OpenerAction.OPEN,
        True,
        frozenset({OpenerState.OPENING}),
        OpenerState.OPEN,
        takes_force=False,
    ),
    ActionName.CONTINUOUS_ON: ActionSpec(
        OpenerAction.ACTIVATE_CONTINUOUS,
        True,
        frozenset(),
        OpenerState.RTO_ACTIVE,
        MODE_CONTINUOUS,
        takes_force=False,
    ),
    ActionName.CONTINUOUS_OFF: ActionSpec(
        OpenerAction.DEACTIVATE_CONTINUOUS,
        True,
        frozenset(),
        OpenerState.ONLINE,
        MODE_DOOR,
        takes_force=False,
    ),
}


def spec_of(action: ActionName) -> ActionSpec:
    return SPECS[action]


def supported(action: ActionName, lock_type: int) -> str | None:
    """Why ``action`` cannot run on a lock of ``lock_type``, or ``None`` when it can."""
    spec = SPECS[action]
    if lock_type == SmartlockType.OPENER:
        return None if spec.opener else f"{action.value} is a lock action; this is an Opener"
    if spec.opener:
        return f"{action.value} is an Opener action; this is a lock (type {lock_type})"
    if lock_type == SmartlockType.BOX and action is not ActionName.UNLOCK:
        return f"a Box only unlocks; {action.value} is not available"
    return None


def state_name(state: int | None, lock_type: int | None) -> str | None:
    """``unlocked``, ``motor_blocked``, ``rto_active``, ... (``None`` when unknown)."""
    if state is None:
        return None
    enum: type[IntEnum] = OpenerState if lock_type == SmartlockType.OPENER else LockState
    try:
        return enum(state).name.lower()
    except ValueError:
        return f"state_{state}"


class ActionRequest(BaseModel):
    """One caller's action: the input of the lock workflow's ``act`` update."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    request_id: str = Field(min_length=1, max_length=200)
    action: ActionName
    force: bool = False
    full_lock: bool = False
    # The action is sent before this instant (UTC), or never. Fixed by the caller when it
    # called; the facade sets it (from ``deadline_seconds``, or from its default when the
    # request names no deadline) before the request leaves the caller's process.
    deadline_at: UtcInstant | None = None
    # Seconds from now, for a request built by hand: the facade turns them into
    # ``deadline_at`` when it sends the request. Requests recorded before ``deadline_at``
    # existed carry only these, counted from when the workflow accepted them.
    deadline_seconds: float | None = Field(default=None, gt=0, le=MAX_DEADLINE_SECONDS)

    @model_validator(mode="after")
    def _one_deadline(self) -> Self:
        one_deadline(self.deadline_at, self.deadline_seconds)
        return self

    @model_validator(mode="after")
    def _options_fit(self) -> Self:
        spec = SPECS[self.action]
        if self.force and not spec.takes_force:
            raise ValueError(f"{self.action.value} takes no force option")
        if self.full_lock and not spec.takes_full_lock:
            raise ValueError(
                "full_lock applies to lock, lock-n-go and lock-n-go-unlatch only, "
                f"not to {self.action.value}"
            )
        return self

    @property
    def spec(self) -> ActionSpec:
        return SPECS[self.action]

    @property
    def option(self) -> int:
        """The ``option`` bit mask of ``POST /smartlock/{id}/action``."""
        return (ActionOption.FORCE if self.force else 0) | (
            ActionOption.FULL_LOCK if self.full_lock else 0
        )


class ActionStatus(StrEnum):
    """What an answer claims about the door (see the module's docstring for the evidence)."""

    CONFIRMED = "confirmed"  # it ran: the lock's end state (with evidence) or its log says so
    EXPIRED = "expired"  # not sent before its deadline (proven by the record); it never runs
    FAILED = "failed"  # the lock or Nuki says why not: motor blocked, not found, unauthorized...
    UNKNOWN = "unknown"  # may have run: sent (or maybe sent), its outcome not seen in time
    REJECTED = "rejected"  # bad input, nothing sent


class ActionOutcome(BaseModel):
    """What a caller gets for an action."""

    status: ActionStatus
    request_id: str
    smartlock_id: int
    # None only for a rejected request that named no known action.
    action: ActionName | None
    number: int = 0
    # The lock's state as last seen (confirmed: the end state; motor blocked: 254).
    state: int | None = None
    state_name: str | None = None
    # Seconds from Nuki accepting the action (its 204) to nukiflow seeing it completed.
    seconds: float | None = None
    sent_at: datetime | None = None
    # Nuki API requests this action cost (sending, retries, confirmation).
    api_requests: int = 0
    # What the outcome was read from: "state" (the lock's state) or "log" (the lock's log).
    confirmed_by: str | None = None
    reason: str | None = None
    workflow_id: str | None = None
    # The instant after which it was never to be sent (absent from outcomes recorded before
    # deadlines were instants, and from rejected requests).
    deadline: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.status is ActionStatus.CONFIRMED


class ActionTiming(BaseModel):
    """Timing of the lock workflow beyond the shared polling and retry knobs."""

    # The confirmation reads the state at the time this lock typically takes to show the
    # action done (learned). Every ``probe_every``-th action it reads first at
    # ``probe_fraction`` of that time: a hit there shortens the expectation, so it follows a
    # lock that got faster, while the other actions cost one read instead of two.
    probe_fraction: float = Field(default=0.9, gt=0, lt=1)
    probe_every: int = Field(default=4, ge=1)
    # Learned from the median of this many recent samples per action (an outlier, e.g. an
    # action that waited behind an auth operation on the device, does not move it).
    samples_kept: int = Field(default=5, ge=1, le=50)
    # Nuki's log dates come from Nuki's clock: log entries this much older than the first
    # send attempt still count as ours when checking whether an action already ran.
    log_clock_skew_seconds: float = Field(default=2.0, ge=0)
    # One send attempt (GET smartlock + POST) may take this long.
    call_timeout_seconds: float = Field(default=30.0, gt=0)
    # The send activity runs this long past the deadline (at most one call): an attempt that
    # started before it can report that it did not send, and one that starts after it refuses
    # at once and reports so. The answer "expired" comes at most this long after the deadline.
    report_margin_seconds: float = Field(default=5.0, ge=0)
    # A send that may have reached Nuki but whose outcome was not seen by the deadline is
    # looked for in the lock's log and state for up to this long after the deadline; then it
    # is answered (confirmed or failed from the log, else unknown).
    settle_grace_seconds: float = Field(default=30.0, ge=0)


class LockStatus(StrEnum):
    """Kept in the ``NukiStatus`` search attribute: what the lock's workflow last did."""

    IDLE = "idle"
    ACTING = "acting"
    CONFIRMED = "confirmed"
    EXPIRED = "expired"
    FAILED = "failed"
    UNKNOWN = "unknown"


class QueuedAction(BaseModel):
    number: int
    request: ActionRequest
    accepted_at: datetime

    @property
    def deadline(self) -> datetime:
        """The caller's instant; for requests recorded before there was one (or built by hand
        and sent past the facade), the seconds counted from acceptance."""
        request = self.request
        if request.deadline_at is not None:
            return request.deadline_at
        seconds = request.deadline_seconds or DEFAULT_DEADLINE_SECONDS
        return self.accepted_at + timedelta(seconds=seconds)


class LockActionsMemory(BaseModel):
    """What one run hands to the next across continue-as-new."""

    counter: int = 0
    status: LockStatus = LockStatus.IDLE
    lock_type: int | None = None
    # The lock's name in the Nuki app, as the last read showed it (None: not read yet).
    lock_name: str | None = None
    last_state: int | None = None
    # When the last action that reached the lock was seen completed (worker clock): log
    # entries before it belong to earlier actions.
    last_settled_at: datetime | None = None
    # Seconds from the 204 to the first state read that showed it done: the last few samples
    # per action (see ``expected_seconds``).
    samples: dict[str, list[float]] = Field(default_factory=dict)
    # Recent outcomes by request id: a caller retrying with the same request id gets the
    # first outcome back, also after continue-as-new.
    outcomes: list[ActionOutcome] = Field(default_factory=list)
    # Actions in a row that polling confirmed because the lock's reports did not come in time.
    webhook_misses: int = 0
    # The lock's state as its latest DEVICE_STATUS report said (None: none seen).
    reported_state: int | None = None


class LockActionsInput(BaseModel):
    smartlock_id: SmartlockId
    timing: WorkflowTiming = Field(default_factory=WorkflowTiming)
    action_timing: ActionTiming = Field(default_factory=ActionTiming)
    # Continue-as-new once a run's history is this long (or when Temporal suggests it).
    max_history_events: int = Field(default=2000, ge=100)
    memory: LockActionsMemory = Field(default_factory=LockActionsMemory)
    # The Nuki account of the lock, by name (never a credential); None: the default account.
    account: AccountName | None = None


class QueuedActionView(BaseModel):
    number: int
    request_id: str
    action: ActionName
    accepted_at: datetime
    deadline: datetime
    # For the current action: "sending", "confirming" or "looking in the lock's log" (after a
    # send or confirmation that did not settle it); None while it waits in line.
    step: str | None = None


class LockActionsView(BaseModel):
    """The lock workflow's state for queries and the UI."""

    smartlock_id: int
    status: LockStatus
    lock_type: int | None
    last_state: int | None
    last_state_name: str | None
    # The action being sent or confirmed, then the ones waiting, in order.
    current: QueuedActionView | None
    queue: list[QueuedActionView]
    action_counter: int
    # Per action: when the lock typically shows it done, in seconds after the 204.
    learned_seconds: dict[str, float]
    last_outcomes: list[ActionOutcome]
    history_length: int
    # The lock's name in the Nuki app, once an action read the lock (None: not yet).
    lock_name: str | None = None


def lock_workflow_id(smartlock_id: int) -> str:
    return f"nuki-lock-{smartlock_id}"
