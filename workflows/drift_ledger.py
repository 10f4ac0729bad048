"""The drift ledger: one long-lived workflow per smartlock (``nuki-unmanaged-<smartlockId>``).

The webhook receiver signals it (``nuki_unmanaged_auth``, signal-with-start) with every
``DEVICE_AUTHS`` delivery about an auth that no entity workflow manages. It keeps one entry per
such auth (no keypad code, see :mod:`nukiflow.contracts.drift`) for a later reconciliation to
adopt, enforce or report, answers the ``state`` query, and shows in the Temporal UI through
``NukiSmartlockId``, ``NukiKind=unmanaged`` and ``NukiStatus`` (``unmanaged`` while one of the
auths is on the lock as last reported, else ``clear``).

Decisions: one ledger per smartlock rather than per account, like every other nukiflow
workflow: ids carry the lock, a lock's churn never rewrites another lock's history, and the UI
filters by ``NukiSmartlockId``. Deliveries come out of order, so a report replaces the kept state
only when it is newer (Nuki's ``updateDate``, then the time it was received); a deletion is
final, since Nuki never gives an auth id again. The same delivery taken twice (two receivers,
or one that restarted) is ignored by its digest (the last 200 are remembered). Size is
bounded: beyond ``max_entries`` deleted auths go first, then the ones seen longest ago. The run
continues as new before its history grows large. Signal handling is synchronous, so no signal
is lost across continue-as-new.
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import nukiflow.contracts.search_attributes as sa
    from nukiflow.contracts.drift import (
        REMEMBERED_DIGESTS,
        DriftLedgerInput,
        DriftLedgerView,
        LedgerStatus,
        UnmanagedAuth,
    )
    from nukiflow.contracts.events import LEDGER_KIND, UnmanagedAuthSighting
    from nukiflow.contracts.names import (
        DRIFT_LEDGER_WORKFLOW,
        STATE_QUERY,
        UNMANAGED_AUTH_SIGNAL,
    )
    from nukiflow.workflows.auth_details import type_name
    from nukiflow.workflows.markdown import md

# Unmanaged auths the current details list by name (the latest seen).
LISTED = 10

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _report_order(update_date: datetime | None, received_at: datetime) -> tuple[datetime, datetime]:
    return (update_date or _EPOCH, received_at)


def merge_sighting(entry: UnmanagedAuth, sighting: UnmanagedAuthSighting) -> UnmanagedAuth:
    """``entry`` updated with a later (or earlier: deliveries are reordered) sighting."""
    update: dict[str, object] = {
        "sightings": entry.sightings + 1,
        "first_seen": min(entry.first_seen, sighting.received_at),
        "last_seen": max(entry.last_seen, sighting.received_at),
        "entity_ended": entry.entity_ended or sighting.entity_ended,
    }
    if entry.deleted:
        return entry.model_copy(update=update)
    if sighting.deleted or _report_order(sighting.update_date, sighting.received_at) > (
        _report_order(entry.update_date, entry.reported_at)
    ):
        update |= {
            "name": sighting.name,
            "type": sighting.type,
            "enabled": sighting.enabled,
            "deleted": sighting.deleted,
            "update_date": sighting.update_date or entry.update_date,
            "reported_at": sighting.received_at,
        }
    return entry.model_copy(update=update)


@workflow.defn(name=DRIFT_LEDGER_WORKFLOW)
class DriftLedgerWorkflow:
    @workflow.init
    def __init__(self, input: DriftLedgerInput) -> None:
        self._input = input
        self._entries: dict[str, UnmanagedAuth] = {e.auth_id: e for e in input.entries}
        self._sightings = input.sightings
        self._evicted = input.evicted
        # Insertion-ordered: the oldest digest is dropped first.
        self._digests: dict[str, None] = dict.fromkeys(input.recent_digests)
        self._status_published: LedgerStatus | None = None

    @workflow.signal(name=UNMANAGED_AUTH_SIGNAL)
    def record(self, sighting: UnmanagedAuthSighting) -> None:
        """Keep what the lock reported about an auth nukiflow does not manage."""
        if sighting.smartlock_id != self._input.smartlock_id:
            workflow.logger.warning(
                "ignored a sighting of smartlock %s sent to the ledger of smartlock %s",
                sighting.smartlock_id,
                self._input.smartlock_id,
            )
            return
        if sighting.digest in self._digests:
            return
        self._digests[sighting.digest] = None
        while len(self._digests) > REMEMBERED_DIGESTS:
            del self._digests[next(iter(self._digests))]
        entry = self._entries.get(sighting.auth_id)
        self._sightings += 1
        if entry is None:
            self._entries[sighting.auth_id] = UnmanagedAuth.first(sighting)
            self._evict()
        else:
            self._entries[sighting.auth_id] = merge_sighting(entry, sighting)
        self._publish_status()
        self._show_details()

    @workflow.query(name=STATE_QUERY)
    def state(self) -> DriftLedgerView:
        entries = sorted(self._entries.values(), key=lambda e: (e.last_seen, e.auth_id))
        entries.reverse()
        deleted = sum(1 for e in entries if e.deleted)
        return DriftLedgerView(
            smartlock_id=self._input.smartlock_id,
            status=self._status(),
            unmanaged=len(entries) - deleted,
            deleted=deleted,
            entries=entries,
            sightings=self._sightings,
            evicted=self._evicted,
            history_length=workflow.info().get_current_history_length(),
        )

    @workflow.run
    async def run(self, input: DriftLedgerInput) -> None:
        self._publish_status()
        self._show_details()
        await workflow.wait_condition(self._rollover_due)
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(
            input.model_copy(
                update={
                    "entries": list(self._entries.values()),
                    "sightings": self._sightings,
                    "evicted": self._evicted,
                    "recent_digests": list(self._digests),
                }
            )
        )

    def _rollover_due(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._input.max_history_events
        )

    def _evict(self) -> None:
        """Keep at most ``max_entries``: deleted auths first, then those seen longest ago."""
        excess = len(self._entries) - self._input.max_entries
        if excess <= 0:
            return
        victims = sorted(
            self._entries.values(), key=lambda e: (not e.deleted, e.last_seen, e.auth_id)
        )[:excess]
        for victim in victims:
            del self._entries[victim.auth_id]
        self._evicted += len(victims)

    def _status(self) -> LedgerStatus:
        if any(not e.deleted for e in self._entries.values()):
            return LedgerStatus.UNMANAGED
        return LedgerStatus.CLEAR

    def _publish_status(self) -> None:
        status = self._status()
        if status is self._status_published:
            return
        workflow.upsert_search_attributes(
            [
                sa.SMARTLOCK_ID.value_set(self._input.smartlock_id),
                sa.KIND.value_set(LEDGER_KIND),
                sa.STATUS.value_set(status.value),
            ]
        )
        self._status_published = status

    def _show_details(self) -> None:
        present = [e for e in self._entries.values() if not e.deleted]
        lines = [
            f"**Unmanaged auths** on smartlock `{self._input.smartlock_id}`",
            f"**On the lock:** {len(present)} · deleted since: "
            f"{len(self._entries) - len(present)} · sightings: {self._sightings}",
        ]
        # The latest seen first, by name and type (never a code).
        latest = sorted(present, key=lambda e: e.last_seen, reverse=True)[:LISTED]
        lines.extend(
            f"- {md(e.name)} · {type_name(e.type)} `{e.auth_id}` · "
            f"{'enabled' if e.enabled else 'disabled'} · last seen "
            f"{e.last_seen:%Y-%m-%d %H:%M} UTC"
            for e in latest
        )
        if len(present) > LISTED:
            lines.append(f"and {len(present) - LISTED} more (the `state` query lists them)")
        workflow.set_current_details("\n\n".join(lines))
