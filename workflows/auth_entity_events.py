"""What the authorization entity does with the lock's reports (``nuki_auth_event``): judge them
against the verified state and act on drift by the auth's policy.

Workflow code (deterministic; it sets search attributes and details through the book), split
from :mod:`nukiflow.workflows.auth_entity`, which inherits this; the plain judging of one event
is :mod:`nukiflow.workflows.auth_drift`.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from nukiflow.contracts.auth import AuthChange, ChangeKind
    from nukiflow.contracts.entity import DriftPolicy, EntityStatus, PendingChange
    from nukiflow.contracts.events import AuthEvent
    from nukiflow.workflows.auth_drift import EventJudgement, judge_event, remember
    from nukiflow.workflows.auth_entity_book import EntityBook

# The request ids of the writes that enforce the desired state after a drift.
ENFORCE_PREFIX = "drift-enforce-"


class EntityEvents(EntityBook):
    def _take_events(self) -> None:
        """Judge the events that came in; only an idle entity in sync (or drifted) judges."""
        events, self._events = self._events, []
        for event in events:
            if self._status not in (EntityStatus.IN_SYNC, EntityStatus.DRIFTED):
                workflow.logger.info("event ignored: the entity is %s", self._status.value)
                continue
            judged = judge_event(event, self._verified, self._lock_date, self._recent_digests)
            self._recent_digests = remember(self._recent_digests, event.digest)
            if not judged.taken:
                workflow.logger.info("event ignored: %s", judged.ignored_because)
                continue
            self._took_read(event.auth.update_date)
            if not judged.differences:
                if self._status is EntityStatus.DRIFTED:
                    # The lock is back at the verified state.
                    self._set_status(EntityStatus.IN_SYNC)
                continue
            self._on_drift(event, judged)

    def _on_drift(self, event: AuthEvent, judged: EventJudgement) -> None:
        self._drift = judged.differences
        policy = self._drift_policy
        workflow.logger.warning(
            "the lock drifted in %s (policy %s)", ", ".join(judged.differences), policy.value
        )
        # A deleted auth cannot be written again under its id, nor adopted while changes may
        # come: it is shown, whatever the policy.
        if judged.reported is None or policy is DriftPolicy.ALERT:
            self._set_status(EntityStatus.DRIFTED)
            return
        if policy is DriftPolicy.ADOPT:
            self._desired = self._verified = judged.reported
            self._set_status(EntityStatus.IN_SYNC)
            return
        # Enforce: the desired state goes through the normal write path (write, wait, read
        # back, compare) as a change of its own, answered and counted like any other.
        self._set_status(EntityStatus.DRIFTED)
        self._counter += 1
        enforce = AuthChange.model_construct(
            request_id=f"{ENFORCE_PREFIX}{event.digest[:16]}",
            kind=ChangeKind.UPDATE,
            # Bypasses the rule that an update sets a field: this one writes the desired state
            # as it is. No deadline given: the default change deadline from now.
            patch=None,
        )
        self._pending.append(
            PendingChange.model_construct(
                number=self._counter, change=enforce, accepted_at=workflow.now()
            )
        )
        self._show_details()
