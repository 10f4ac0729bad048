"""nukiflow: reliable changes to Nuki smart locks, as durable Temporal workflows.

The public API::

    from nukiflow import NukiFlow, Settings

    flow = await NukiFlow.connect(Settings())          # NUKIFLOW_* environment variables
    outcome = await flow.update_auth(smartlock_id, auth_id, {"code": 535353})
    if outcome.status is OutcomeStatus.APPLIED: ...     # verified on the lock

    fleet = Fleet(flow)                                 # rollouts and time-limited access
    report = await (await fleet.apply_rollout("plan.yaml")).result()

Names are imported on first use (``import nukiflow`` stays light: the simulator and the CLI's
help do not load the Temporal SDK).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> module that defines it.
_EXPORTS: dict[str, str] = {
    # The facade and its configuration.
    "NukiFlow": "nukiflow.client",
    "Settings": "nukiflow.settings",
    "WorkflowTiming": "nukiflow.models.timing",
    # Authorizations.
    "AuthPatch": "nukiflow.models.auth",
    "AuthOutcome": "nukiflow.models.auth",
    "OutcomeStatus": "nukiflow.models.auth",
    "ChangeKind": "nukiflow.models.auth",
    "RedactedAuth": "nukiflow.models.auth",
    "AuthEntityView": "nukiflow.models.entity",
    "EntityStatus": "nukiflow.models.entity",
    # Lock actions.
    "ActionName": "nukiflow.models.action",
    "ActionOutcome": "nukiflow.models.action",
    "ActionStatus": "nukiflow.models.action",
    "LockActionsView": "nukiflow.models.action",
    # Fleet rollouts and time-limited access grants.
    "Fleet": "nukiflow.fleet",
    "RolloutHandle": "nukiflow.fleet",
    "GrantHandle": "nukiflow.fleet",
    "FleetError": "nukiflow.fleet",
    "FleetRefusedError": "nukiflow.fleet",
    "RolloutConflictError": "nukiflow.fleet",
    "PlanError": "nukiflow.plan",
    "InputError": "nukiflow.models.validation",
    "TimeZoneError": "nukiflow.timezones",
    "RolloutPlan": "nukiflow.models.rollout",
    "RolloutItem": "nukiflow.models.rollout",
    "RolloutOp": "nukiflow.models.rollout",
    "RolloutOptions": "nukiflow.models.rollout",
    "FailurePolicy": "nukiflow.models.rollout",
    "RolloutProgress": "nukiflow.models.rollout",
    "RolloutReport": "nukiflow.models.rollout",
    "RolloutTotals": "nukiflow.models.rollout",
    "ItemReport": "nukiflow.models.rollout",
    "ItemStatus": "nukiflow.models.rollout",
    "RolloutState": "nukiflow.models.rollout",
    "GrantView": "nukiflow.models.access",
    "GrantStatus": "nukiflow.models.access",
    "GrantTiming": "nukiflow.models.access",
    "AccessWindow": "nukiflow.models.access",
    # Running workers.
    "build_worker": "nukiflow.worker",
    "run_worker": "nukiflow.worker",
}

__all__ = [
    "AccessWindow",
    "ActionName",
    "ActionOutcome",
    "ActionStatus",
    "AuthEntityView",
    "AuthOutcome",
    "AuthPatch",
    "ChangeKind",
    "EntityStatus",
    "FailurePolicy",
    "Fleet",
    "FleetError",
    "FleetRefusedError",
    "GrantHandle",
    "GrantStatus",
    "GrantTiming",
    "GrantView",
    "InputError",
    "ItemReport",
    "ItemStatus",
    "LockActionsView",
    "NukiFlow",
    "OutcomeStatus",
    "PlanError",
    "RedactedAuth",
    "RolloutConflictError",
    "RolloutHandle",
    "RolloutItem",
    "RolloutOp",
    "RolloutOptions",
    "RolloutPlan",
    "RolloutProgress",
    "RolloutReport",
    "RolloutState",
    "RolloutTotals",
    "Settings",
    "TimeZoneError",
    "WorkflowTiming",
    "__version__",
    "build_worker",
    "run_worker",
]

if TYPE_CHECKING:
    from nukiflow.client import NukiFlow
    from nukiflow.fleet import (
        Fleet,
        FleetError,
        FleetRefusedError,
        GrantHandle,
        RolloutConflictError,
        RolloutHandle,
    )
    from nukiflow.models.access import AccessWindow, GrantStatus, GrantTiming, GrantView
    from nukiflow.models.action import ActionName, ActionOutcome, ActionStatus, LockActionsView
    from nukiflow.models.auth import (
        AuthOutcome,
        AuthPatch,
        ChangeKind,
        OutcomeStatus,
        RedactedAuth,
    )
    from nukiflow.models.entity import AuthEntityView, EntityStatus
    from nukiflow.models.rollout import (
        FailurePolicy,
        ItemReport,
        ItemStatus,
        RolloutItem,
        RolloutOp,
        RolloutOptions,
        RolloutPlan,
        RolloutProgress,
        RolloutReport,
        RolloutState,
        RolloutTotals,
    )
    from nukiflow.models.timing import WorkflowTiming
    from nukiflow.models.validation import InputError
    from nukiflow.plan import PlanError
    from nukiflow.settings import Settings
    from nukiflow.timezones import TimeZoneError
    from nukiflow.worker import build_worker, run_worker


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nukiflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
