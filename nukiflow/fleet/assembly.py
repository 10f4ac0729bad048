"""What a nukiflow worker runs for rollouts and grants (the Fleet client needs none of it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nukiflow.activities.fleet_activities import FleetActivities
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.contracts.ports import AuthChanges
from nukiflow.workflows.access_grant import AccessGrantWorkflow
from nukiflow.workflows.rollout import RolloutWorkflow


def fleet_workflows() -> list[type]:
    """The workflows a nukiflow worker runs for rollouts and grants."""
    return [RolloutWorkflow, AccessGrantWorkflow]


def fleet_activities(nuki: NukiClient, flow: AuthChanges) -> list[Callable[..., Any]]:
    """The activities a nukiflow worker runs for rollouts and grants.

    ``flow`` (a :class:`~nukiflow.client.NukiFlow`) must use the worker's task queue: the items
    it sends start the auth workflows there. ``nuki`` is the worker's Nuki client (read-only
    checks of revocations).
    """
    activities = FleetActivities(nuki, flow)
    # apply_item first: it alone talks only to Temporal (the others run per account).
    return [activities.apply_item, activities.revoke_auth, activities.find_auth]
