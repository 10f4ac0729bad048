"""Fleet operations: rollouts of many auth changes and time-limited access grants."""

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
