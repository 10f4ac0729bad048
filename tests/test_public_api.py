"""The package's public API: what `from nukiflow import *` gives, and that it stays light."""

from __future__ import annotations

import subprocess
import sys

import nukiflow

EXPECTED = {
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
    "InputError",
    "WorkflowTiming",
    "__version__",
    "build_worker",
    "run_worker",
}


def test_all_is_the_documented_api_and_every_name_resolves() -> None:
    assert set(nukiflow.__all__) == EXPECTED
    assert len(nukiflow.__all__) == len(EXPECTED)
    for name in nukiflow.__all__:
        assert getattr(nukiflow, name) is not None, name
    assert set(nukiflow.__all__) <= set(dir(nukiflow))


def test_names_are_the_library_objects() -> None:
    from nukiflow.client import NukiFlow
    from nukiflow.contracts.action import ActionOutcome
    from nukiflow.contracts.auth import AuthOutcome
    from nukiflow.temporal.worker import build_worker

    assert nukiflow.NukiFlow is NukiFlow
    assert nukiflow.AuthOutcome is AuthOutcome
    assert nukiflow.ActionOutcome is ActionOutcome
    assert nukiflow.build_worker is build_worker
    facade = nukiflow.NukiFlow
    for method in (
        "connect",
        "update_auth",
        "create_auth",
        "start_create_auth",
        "delete_auth",
        "auth_state",
        "action",
        "lock_state",
    ):
        assert callable(getattr(facade, method)), method


def test_fleet_names_are_the_library_objects() -> None:
    from nukiflow.contracts.access import GrantView
    from nukiflow.contracts.rollout import RolloutPlan, RolloutReport
    from nukiflow.fleet import Fleet, RolloutConflictError
    from nukiflow.fleet.plan import PlanError

    assert nukiflow.Fleet is Fleet
    assert nukiflow.RolloutPlan is RolloutPlan
    assert nukiflow.RolloutReport is RolloutReport
    assert nukiflow.GrantView is GrantView
    assert nukiflow.PlanError is PlanError
    assert nukiflow.RolloutConflictError is RolloutConflictError
    for method in ("apply_rollout", "rollout", "grant_access", "grant"):
        assert callable(getattr(nukiflow.Fleet, method)), method
    # A plan built from the exported names alone is what apply_rollout takes.
    plan = nukiflow.RolloutPlan(
        items=[
            nukiflow.RolloutItem(op=nukiflow.RolloutOp.DELETE, smartlock_id=1, auth_id="a" * 24)
        ],
        options=nukiflow.RolloutOptions(on_failure=nukiflow.FailurePolicy.STOP),
    )
    assert plan.options.on_failure is nukiflow.FailurePolicy.STOP


def test_star_import_and_unknown_names() -> None:
    namespace: dict[str, object] = {}
    exec("from nukiflow import *", namespace)
    assert EXPECTED - {"__version__"} <= set(namespace)
    try:
        nukiflow.no_such_name  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("unknown names must raise AttributeError")


def test_importing_the_package_does_not_load_temporal() -> None:
    code = "import sys, nukiflow; print('temporalio' in sys.modules, nukiflow.__version__)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", nukiflow.__version__]
