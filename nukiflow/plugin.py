"""nukiflow as one Temporal plugin: its workflows, activities, encrypting converter and tracing.

A user's own worker needs one line::

    from nukiflow.plugin import NukiflowPlugin

    plugin = NukiflowPlugin.from_settings(settings, nuki)      # or NukiflowPlugin(nuki, keyring)
    client = await Client.connect("temporal:7233", plugins=[plugin])
    worker = Worker(client, task_queue="nukiflow")            # the client's plugin configures it

Given to ``Client.connect`` the plugin sets nukiflow's data converter (every payload encrypted,
failure messages too) and adds its client interceptors; every worker made from that client then
registers nukiflow's workflows and activities. The activities send through the ``nuki`` client
the caller owns (and closes); rollout items and grants reach the auth workflows through a
facade bound to the worker's own client and task queue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import temporalio.client
import temporalio.worker
from temporalio.plugin import SimplePlugin
from temporalio.worker import WorkerConfig

from nukiflow.activities.action_activities import ActionActivities
from nukiflow.activities.auth_activities import AuthActivities
from nukiflow.activities.auth_look import AuthLookActivities
from nukiflow.activities.lock_zone_activities import LockZoneActivities
from nukiflow.activities.nuki_client import NukiClient
from nukiflow.activities.reconcile_activities import ReconcileActivities
from nukiflow.activities.sweep_activities import SweepActivities
from nukiflow.client import NukiFlow
from nukiflow.contracts.ports import AuthChanges
from nukiflow.fleet.assembly import fleet_activities, fleet_workflows
from nukiflow.nexus.activities import NexusActivities
from nukiflow.nexus.fleet_activities import NexusFleetActivities
from nukiflow.nexus.fleet_workflows import nexus_fleet_workflows
from nukiflow.nexus.handler import NukiflowNexusHandler
from nukiflow.nexus.workflows import nexus_workflows
from nukiflow.settings import Settings
from nukiflow.temporal.codec import Keyring
from nukiflow.temporal.converter import data_converter, require_encryption
from nukiflow.temporal.tracing import tracing_interceptors
from nukiflow.temporal.workflow_code import keep_compiled_code
from nukiflow.workflows.auth_create import AuthCreateWorkflow
from nukiflow.workflows.auth_entity import AuthEntityWorkflow
from nukiflow.workflows.drift_ledger import DriftLedgerWorkflow
from nukiflow.workflows.drift_sweep import DriftSweepWorkflow
from nukiflow.workflows.lock_actions import LockActionsWorkflow
from nukiflow.workflows.lock_zone import LockZoneWorkflow
from nukiflow.workflows.reconcile_plan import ReconcilePlanWorkflow

PLUGIN_NAME = "nukiflow"

# Rollout items hold an activity slot while they wait for their auth's workflow, which needs
# slots of its own: the default of 100 would let two large rollouts starve the auth changes.
DEFAULT_MAX_CONCURRENT_ACTIVITIES = 1000


def nukiflow_workflows() -> list[type]:
    """Every workflow a nukiflow worker runs."""
    return [
        AuthEntityWorkflow,
        AuthCreateWorkflow,
        LockActionsWorkflow,
        DriftLedgerWorkflow,
        DriftSweepWorkflow,
        ReconcilePlanWorkflow,
        LockZoneWorkflow,
        *fleet_workflows(),
        *nexus_workflows(),
        *nexus_fleet_workflows(),
    ]


def nukiflow_activities(
    nuki: NukiClient, flow: AuthChanges, *, webhooks: bool = False
) -> list[Any]:
    """Every activity of a nukiflow worker, sending through ``nuki``; rollout items and grants
    send their changes through ``flow`` (a :class:`~nukiflow.client.NukiFlow`). ``webhooks``:
    the lock's webhooks reach the workflows (they wait for reports before polling)."""
    return [*fleet_activities(nuki, flow)[:1], *nuki_activities(nuki, flow, webhooks=webhooks)]


