"""Fleet rollouts and time-limited access grants: the Python face (and what the CLI calls).

>>> fleet = Fleet(flow)                                   # a NukiFlow (or a Temporal client
>>> rollout = await fleet.apply_rollout("plan.yaml")      #   plus task_queue=...)
>>> async for progress in rollout.watch():                # live totals until it ends
...     print(progress.totals)
>>> report = await rollout.report()                       # every item not applied, and why
>>> grant = await fleet.grant_access(4711, name="cleaner", code=555123,
...     start="2026-03-28T10:00", end="2026-03-30T10:00", tz="Europe/Berlin")
>>> await grant.created()                                 # the code is on the lock
>>> await grant.extend("2026-03-31T10:00", tz="Europe/Berlin")
>>> await grant.revoke(wait=True)                         # early, verified

The worker needs :func:`fleet_workflows` and :func:`fleet_activities` next to the auth
workflows and activities (see :mod:`nukiflow.temporal.worker`).

Rollout identity: the workflow id is ``nuki-rollout-<sha256 prefix of the plan>`` unless the
caller names the rollout. Keypad codes are left out of that hash (workflow ids are plain text
and a six-digit code is quick to brute-force from a hash); the full digest is kept in the
encrypted memo, so submitting a plan that differs only in codes is refused instead of attaching
to the wrong rollout. Re-submitting the same plan attaches to the rollout, running or finished;
after a terminated or failed one it starts again and every item attaches to the change it
started (same request ids).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from nukiflow.activities.fleet_activities import FleetActivities
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.client import NukiFlow, validation_message
from nukiflow.contracts import search_attributes as sa
from nukiflow.contracts.access import (
    ExtendRequest,
    GrantInput,
    GrantRequest,
    GrantStatus,
    GrantTiming,
    GrantView,
    RevokeRequest,
    WaitRequest,
    check_grant_id,
    grant_workflow_id,
)
from nukiflow.contracts.rollout import (
    MAX_PAGE_ITEMS,
    ControlRequest,
    ItemReport,
    ItemStatus,
    ProgressQuery,
    ReportLimits,
    RolloutInput,
    RolloutItem,
    RolloutOp,
    RolloutOptions,
    RolloutPlan,
    RolloutProgress,
    RolloutReport,
    RolloutState,
    check_rollout_id,
)
from nukiflow.contracts.timing import WorkflowTiming
from nukiflow.contracts.validation import InputError, check_text
from nukiflow.fleet.plan import PlanError, load_plan, parse_plan
from nukiflow.times.zones import nuki_window, to_utc
from nukiflow.workflows.access_grant import REFUSED, AccessGrantWorkflow
from nukiflow.workflows.rollout import RolloutWorkflow

_MEMO_DIGEST = "plan_digest"
_MEMO_SUBMISSION = "submission"
# A query can miss a rollout for a moment while it continues as new: ask again this often.
_QUERY_RETRIES = 20
# Items per progress query when reading whole lists (at most MAX_PAGE_ITEMS).
PAGE_ITEMS = MAX_PAGE_ITEMS
_NOT_APPLIED = tuple(status for status in ItemStatus if status is not ItemStatus.APPLIED)


class FleetError(RuntimeError):
    """A rollout or grant refused a request; the message says why."""


class FleetRefusedError(FleetError):
    """The workflow refused the request as given (it has ended, the new end is past, ...)."""


class RolloutConflictError(FleetError):
    """A different plan already runs (or ran) under this rollout id."""


def fleet_workflows() -> list[type]:
    """The workflows a nukiflow worker runs for rollouts and grants."""
    return [RolloutWorkflow, AccessGrantWorkflow]


def fleet_activities(nuki: NukiClient, flow: NukiFlow) -> list[Callable[..., Any]]:
    """The activities a nukiflow worker runs for rollouts and grants.

    ``flow`` must use the worker's task queue: the items it sends start the auth workflows
    there. ``nuki`` is the worker's Nuki client (read-only checks of revocations).
    """
    activities = FleetActivities(nuki, flow)
    return [activities.apply_item, activities.revoke_auth, activities.find_auth]


PlanSource = RolloutPlan | Sequence[RolloutItem | Mapping[str, Any]] | str | Path


class Fleet:
    """Start and steer rollouts and grants. Takes a :class:`NukiFlow` (its client, task queue
    and timing), or a Temporal client with ``task_queue``. ``report_limits``: how many items
    the result of a rollout started here lists itself (:meth:`RolloutHandle.report` pages in
    the rest either way)."""

    def __init__(
        self,
        target: NukiFlow | Client,
        *,
        task_queue: str | None = None,
        timing: WorkflowTiming | None = None,
        grant_timing: GrantTiming | None = None,
        report_limits: ReportLimits | None = None,
    ) -> None:
        if isinstance(target, NukiFlow):
            self.client = target.client
            self.task_queue = task_queue or target.task_queue
            self.timing = timing or target.timing
        else:
            if task_queue is None:
                raise ValueError("a Temporal client needs the task_queue of the nukiflow worker")
            self.client = target
            self.task_queue = task_queue
            self.timing = timing or WorkflowTiming()
        self.grant_timing = grant_timing or GrantTiming()
        self.report_limits = report_limits or ReportLimits()

    # -- rollouts ----------------------------------------------------------------------------

    async def apply_rollout(
        self,
        plan: PlanSource,
        *,
        rollout_id: str | None = None,
        options: RolloutOptions | Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> RolloutHandle:
        """Start the plan's rollout, or attach to it if the same plan was submitted before.

        ``plan``: a :class:`RolloutPlan`, a list of items (models or mappings as in a plan
        file), or the path of a YAML/JSON plan. ``name`` replaces the plan's name; ``options``
        replaces its options (a mapping overrides only the options it names).
        Raises :class:`~nukiflow.fleet.plan.PlanError` (a ``ValueError``) for a bad plan and
        :class:`RolloutConflictError` when another plan holds the rollout id.
        """
        plan = self._plan(plan, options=options, name=name)
        if rollout_id is not None:
            try:
                check_rollout_id(rollout_id)
            except InputError as exc:
                raise PlanError(str(exc)) from None
        workflow_id = plan.workflow_id(rollout_id)
        digest = plan.digest()
        submission = uuid.uuid4().hex
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self.client.start_workflow(
                RolloutWorkflow.run,
                RolloutInput.of(plan, workflow_id, report_limits=self.report_limits),
                id=workflow_id,
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                # A finished rollout is attached to; a terminated or failed one starts again
                # (its items attach to the changes they started: same request ids).
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                memo={_MEMO_DIGEST: digest, _MEMO_SUBMISSION: submission},
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(sa.KIND, "rollout"),
                        SearchAttributePair(sa.STATUS, RolloutState.RUNNING.value),
                    ]
                ),
                static_summary=f"rollout {plan.name or workflow_id}: {len(plan.items)} items",
            )
        handle = self.rollout(workflow_id)
        description = await handle.handle.describe()
        existing = await description.memo_value(_MEMO_DIGEST, None, type_hint=str)
        if existing != digest:
            raise RolloutConflictError(
                f"rollout {workflow_id} holds a different plan (if it differs only in keypad "
                "codes, the ids match on purpose: codes are kept out of ids); name this one "
                "with rollout_id"
            )
        started = await description.memo_value(_MEMO_SUBMISSION, None, type_hint=str)
        handle.attached = started != submission
        return handle

    def rollout(self, rollout_id: str) -> RolloutHandle:
        """The handle of a rollout by id (``nuki-rollout-...`` or the part after it); raises
        :class:`~nukiflow.contracts.validation.InputError` for an id no rollout can have."""
        workflow_id = check_rollout_id(rollout_id)
        return RolloutHandle(self.client.get_workflow_handle_for(RolloutWorkflow.run, workflow_id))

    def _plan(
        self,
        source: PlanSource,
        *,
        options: RolloutOptions | Mapping[str, Any] | None,
        name: str | None,
    ) -> RolloutPlan:
        if isinstance(source, RolloutPlan):
            plan = source
        elif isinstance(source, str | Path):
            plan = load_plan(source)
        else:
            entries = list(source)
            if all(isinstance(e, RolloutItem) for e in entries):
                try:
                    plan = RolloutPlan(items=[e for e in entries if isinstance(e, RolloutItem)])
                except ValidationError as exc:
                    raise PlanError(validation_message(exc)) from None
            elif not any(isinstance(e, RolloutItem) for e in entries):
                plan = parse_plan(entries)
            else:
                raise PlanError("give items as RolloutItem models or as mappings, not both")
        update: dict[str, Any] = {}
        if options is not None:
            try:
                # A mapping overrides some of the plan's options; a RolloutOptions all of them.
                update["options"] = (
                    options
                    if isinstance(options, RolloutOptions)
                    else RolloutOptions.model_validate({**plan.options.model_dump(), **options})
                )
            except ValidationError as exc:
                raise PlanError(f"options: {validation_message(exc)}") from None
        if name is not None:
            try:
                update["name"] = check_text(name, what="the rollout's name", maximum=200)
            except InputError as exc:
                raise PlanError(str(exc)) from None
        return plan.model_copy(update=update) if update else plan

    # -- access grants -----------------------------------------------------------------------

    async def grant_access(
        self,
        smartlock_id: int,
        *,
        name: str,
        code: int,
        start: str | datetime | date,
        end: str | datetime | date,
        tz: str | tzinfo | None = None,
        lock_tz: str | tzinfo | None = None,
        weekdays: str | int | Sequence[str] | None = None,
        times: str | None = None,
        request_id: str | None = None,
    ) -> GrantHandle:
        """Create a keypad code valid from ``start`` to ``end`` and revoke it at the end.

        Times without an offset are read in ``tz``; ``weekdays`` (``mon-fri``) and ``times``
        (``08:00-12:00``) restrict it further, in the lock's local time (``lock_tz``, default
        ``tz``). Returns at once (the grant's workflow creates the code; ``await
        handle.created()`` waits for it). The same ``request_id`` attaches to the same grant.
        Raises ``ValueError`` (:class:`~nukiflow.times.zones.TimeZoneError`,
        :class:`~nukiflow.fleet.plan.PlanError`, :class:`~nukiflow.contracts.validation.InputError`)
        for bad input, before anything reaches Temporal; also for a window that has ended,
        unless ``request_id`` names a grant made before (which it then attaches to).
        """
        window = nuki_window(start, end, tz=tz, lock_tz=lock_tz, weekdays=weekdays, times=times)
        if request_id is None:
            window.check_not_over(datetime.now(UTC))
        try:
            request = GrantRequest(
                request_id=request_id or uuid.uuid4().hex,
                smartlock_id=smartlock_id,
                name=name,
                code=code,
                window=window,
            )
        except ValidationError as exc:
            raise PlanError(validation_message(exc)) from None
        workflow_id = grant_workflow_id(smartlock_id, request.request_id)
        digest = hashlib.sha256(request.model_dump_json().encode()).hexdigest()
        if window.allowed_until_date <= datetime.now(UTC):
            # A window that has ended gives no access: nothing new is started for it. A retry
            # of a grant made before (same request id) still attaches to that grant.
            if not await self._exists(workflow_id):
                window.check_not_over(datetime.now(UTC))
        else:
            await self._start_grant(request, workflow_id, digest)
        handle = self.grant(workflow_id)
        description = await handle.handle.describe()
        if await description.memo_value(_MEMO_DIGEST, None, type_hint=str) != digest:
            raise FleetError(
                f"grant {workflow_id} was made with other details; use another request id"
            )
        return handle

    async def _exists(self, workflow_id: str) -> bool:
        try:
            await self.client.get_workflow_handle(workflow_id).describe()
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    async def _start_grant(self, request: GrantRequest, workflow_id: str, digest: str) -> None:
        smartlock_id, window = request.smartlock_id, request.window
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self.client.start_workflow(
                AccessGrantWorkflow.run,
                GrantInput(request=request, timing=self.timing, grant_timing=self.grant_timing),
                id=workflow_id,
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                memo={_MEMO_DIGEST: digest},
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(sa.SMARTLOCK_ID, smartlock_id),
                        SearchAttributePair(sa.KIND, "access"),
                        SearchAttributePair(sa.STATUS, GrantStatus.CREATING.value),
                    ]
                ),
                static_summary=(
                    f"access {request.name!r} on smartlock {smartlock_id} until "
                    f"{window.allowed_until_date:%Y-%m-%d %H:%M} UTC"
                ),
            )

    def grant(self, grant_id: str) -> GrantHandle:
        """The handle of a grant by its workflow id (``nuki-access-<smartlock>-<request>``);
        raises :class:`~nukiflow.contracts.validation.InputError` for an id no grant can have."""
        workflow_id = check_grant_id(grant_id)
        return GrantHandle(
            self.client.get_workflow_handle_for(AccessGrantWorkflow.run, workflow_id)
        )


class RolloutHandle:
    """A running or finished rollout."""

    def __init__(
        self, handle: WorkflowHandle[RolloutWorkflow, RolloutReport], *, attached: bool = False
    ) -> None:
        self.handle = handle
        # True when apply_rollout found this rollout already submitted (and attached to it).
        self.attached = attached

    @property
    def id(self) -> str:
        return self.handle.id

    async def progress(
        self,
        *,
        offset: int = 0,
        limit: int = 50,
        statuses: Sequence[ItemStatus] | None = None,
        ops: Sequence[RolloutOp] | None = None,
        after_index: int = -1,
    ) -> RolloutProgress:
        """Totals and a page of items (optionally only those in ``statuses`` and of ``ops``).

        Needs a worker; an ended rollout still answers while Temporal retains its history.
        ``limit`` is at most :data:`~nukiflow.contracts.rollout.MAX_PAGE_ITEMS`.
        """
        query = ProgressQuery(
            offset=offset,
            after_index=after_index,
            limit=limit,
            statuses=None if statuses is None else list(statuses),
            ops=None if ops is None else list(ops),
        )
        for attempt in range(_QUERY_RETRIES):
            try:
                return await self.handle.query(RolloutWorkflow.progress, query)
            except (RPCError, WorkflowQueryFailedError):
                # The rollout may be between two runs (continue-as-new) for a moment.
                if attempt == _QUERY_RETRIES - 1:
                    raise
                await asyncio.sleep(0.1 * (attempt + 1))
        raise AssertionError("unreachable")

    async def items(
        self,
        *,
        statuses: Sequence[ItemStatus] | None = None,
        ops: Sequence[RolloutOp] | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[ItemReport]:
        """Every item (in ``statuses``, of ``ops``; at most ``limit``) in plan order, read a
        page at a time. Each page is read when the one before is used up: of a running rollout
        it is the state at that moment, of an ended one the final state."""
        async for page in self._pages(statuses, ops, limit, page_size):
            for item in page.items:
                yield item

    async def _pages(
        self,
        statuses: Sequence[ItemStatus] | None,
        ops: Sequence[RolloutOp] | None,
        limit: int | None,
        page_size: int | None,
    ) -> AsyncIterator[RolloutProgress]:
        size = page_size or PAGE_ITEMS
        if not 1 <= size <= MAX_PAGE_ITEMS:
            raise ValueError(f"page_size is 1 to {MAX_PAGE_ITEMS}")
        # Paged by plan index, not offset: on a running rollout an item that changes state
        # between two pages must not shift the others out of the listing.
        listed, after = 0, -1
        while True:
            want = size if limit is None else min(size, limit - listed)
            page = await self.progress(after_index=after, limit=want, statuses=statuses, ops=ops)
            yield page
            listed += len(page.items)
            if not page.items or len(page.items) >= page.matched:
                return
            if limit is not None and listed >= limit:
                return
            after = page.items[-1].index

    async def status(
        self, *, limit: int | None = 50, page_size: int | None = None
    ) -> RolloutProgress:
        """Running: live progress with the items that are not applied (yet). Ended: the
        final report's totals and its items that did not end applied.

        Lists at most ``limit`` items; ``None`` lists every one (read page by page; items the
        final report left out come from the ended workflow's progress query, which needs a
        worker)."""
        description = await self.handle.describe()
        if description.status is WorkflowExecutionStatus.RUNNING:
            return await self._listing(_NOT_APPLIED, limit, page_size)
        if description.status is not WorkflowExecutionStatus.COMPLETED:
            name = description.status.name.lower() if description.status else "unknown"
            raise FleetError(f"rollout {self.id} ended {name} without a report")
        report = await self.result()
        matched = report.totals.not_applied
        wanted = matched if limit is None else min(limit, matched)
        if wanted <= len(report.not_applied):
            items = report.not_applied[:wanted]
        else:
            items = (await self._listing(_NOT_APPLIED, wanted, page_size)).items
        return RolloutProgress(
            rollout_id=report.rollout_id,
            name=report.name,
            state=report.state,
            totals=report.totals,
            items=items,
            matched=matched,
            runs=report.runs,
            started_at=report.started_at,
            stop_reason=report.stop_reason,
        )

    async def _listing(
        self, statuses: Sequence[ItemStatus], limit: int | None, page_size: int | None
    ) -> RolloutProgress:
        """The first page's progress with the items of every page (up to ``limit``)."""
        first: RolloutProgress | None = None
        items: list[ItemReport] = []
        async for page in self._pages(statuses, None, limit, page_size):
            first = first or page
            items.extend(page.items)
        assert first is not None
        update: dict[str, object] = {"items": items}
        if limit is None:
            # Every matching item was listed (a running rollout: as each page found them).
            update["matched"] = len(items)
        return first.model_copy(update=update)

    async def report(self, *, page_size: int | None = None) -> RolloutReport:
        """Wait for the end, then the complete final report: every item that did not end
        applied (and why) and every new auth id.

        The workflow's result lists a bounded number of both (it must stay well below
        Temporal's payload limit); the rest are read from the ended workflow's progress query,
        a page at a time, which needs a worker. Raises :class:`FleetError` if the pages do not
        add up to the report's totals."""
        return await self.complete(await self.result(), page_size=page_size)

    async def complete(
        self, report: RolloutReport, *, page_size: int | None = None
    ) -> RolloutReport:
        """``report`` (this rollout's result) with what it left out paged in."""
        update: dict[str, Any] = {}
        if report.not_applied_omitted:
            not_applied = [
                item async for item in self.items(statuses=_NOT_APPLIED, page_size=page_size)
            ]
            if len(not_applied) != report.totals.not_applied:
                raise FleetError(
                    f"rollout {self.id} listed {len(not_applied)} items not applied; its report "
                    f"counts {report.totals.not_applied}"
                )
            update.update(not_applied=not_applied, not_applied_omitted=0)
        if report.created_omitted:
            created = {
                item.index: item.auth_id
                async for item in self.items(
                    statuses=[ItemStatus.APPLIED], ops=[RolloutOp.CREATE], page_size=page_size
                )
                # Also filtered here: a worker from before the ops filter sends every op.
                if item.op is RolloutOp.CREATE and item.auth_id is not None
            }
            expected = len(report.created) + report.created_omitted
            if len(created) != expected:
                raise FleetError(
                    f"rollout {self.id} listed {len(created)} new auths; its report counts "
                    f"{expected}"
                )
            update.update(created=created, created_omitted=0)
        return report.model_copy(update=update) if update else report

    async def watch(self, interval: float = 1.0) -> AsyncIterator[RolloutProgress]:
        """Progress (totals only) every ``interval`` seconds until the rollout ends; the last
        one yielded is the final state."""
        while True:
            description = await self.handle.describe()
            if description.status is not WorkflowExecutionStatus.RUNNING:
                yield await self.status(limit=0)
                return
            progress = await self.progress(limit=0)
            yield progress
            if progress.state.final:
                return
            await asyncio.sleep(interval)

    async def pause(self, reason: str | None = None) -> RolloutProgress:
        return await self._control(RolloutWorkflow.pause, reason)

    async def resume(self, reason: str | None = None) -> RolloutProgress:
        return await self._control(RolloutWorkflow.resume, reason)

    async def cancel(self, reason: str | None = None) -> RolloutProgress:
        """Start no more items; the rollout ends once those in flight are done (or the drain
        time passed) with a report in which the rest are 'skipped'."""
        return await self._control(RolloutWorkflow.cancel, reason)

    async def result(self) -> RolloutReport:
        """Wait for the workflow's result (follows continue-as-new): the final report, whose
        lists may be cut short (see ``not_applied_omitted``); :meth:`report` completes them."""
        return await self.handle.result()

    async def _control(self, update: Any, reason: str | None) -> RolloutProgress:
        try:
            result: RolloutProgress = await self.handle.execute_update(
                update, _checked(ControlRequest, reason=reason)
            )
        except WorkflowUpdateFailedError as exc:
            raise _update_error(exc) from None
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                raise FleetError(f"rollout {self.id} is not running ({exc.message})") from None
            raise
        return result


