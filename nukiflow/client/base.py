"""What every part of the facade shares: the Temporal client, the worker's task queue, the
timing handed to new workflows, and the default deadlines, fixed as instants when called."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio.client import Client

from nukiflow.contracts.action import MAX_DEADLINE
from nukiflow.contracts.auth import MAX_CHANGE_DEADLINE
from nukiflow.contracts.deadline import Deadline, resolve_deadline
from nukiflow.contracts.entity import DriftPolicy
from nukiflow.contracts.timing import WorkflowTiming


class FacadeBase:
    """The facade's configuration (see :class:`~nukiflow.client.NukiFlow`)."""

    def __init__(
        self,
        client: Client,
        *,
        task_queue: str,
        timing: WorkflowTiming | None = None,
        max_rewrites: int = 3,
        auth_deadline: timedelta = timedelta(hours=24),
        action_deadline: timedelta = timedelta(seconds=60),
        drift_policy: DriftPolicy = DriftPolicy.ALERT,
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        self.timing = timing or WorkflowTiming()
        self.max_rewrites = max_rewrites
        self.auth_deadline = auth_deadline
        self.action_deadline = action_deadline
        # The drift policy of the auth entities this facade starts (see README, Drift).
        self.drift_policy = drift_policy

    def _auth_deadline_at(self, deadline: Deadline | None) -> datetime:
        """The instant of an auth change's or create's deadline, fixed now."""
        return resolve_deadline(deadline, default=self.auth_deadline, maximum=MAX_CHANGE_DEADLINE)

    def _action_deadline_at(self, deadline: Deadline | None) -> datetime:
        """The instant of an action's deadline, fixed now."""
        return resolve_deadline(deadline, default=self.action_deadline, maximum=MAX_DEADLINE)
