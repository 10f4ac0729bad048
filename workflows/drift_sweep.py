"""The drift sweep: what the lock holds, reported to the entities when no webhook told them.

Started by the Schedule ``nukiflow-drift-sweep`` (``nukiflow sweep schedule``; ``nukiflow dev``
creates it), or by hand (``nukiflow sweep run``). One activity does the work
(:mod:`nukiflow.activities.sweep_activities`): it lists the account's auths in one request and
signals each entity (or the lock's drift ledger) from there, in batches. Decision: the signals
go from the activity, not from this workflow, so the sweep's history is a handful of events
whether the account holds ten auths or ten thousand, and no continue-as-new or child workflow
is needed. A sweep that fails (Nuki unreachable for the whole retry window) is simply the next
sweep's work: the schedule skips a start while one still runs.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from nukiflow.contracts.names import DRIFT_SWEEP_WORKFLOW, SWEEP_ACCOUNT_ACTIVITY
    from nukiflow.contracts.sweep import SweepInput, SweepResult

# Nuki down, rate limits: retried with back-off for at most this long; the next sweep follows.
SWEEP_RETRY_WINDOW = timedelta(minutes=10)


@workflow.defn(name=DRIFT_SWEEP_WORKFLOW)
class DriftSweepWorkflow:
    @workflow.run
    async def run(self, input: SweepInput) -> SweepResult:
        attempt = timedelta(seconds=input.attempt_timeout_seconds)
        result: SweepResult = await workflow.execute_activity(
            SWEEP_ACCOUNT_ACTIVITY,
            input,
            result_type=SweepResult,
            start_to_close_timeout=attempt,
            schedule_to_close_timeout=attempt + SWEEP_RETRY_WINDOW,
            heartbeat_timeout=timedelta(seconds=input.heartbeat_timeout_seconds),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=5),
                backoff_coefficient=2.0,
                maximum_interval=timedelta(minutes=2),
            ),
            summary="list the account's auths and report each to its entity or ledger",
        )
        workflow.logger.info(
            "sweep: %d auths on %d locks; %d to entities, %d to ledgers, %d disappeared",
            result.auths,
            result.smartlocks,
            result.to_entities,
            result.to_ledgers,
            result.disappeared,
        )
        return result
