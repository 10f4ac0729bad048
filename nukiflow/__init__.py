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
    "WorkflowTiming": "nukiflow.contracts.timing",
    # Authorizations.
    "AuthPatch": "nukiflow.contracts.auth",
    "AuthOutcome": "nukiflow.contracts.auth",
    "OutcomeStatus": "nukiflow.contracts.auth",
    "ChangeKind": "nukiflow.contracts.auth",
    "RedactedAuth": "nukiflow.contracts.auth",
    "AuthEntityView": "nukiflow.contracts.entity",
    "EntityStatus": "nukiflow.contracts.entity",
    "DriftPolicy": "nukiflow.contracts.entity",
    # Lock actions.
    "ActionName": "nukiflow.contracts.action",
    "ActionOutcome": "nukiflow.contracts.action",
    "ActionStatus": "nukiflow.contracts.action",
    "LockActionsView": "nukiflow.contracts.action",
    # Fleet rollouts and time-limited access grants.
    "Fleet": "nukiflow.fleet",
    "RolloutHandle": "nukiflow.fleet",
    "GrantHandle": "nukiflow.fleet",
    "FleetError": "nukiflow.fleet",
    "FleetRefusedError": "nukiflow.fleet",
    "RolloutConflictError": "nukiflow.fleet",
    "PlanError": "nukiflow.fleet.plan",
    "InputError": "nukiflow.contracts.validation",
    "TimeZoneError": "nukiflow.times.zones",
    "RolloutPlan": "nukiflow.contracts.rollout",
    "RolloutItem": "nukiflow.contracts.rollout",
    "RolloutOp": "nukiflow.contracts.rollout",
    "RolloutOptions": "nukiflow.contracts.rollout",
    "FailurePolicy": "nukiflow.contracts.rollout",
    "RolloutProgress": "nukiflow.contracts.rollout",
    "RolloutReport": "nukiflow.contracts.rollout",
    "RolloutTotals": "nukiflow.contracts.rollout",
    "ItemReport": "nukiflow.contracts.rollout",
    "ItemStatus": "nukiflow.contracts.rollout",
    "RolloutState": "nukiflow.contracts.rollout",
    "GrantView": "nukiflow.contracts.access",
    "GrantStatus": "nukiflow.contracts.access",
    "GrantTiming": "nukiflow.contracts.access",
    "AccessWindow": "nukiflow.contracts.access",
    # Running workers.
    "build_worker": "nukiflow.temporal.worker",
    "run_worker": "nukiflow.temporal.worker",
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
    "DriftPolicy",
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
    from nukiflow.contracts.access import AccessWindow, GrantStatus, GrantTiming, GrantView
    from nukiflow.contracts.action import ActionName, ActionOutcome, ActionStatus, LockActionsView
    from nukiflow.contracts.auth import (
        AuthOutcome,
        AuthPatch,
        ChangeKind,
        OutcomeStatus,
        RedactedAuth,
    )
    from nukiflow.contracts.entity import AuthEntityView, DriftPolicy, EntityStatus
    from nukiflow.contracts.rollout import (
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
    from nukiflow.contracts.timing import WorkflowTiming
    from nukiflow.contracts.validation import InputError
    from nukiflow.fleet import (
        Fleet,
        FleetError,
        FleetRefusedError,
        GrantHandle,
        RolloutConflictError,
        RolloutHandle,
    )
    from nukiflow.fleet.plan import PlanError
    from nukiflow.settings import Settings
    from nukiflow.temporal.worker import build_worker, run_worker
    from nukiflow.times.zones import TimeZoneError


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nukiflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