class GrantHandle:
    """A time-limited access grant."""

    def __init__(self, handle: WorkflowHandle[AccessGrantWorkflow, GrantView]) -> None:
        self.handle = handle

    @property
    def id(self) -> str:
        return self.handle.id

    async def state(self) -> GrantView:
        """The grant now (needs a worker while it runs; its result once it ended)."""
        description = await self.handle.describe()
        if description.status is WorkflowExecutionStatus.RUNNING:
            return await self.handle.query(AccessGrantWorkflow.state)
        return await self.handle.result()

    async def created(self) -> GrantView:
        """Wait until the code is on the lock (verified) or its create failed."""
        return await self._update(AccessGrantWorkflow.created, WaitRequest())

    async def revoke(self, reason: str | None = None, *, wait: bool = False) -> GrantView:
        """Revoke now; with ``wait``, return once the revocation is verified."""
        view = await self._update(
            AccessGrantWorkflow.revoke, _checked(RevokeRequest, reason=reason)
        )
        return await self.result() if wait else view

    async def extend(
        self,
        until: str | datetime | date,
        *,
        tz: str | tzinfo | None = None,
        request_id: str | None = None,
    ) -> GrantView:
        """Move the end (written onto the lock first); raises :class:`FleetError` if the lock
        did not take it (the old end stays)."""
        when = to_utc(until, tz, what="the new end")
        request = _checked(ExtendRequest, request_id=request_id or uuid.uuid4().hex, until=when)
        return await self._update(AccessGrantWorkflow.extend, request)

    async def result(self) -> GrantView:
        """Wait until the grant ended (revoked, or its create failed)."""
        return await self.handle.result()

    async def _update(self, update: Any, argument: Any) -> GrantView:
        try:
            view: GrantView = await self.handle.execute_update(update, argument)
        except WorkflowUpdateFailedError as exc:
            raise _update_error(exc) from None
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                raise FleetError(f"grant {self.id} is not running ({exc.message})") from None
            raise
        return view


M = TypeVar("M", bound=BaseModel)


def _checked(model: type[M], **values: Any) -> M:
    """``model`` built from ``values``, or :class:`InputError` saying what to fix."""
    try:
        return model(**values)
    except ValidationError as exc:
        raise InputError(validation_message(exc)) from None


def _cause_message(exc: WorkflowUpdateFailedError) -> str:
    cause = exc.cause
    return getattr(cause, "message", None) or str(cause) or str(exc)


def _update_error(exc: WorkflowUpdateFailedError) -> FleetError:
    """A validator's refusal (or the handler's typed one) is :class:`FleetRefusedError`."""
    cause = exc.cause
    refused = isinstance(cause, ApplicationError) and cause.type in ("ValueError", REFUSED)
    cls = FleetRefusedError if refused else FleetError
    return cls(_cause_message(exc))