def nuki_activities(nuki: NukiClient, flow: AuthChanges, *, webhooks: bool = False) -> list[Any]:
    """The activities that call Nuki, all through ``nuki``: what the task queue of one account
    (``nukiflow-nuki-<account>``) serves (every activity but a rollout item's, which only
    talks to Temporal)."""
    auth = AuthActivities(nuki, webhooks=webhooks)
    actions = ActionActivities(nuki, webhooks=webhooks)
    return [
        auth.read_auth,
        auth.list_auth_ids,
        auth.write_auth,
        auth.await_auth,
        auth.write_settle_auth,
        auth.read_write_settle_auth,
        auth.create_auth,
        AuthLookActivities(nuki).look_auth,
        actions.send_action,
        actions.confirm_action,
        actions.look_action,
        SweepActivities(nuki).sweep_account,
        ReconcileActivities(nuki).plan,
        LockZoneActivities(nuki).lock_zone,
        *fleet_activities(nuki, flow)[1:],
    ]


class NukiflowPlugin(SimplePlugin):
    """nukiflow's workflows, activities, data converter and interceptors for a Temporal client
    and its workers (or for one worker, given to ``Worker(plugins=[...])`` on a client that was
    connected with nukiflow's converter)."""

    def __init__(
        self,
        nuki: NukiClient,
        keyring: Keyring | None = None,
        *,
        interceptors: Sequence[temporalio.client.Interceptor | temporalio.worker.Interceptor] = (),
        facade: Callable[[temporalio.client.Client, str], AuthChanges] | None = None,
        nexus: bool = True,
        webhooks: bool = False,
    ) -> None:
        """``keyring`` sets nukiflow's encrypting converter on a client the plugin is given to;
        without one the client must already have it (workers refuse a client that would write
        plain text). ``facade(client, task_queue)`` builds the facade rollouts and grants send
        through (default: one with the default deadlines). ``nexus`` serves nukiflow's Nexus
        service (:mod:`nukiflow.nexus`) from the worker. ``webhooks``: the lock's webhooks
        reach this deployment's workflows (see ``Settings.expects_webhooks``)."""
        super().__init__(
            PLUGIN_NAME,
            data_converter=data_converter(keyring) if keyring is not None else None,
            workflows=nukiflow_workflows(),
            # Callers in other namespaces reach nukiflow through its Nexus service.
            nexus_service_handlers=[NukiflowNexusHandler()] if nexus else None,
            interceptors=list(interceptors) or None,
        )
        self.nuki = nuki
        self._facade = facade
        self._webhooks = webhooks

    @classmethod
    def from_settings(cls, settings: Settings, nuki: NukiClient) -> NukiflowPlugin:
        """The plugin with the keys, tracing and default deadlines that ``settings`` name."""
        return cls(
            nuki,
            settings.keyring(),
            interceptors=tracing_interceptors(settings),
            facade=lambda client, _queue: NukiFlow.from_settings(client, settings),
            nexus=settings.nexus_service,
            webhooks=settings.expects_webhooks(),
        )

    def configure_worker(self, config: WorkerConfig) -> WorkerConfig:
        config = super().configure_worker(config)
        # Every new run executes its workflow's module again: compile it once per process.
        keep_compiled_code()
        client = config["client"]
        require_encryption(client)
        # The facade needs the worker's own client and task queue, known only here.
        task_queue = config["task_queue"]
        if self._facade is not None:
            flow = self._facade(client, task_queue)
        else:
            flow = NukiFlow(client, task_queue=task_queue)
        ours = nukiflow_activities(self.nuki, flow, webhooks=self._webhooks)
        # Nexus requests go through the whole facade (lock actions too).
        nexus_flow = flow if isinstance(flow, NukiFlow) else NukiFlow(client, task_queue=task_queue)
        ours.extend(NexusActivities(nexus_flow).activities())
        ours.extend(NexusFleetActivities(nexus_flow).activities())
        config["activities"] = [*config.get("activities", []), *ours]
        if config.get("max_concurrent_activities") is None:
            config["max_concurrent_activities"] = DEFAULT_MAX_CONCURRENT_ACTIVITIES
        return config
