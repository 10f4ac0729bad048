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

The worker needs :func:`~nukiflow.fleet.fleet_workflows` and
:func:`~nukiflow.fleet.fleet_activities` next to the auth workflows and activities (see
:mod:`nukiflow.fleet.assembly`). Handles: :mod:`nukiflow.fleet.rollouts`,
:mod:`nukiflow.fleet.grants`.

Rollout identity: the workflow id is ``nuki-rollout-<sha256 prefix of the plan>`` unless the
caller names the rollout. Keypad codes are left out of that hash (workflow ids are plain text
and a six-digit code is quick to brute-force from a hash); the full digest is kept in the
encrypted memo, so submitting a plan that differs only in codes is refused instead of attaching
to the wrong rollout. Re-submitting the same plan attaches to the rollout, running or finished;
after a terminated or failed one it starts again and every item attaches to the change it
started (same request ids).
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from nukiflow.client import NukiFlow
from nukiflow.contracts import search_attributes as sa
from nukiflow.contracts.access import (
    GrantInput,
    GrantRequest,
    GrantStatus,
    GrantTiming,
    GrantView,
    check_grant_id,
    grant_workflow_id,
)
from nukiflow.contracts.messages import validation_message
from nukiflow.contracts.names import ACCESS_GRANT_WORKFLOW, ROLLOUT_WORKFLOW
from nukiflow.contracts.rollout import (
    ReportLimits,
    RolloutInput,
    RolloutItem,
    RolloutOptions,
    RolloutPlan,
    RolloutReport,
    RolloutState,
    check_rollout_id,
    describe_plan,
)
from nukiflow.contracts.timing import WorkflowTiming
from nukiflow.contracts.validation import InputError, check_text
from nukiflow.fleet.errors import FleetError, RolloutConflictError
from nukiflow.fleet.grants import GrantHandle, read_lock_zone
from nukiflow.fleet.plan import PlanError, load_plan, parse_plan
from nukiflow.fleet.rollouts import RolloutHandle
from nukiflow.times.zones import nuki_window

_MEMO_DIGEST = "plan_digest"
_MEMO_SUBMISSION = "submission"

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
        # The facade whose account rules a grant that names no account follows.
        self._flow = target if isinstance(target, NukiFlow) else None
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
                ROLLOUT_WORKFLOW,
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
                static_summary=f"rollout {describe_plan(plan.name or workflow_id, plan.items)}",
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
        return RolloutHandle(
            self.client.get_workflow_handle(workflow_id, result_type=RolloutReport)
        )

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
        account: str | None = None,
    ) -> GrantHandle:
        """Create a keypad code valid from ``start`` to ``end`` and revoke it at the end.

        ``account``: the Nuki account of the lock (default: as the facade finds it; see
        README, Many accounts).

        Times without an offset are read in ``tz``; ``weekdays`` (``mon-fri``) and ``times``
        (``08:00-12:00``) restrict it further, in the lock's local time: ``lock_tz``, else the
        lock's own zone (its ``config.timezoneId``, read by a worker when ``tz`` is given with
        weekdays or times), else ``tz``. Returns at once (the grant's workflow creates the
        code; ``await handle.created()`` waits for it). The same ``request_id`` attaches to
        the same grant.
        Raises ``ValueError`` (:class:`~nukiflow.times.zones.TimeZoneError`,
        :class:`~nukiflow.fleet.plan.PlanError`, :class:`~nukiflow.contracts.validation.InputError`)
        for bad input, before anything reaches Temporal; also for a window that has ended,
        unless ``request_id`` names a grant made before (which it then attaches to).
        """
        window = nuki_window(start, end, tz=tz, lock_tz=lock_tz, weekdays=weekdays, times=times)
        if self._flow is not None:
            account = await self._flow.account_for(smartlock_id, account)
        if request_id is None:
            window.check_not_over(datetime.now(UTC))
        try:
            request = GrantRequest(
                request_id=request_id or uuid.uuid4().hex,
                smartlock_id=smartlock_id,
                name=name,
                code=code,
                window=window,
                account=account,
            )
        except ValidationError as exc:
            raise PlanError(validation_message(exc)) from None
        if lock_tz is None and tz is not None and (weekdays is not None or times is not None):
            # Daily times and weekdays are the lock's local time: read its own zone (the
            # window above, read as if the lock were in ``tz``, checked the input first).
            lock_zone = await read_lock_zone(self.client, self.task_queue, smartlock_id, account)
            if lock_zone is not None:
                window = nuki_window(
                    start, end, tz=tz, lock_tz=lock_zone, weekdays=weekdays, times=times
                )
                request = GrantRequest(
                    request_id=request.request_id,
                    smartlock_id=smartlock_id,
                    name=name,
                    code=code,
                    window=window,
                )
        workflow_id = grant_workflow_id(smartlock_id, request.request_id)
        # Without an account, the digest of grants made before accounts existed.
        unnamed = {"account"} if request.account is None else None
        digest = hashlib.sha256(request.model_dump_json(exclude=unnamed).encode()).hexdigest()
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
        smartlock_id = request.smartlock_id
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self.client.start_workflow(
                ACCESS_GRANT_WORKFLOW,
                GrantInput(
                    started_with=request, timing=self.timing, grant_timing=self.grant_timing
                ),
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
                        *(
                            [SearchAttributePair(sa.ACCOUNT, request.account)]
                            if request.account is not None
                            else []
                        ),
                    ]
                ),
                # No window here: an extension moves it, and a summary is fixed at the start
                # (the window in force is in the current details).
                static_summary=f"access {request.name!r}: keypad code on smartlock {smartlock_id}",
            )

    def grant(self, grant_id: str) -> GrantHandle:
        """The handle of a grant by its workflow id (``nuki-access-<smartlock>-<request>``);
        raises :class:`~nukiflow.contracts.validation.InputError` for an id no grant can have."""
        workflow_id = check_grant_id(grant_id)
        return GrantHandle(self.client.get_workflow_handle(workflow_id, result_type=GrantView))
