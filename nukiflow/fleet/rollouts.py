"""The handle of a rollout: its progress page by page, its complete report, and steering
(pause, resume, cancel)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from nukiflow.contracts.names import (
    ROLLOUT_CANCEL_UPDATE,
    ROLLOUT_PAUSE_UPDATE,
    ROLLOUT_PROGRESS_QUERY,
    ROLLOUT_RESUME_UPDATE,
)
from nukiflow.contracts.rollout import (
    MAX_PAGE_ITEMS,
    ControlRequest,
    ItemReport,
    ItemStatus,
    ProgressQuery,
    RolloutOp,
    RolloutProgress,
    RolloutReport,
)
from nukiflow.fleet.errors import FleetError, checked, update_error

# A query can miss a rollout for a moment while it continues as new: ask again this often.
_QUERY_RETRIES = 20
# Items per progress query when reading whole lists (at most MAX_PAGE_ITEMS).
PAGE_ITEMS = MAX_PAGE_ITEMS
_NOT_APPLIED = tuple(status for status in ItemStatus if status is not ItemStatus.APPLIED)


class RolloutHandle:
    """A running or finished rollout."""

    def __init__(
        self, handle: WorkflowHandle[Any, RolloutReport], *, attached: bool = False
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
                progress: RolloutProgress = await self.handle.query(
                    ROLLOUT_PROGRESS_QUERY, query, result_type=RolloutProgress
                )
                return progress
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
        return await self._control(ROLLOUT_PAUSE_UPDATE, reason)

    async def resume(self, reason: str | None = None) -> RolloutProgress:
        return await self._control(ROLLOUT_RESUME_UPDATE, reason)

    async def cancel(self, reason: str | None = None) -> RolloutProgress:
        """Start no more items; the rollout ends once those in flight are done (or the drain
        time passed) with a report in which the rest are 'skipped'."""
        return await self._control(ROLLOUT_CANCEL_UPDATE, reason)

    async def result(self) -> RolloutReport:
        """Wait for the workflow's result (follows continue-as-new): the final report, whose
        lists may be cut short (see ``not_applied_omitted``); :meth:`report` completes them."""
        return await self.handle.result()

    async def _control(self, update: str, reason: str | None) -> RolloutProgress:
        try:
            result: RolloutProgress = await self.handle.execute_update(
                update, checked(ControlRequest, reason=reason), result_type=RolloutProgress
            )
        except WorkflowUpdateFailedError as exc:
            raise update_error(exc) from None
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                raise FleetError(f"rollout {self.id} is not running ({exc.message})") from None
            raise
        return result
