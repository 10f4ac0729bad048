"""Fleet operations: rollouts of many auth changes and time-limited access grants.

Public: :class:`Fleet` and its handles and errors (re-exported below, and as ``nukiflow.Fleet``
etc.), :class:`~nukiflow.fleet.plan.PlanError`, and the plan file format described in
:mod:`nukiflow.fleet.plan`. The rest of the package (how plans are read and bounded, how the
service talks to Temporal) is internal and may change without notice.
"""

from nukiflow.fleet.assembly import fleet_activities, fleet_workflows
from nukiflow.fleet.errors import FleetError, FleetRefusedError, RolloutConflictError
from nukiflow.fleet.grants import GrantHandle
from nukiflow.fleet.rollouts import RolloutHandle
from nukiflow.fleet.service import Fleet

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
