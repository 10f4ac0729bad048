"""``NukiLockZone``: read a lock's own time zone in a worker, for a grant made without
``--lock-tz`` (the caller needs only Temporal; the worker holds the Nuki token)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from nukiflow.contracts.accounts import activity_queue
    from nukiflow.contracts.lock_zone import LockZone, LockZoneInput
    from nukiflow.contracts.names import LOCK_ZONE_ACTIVITY, LOCK_ZONE_WORKFLOW


@workflow.defn(name=LOCK_ZONE_WORKFLOW)
class LockZoneWorkflow:
    @workflow.run
    async def run(self, input: LockZoneInput) -> LockZone:
        zone: LockZone = await workflow.execute_activity(
            LOCK_ZONE_ACTIVITY,
            input,
            result_type=LockZone,
            task_queue=activity_queue(input.account),
            start_to_close_timeout=timedelta(seconds=30),
            # The caller waits: a lock that cannot be read for a minute is its answer.
            schedule_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10)
            ),
            summary=f"read the time zone of smartlock {input.smartlock_id}",
        )
        return zone
