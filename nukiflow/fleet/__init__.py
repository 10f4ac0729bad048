"""Fleet operations: rollouts of many auth changes and time-limited access grants."""

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
