"""``nukiflow reconcile plan`` as a short workflow: its one activity reads the plan in a worker,
where the Nuki token is (the command line needs only Temporal). It writes nothing."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from nukiflow.contracts.names import RECONCILE_PLAN_ACTIVITY, RECONCILE_PLAN_WORKFLOW
    from nukiflow.contracts.reconcile import ReconcilePlan, ReconcilePlanInput

# One reading (two listings and a query per managed auth), and how long Nuki may refuse it
# (5xx, 429) before the plan fails with the reason.
READ_ATTEMPT = timedelta(minutes=5)
READ_WINDOW = timedelta(minutes=10)


@workflow.defn(name=RECONCILE_PLAN_WORKFLOW)
class ReconcilePlanWorkflow:
    @workflow.run
    async def run(self, input: ReconcilePlanInput) -> ReconcilePlan:
        plan: ReconcilePlan = await workflow.execute_activity(
            RECONCILE_PLAN_ACTIVITY,
            input,
            result_type=ReconcilePlan,
            start_to_close_timeout=READ_ATTEMPT,
            schedule_to_close_timeout=READ_WINDOW,
            heartbeat_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
            ),
            summary="compare what nukiflow wants with what the locks hold",
        )
        return plan
