# ruff: noqa: F811  (the fixtures imported from tests.nexus_support are parameters here)
"""The fleet through Nexus: an access grant whose code nukiflow generates (kept out of the
caller's history, redeemed once), its revocation, and a rollout answered with its report."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from temporalio.client import Client

from nukiflow.contracts.access import GrantStatus, GrantView
from nukiflow.contracts.rollout_progress import RolloutReport, RolloutState
from nukiflow.nexus.codes import redeem_code
from nukiflow.nexus.history_scan import history_holds
from nukiflow.nexus.models import (
    MASKED_CODE,
    GrantAccessInput,
    GrantOutcome,
    RevokeAccessInput,
    RolloutInput,
)
from nukiflow.simulator.control import SimulatorControl
from tests.nexus_support import (  # noqa: F401 (fixtures)
    call,
    caller_client,
    caller_queue,
    endpoint,
)

# Request ids of this session's own (the dev server is shared).
RUN = uuid.uuid4().hex[:8]


async def test_a_grant_with_a_generated_code_then_its_revocation(
    caller_client: Client,
    caller_queue: str,
    endpoint: str,
    sim: SimulatorControl,
    temporal_client: Client,
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    now = datetime.now(UTC).replace(microsecond=0)
    caller_id = f"caller-grant-{uuid.uuid4().hex[:8]}"
    granted = await call(
        caller_client,
        caller_queue,
        endpoint,
        "grant_access",
        GrantAccessInput(
            request_id=f"stay-77-{RUN}",
            smartlock_id=lock,
            name="Guest 77",
            start=now - timedelta(minutes=1),
            end=now + timedelta(hours=2),
        ),
        workflow_id=caller_id,
    )
    assert granted.output is not None, granted.error
    outcome = GrantOutcome.model_validate(granted.output)
    assert outcome.grant.status is GrantStatus.ACTIVE
    assert outcome.masked_code == MASKED_CODE and outcome.code_handle is not None
    [auth] = (await sim.device(lock)).auths
    assert auth.code is not None
    code = str(auth.code).encode()

    history = await caller_client.get_workflow_handle(caller_id).fetch_history()
    assert not await history_holds(history, code, caller_client.data_converter.payload_codec)

    redeemed = await redeem_code(temporal_client, outcome.code_handle)
    assert redeemed.code == auth.code

    revoked = await call(
        caller_client,
        caller_queue,
        endpoint,
        "revoke_access",
        RevokeAccessInput(grant_id=outcome.grant.workflow_id, reason="checked out early"),
    )
    assert revoked.output is not None, revoked.error
    assert GrantView.model_validate(revoked.output).status is GrantStatus.REVOKED
    assert (await sim.device(lock)).auths == []


async def test_a_rollout_through_nexus_answers_with_its_report(
    caller_client: Client, caller_queue: str, endpoint: str, sim: SimulatorControl
) -> None:
    locks = [(await sim.add_lock()).smartlock_id for _ in range(2)]
    rolled = await call(
        caller_client,
        caller_queue,
        endpoint,
        "apply_rollout",
        RolloutInput(
            request_id=f"spring-cleaners-{RUN}",
            items=[
                {"op": "create", "smartlock_id": lock, "name": "cleaner", "code": 545454}
                for lock in locks
            ],
        ),
    )
    assert rolled.output is not None, rolled.error
    report = RolloutReport.model_validate(rolled.output)
    assert report.state is RolloutState.COMPLETED
    assert report.totals.applied == 2 and report.not_applied == []
    for lock in locks:
        assert [a.code for a in (await sim.device(lock)).auths] == [545454]


async def test_a_plan_the_fleet_refuses_fails_the_operation_with_its_reason(
    caller_client: Client, caller_queue: str, endpoint: str, sim: SimulatorControl
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    refused = await call(
        caller_client,
        caller_queue,
        endpoint,
        "apply_rollout",
        RolloutInput(
            request_id=f"bad-plan-{RUN}",
            items=[{"op": "create", "smartlock_id": lock, "name": "x", "code": 120000}],
        ),
    )
    assert refused.output is None and refused.error is not None
    assert "120000" not in refused.error
