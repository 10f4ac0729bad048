"""Forwarding events to the workflows they concern, in the background.

The receiver answers Nuki before anything here runs: it puts the event on a bounded queue, and
one task drains the queue in arrival order, sending one Temporal signal per event:

- an :class:`~nukiflow.contracts.events.AuthEvent` to the auth's entity
  (``nuki-auth-<smartlockId>-<authId>``). When no entity runs for it, the event (without the
  code) goes to the lock's drift ledger (``nuki-unmanaged-<smartlockId>``) by signal-with-start,
  unless the entity ended with this auth's deletion and the event reports that deletion;
- a :class:`~nukiflow.contracts.events.LockEvent` to the lock workflow (``nuki-lock-<smartlockId>``)
  when it runs; otherwise there is nobody waiting for it, and it is counted as ignored.

A signal never starts an entity or a lock workflow: only a change made through nukiflow does.
While Temporal is unreachable the head event is retried with growing pauses for
``give_up_after`` seconds and then given up (counted ``failed``, logged); meanwhile events queue
up to the bound and the receiver drops what does not fit. The workflows' own polling (they
confirm by reading the lock back) is the fallback for every event lost this way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from nukiflow.contracts import search_attributes as sa
from nukiflow.contracts.drift import DriftLedgerInput
from nukiflow.contracts.events import (
    AUTH_EVENT_SIGNAL,
    DRIFT_LEDGER_WORKFLOW,
    LEDGER_KIND,
    LOCK_EVENT_SIGNAL,
    UNMANAGED_AUTH_SIGNAL,
    AuthEvent,
    LockEvent,
    UnmanagedAuthSighting,
    auth_workflow_id,
    drift_ledger_workflow_id,
    lock_workflow_id,
)
from nukiflow.webhooks.counters import Counters

log = logging.getLogger("nukiflow.webhooks")

Event = AuthEvent | LockEvent

# Temporal answers that may pass: retried. Anything else (permission denied, a namespace that
# does not exist, an invalid argument) will not, and is given up at once.
_TRANSIENT = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.ABORTED,
        RPCStatusCode.INTERNAL,
        RPCStatusCode.UNKNOWN,
        RPCStatusCode.CANCELLED,
    }
)


@dataclass(frozen=True)
class ForwardingPolicy:
    """How hard one event is pushed through to Temporal."""

    rpc_timeout_seconds: float = 10.0
    retry_initial_seconds: float = 0.2
    retry_max_seconds: float = 10.0
    # After this long unreachable, the event is given up (the workflows' polling covers it).
    give_up_after_seconds: float = 300.0
    # On stop, how long queued events may still be forwarded before the rest is dropped.
    drain_seconds: float = 5.0


class _NotFound(Exception):
    """The target workflow has no running execution."""


class _GiveUp(Exception):
    pass


class Forwarder:
    """The queue between the receiver and Temporal, and the task that drains it."""

    def __init__(
        self,
        client: Client,
        task_queue: str,
        counters: Counters,
        *,
        queue_size: int = 10000,
        policy: ForwardingPolicy | None = None,
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        self.counters = counters
        self.policy = policy or ForwardingPolicy()
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=queue_size)
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def offer(self, event: Event) -> bool:
        """Queue ``event`` without waiting; False when the queue is full."""
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            return False
        return True

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._drain(), name="nukiflow-webhook-forwarder"
            )

    async def stop(self) -> None:
        """Forward what is queued for at most ``drain_seconds``, then drop the rest."""
        task, self._task = self._task, None
        if task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.join(), self.policy.drain_seconds)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        left = 0
        while not self.queue.empty():
            self.queue.get_nowait()
            self.queue.task_done()
            left += 1
        if left:
            self.counters.dropped += left
            log.warning("stopped with %d webhook events not forwarded (dropped)", left)

    async def _drain(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                await self.forward(event)
            except asyncio.CancelledError:
                self.counters.dropped += 1
                raise
            except Exception:  # one bad event must not stop the forwarding of the others
                self.counters.failed += 1
                log.exception("forwarding a webhook event failed")
            finally:
                self.queue.task_done()

    # -- one event ----------------------------------------------------------------------------

    async def forward(self, event: Event) -> None:
        """Send ``event`` where it belongs, retrying while Temporal is unreachable."""
        try:
            if isinstance(event, AuthEvent):
                await self._forward_auth(event)
            else:
                await self._forward_lock(event)
        except _GiveUp:
            self.counters.failed += 1

    async def _forward_auth(self, event: AuthEvent) -> None:
        workflow_id = auth_workflow_id(event.smartlock_id, event.auth_id)
        try:
            await self._signal(workflow_id, AUTH_EVENT_SIGNAL, event)
            self.counters.forwarded += 1
            return
        except _NotFound:
            pass
        status = await self._closed_status(workflow_id)
        if status is WorkflowExecutionStatus.RUNNING:
            # Started between the signal and the look-up: signal it after all.
            try:
                await self._signal(workflow_id, AUTH_EVENT_SIGNAL, event)
                self.counters.forwarded += 1
                return
            except _NotFound:
                status = await self._closed_status(workflow_id)
        ended = status is not None
        if ended and event.deleted:
            # nukiflow deleted it (the entity completes after a verified delete), or the
            # entity ended and the auth is gone since: nothing left to manage or report.
            self.counters.ignored += 1
            return
        await self._record_unmanaged(UnmanagedAuthSighting.of(event, entity_ended=ended))
        self.counters.unmanaged += 1

    async def _forward_lock(self, event: LockEvent) -> None:
        try:
            await self._signal(lock_workflow_id(event.smartlock_id), LOCK_EVENT_SIGNAL, event)
        except _NotFound:
            # No lock workflow runs: no action waits for this state or log entry.
            self.counters.ignored += 1
            return
        self.counters.forwarded += 1

    async def _record_unmanaged(self, sighting: UnmanagedAuthSighting) -> None:
        """Signal-with-start the lock's drift ledger."""
        smartlock_id = sighting.smartlock_id

        async def send() -> None:
            await self.client.start_workflow(
                DRIFT_LEDGER_WORKFLOW,
                DriftLedgerInput(smartlock_id=smartlock_id),
                id=drift_ledger_workflow_id(smartlock_id),
                task_queue=self.task_queue,
                start_signal=UNMANAGED_AUTH_SIGNAL,
                start_signal_args=[sighting],
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(sa.SMARTLOCK_ID, smartlock_id),
                        SearchAttributePair(sa.KIND, LEDGER_KIND),
                    ]
                ),
                static_summary=f"Auths on smartlock {smartlock_id} that nukiflow does not manage",
                rpc_timeout=self._rpc_timeout(),
            )

        await self._with_retries(send, "record an unmanaged auth")

    # -- Temporal calls -----------------------------------------------------------------------

    def _rpc_timeout(self) -> timedelta:
        return timedelta(seconds=self.policy.rpc_timeout_seconds)

    async def _signal(self, workflow_id: str, signal: str, event: Event) -> None:
        """Raises :class:`_NotFound` when no execution of ``workflow_id`` is running."""

        async def send() -> None:
            handle = self.client.get_workflow_handle(workflow_id)
            await handle.signal(signal, event, rpc_timeout=self._rpc_timeout())

        await self._with_retries(send, f"signal {workflow_id}", not_found=True)

    async def _closed_status(self, workflow_id: str) -> WorkflowExecutionStatus | None:
        """The status of the latest execution of ``workflow_id``, None if there is none."""
        status: WorkflowExecutionStatus | None = None

        async def describe() -> None:
            nonlocal status
            handle = self.client.get_workflow_handle(workflow_id)
            description = await handle.describe(rpc_timeout=self._rpc_timeout())
            status = description.status

        try:
            await self._with_retries(describe, f"look up {workflow_id}", not_found=True)
        except _NotFound:
            return None
        return status

    async def _with_retries(
        self,
        call: Callable[[], Awaitable[None]],
        what: str,
        *,
        not_found: bool = False,
    ) -> None:
        """Run ``call`` until it succeeds; transient failures are retried with growing pauses
        for ``give_up_after_seconds`` (then :class:`_GiveUp`)."""
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self.policy.give_up_after_seconds
        pause = self.policy.retry_initial_seconds
        attempts = 0
        while True:
            attempts += 1
            try:
                await call()
                if attempts > 1:
                    log.info("%s: reached Temporal after %d attempts", what, attempts)
                return
            except RPCError as exc:
                if not_found and exc.status is RPCStatusCode.NOT_FOUND:
                    raise _NotFound(what) from None
                if exc.status not in _TRANSIENT:
                    log.error("could not %s: Temporal answered %s", what, exc.status.name)
                    raise _GiveUp(what) from None
                reason = exc.status.name
            except RuntimeError as exc:
                # A client connecting lazily reports an unreachable server this way.
                reason = type(exc).__name__
            if loop.time() + pause > give_up_at:
                log.error(
                    "could not %s: Temporal unreachable for %.0fs (%s); event given up (the "
                    "workflows' polling covers it)",
                    what,
                    self.policy.give_up_after_seconds,
                    reason,
                )
                raise _GiveUp(what)
            if attempts == 1:
                log.warning("could not %s (%s): retrying", what, reason)
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.policy.retry_max_seconds)
