"""Fleet operations: rollouts of many auth changes and time-limited access grants.

Public: :class:`Fleet` and its handles and errors (re-exported below, and as ``nukiflow.Fleet``
etc.), :class:`~nukiflow.fleet.plan.PlanError`, and the plan file format described in
:mod:`nukiflow.fleet.plan`. The rest of the package (how plans are read and bounded, how the
service talks to Temporal) is internal and may change without notice.
"""

from nukiflow.fleet.service import (
    Fleet,
    FleetError,
    FleetRefusedError,
    GrantHandle,
    RolloutConflictError,
    RolloutHandle,
    fleet_activities,
    fleet_workflows,
)

__all__ = [
    "Fleet",
    "FleetError",
    "FleetRefusedError",
    "GrantHandle",
    "RolloutConflictError",
    "RolloutHandle",
    "fleet_activities",
    "fleet_workflows",
]
