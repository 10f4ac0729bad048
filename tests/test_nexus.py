# ruff: noqa: F811  (the fixtures imported from tests.nexus_support are parameters here)
"""nukiflow through Nexus: workflows in another namespace change access as one durable step and
get the facade's outcomes; request ids stay idempotent; cancelling stops waiting but never
un-sends; a generated code never enters the caller's history."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from nukiflow.client import NukiFlow
from nukiflow.contracts.action import ActionName, ActionOutcome, ActionStatus
from nukiflow.contracts.auth import AuthOutcome, AuthPatch, ChangeKind, OutcomeStatus
from nukiflow.nexus.caller import (
    CANCEL_SIGNAL,
    CheckInInput,
    CheckInResult,
    CheckInWorkflow,
    OperationCall,
    OperationCallWorkflow,
)
from nukiflow.nexus.codes import CodeNotRedeemable, redeem_code
from nukiflow.nexus.history_scan import history_holds
from nukiflow.nexus.models import (
    MASKED_CODE,
    CreateAuthInput,
    DeleteAuthInput,
    LockActionInput,
    UpdateAuthInput,
)
from nukiflow.nexus.workflows import call_workflow_id
from nukiflow.simulator.control import SimulatorControl
from tests.nexus_support import (  # noqa: F401 (fixtures)
    call,
    caller_client,
    caller_queue,
    endpoint,
    replays,
    soon,
    wait_for,
)

# Request ids of this session's own (the dev server is shared).
RUN = uuid.uuid4().hex[:8]


async def test_a_caller_changes_an_auth_and_unlocks_through_nexus(
    caller_client: Client,
    caller_queue: str,
    endpoint: str,
    sim: SimulatorControl,
    temporal_client: Client,
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    auth = await sim.add_auth(lock, name="Guest", code=535353)

    changed = await call(
        caller_client,
        caller_queue,
        endpoint,
        "update_auth",
        UpdateAuthInput(
            request_id=f"tenant-7-code-{RUN}",
            smartlock_id=lock,
            auth_id=auth.id,
            patch=AuthPatch(code=565656),
            deadline_at=soon(),
        ),
    )
    assert changed.output is not None, changed.error
    outcome = AuthOutcome.model_validate(changed.output)
    assert outcome.status is OutcomeStatus.APPLIED
    # Through the one entity of that auth, like every other caller.
    assert outcome.workflow_id == f"nuki-auth-{lock}-{auth.id}"
    assert outcome.verified is not None and outcome.verified.code == "******"
    device = await sim.device(lock)
    assert [a.code for a in device.auths if a.id == auth.id] == [565656]

    unlocked = await call(
        caller_client,
        caller_queue,
        endpoint,
        "lock_action",
        LockActionInput(
            request_id=f"tenant-7-unlock-{RUN}",
            smartlock_id=lock,
            action=ActionName.UNLOCK,
            deadline_at=soon(),
        ),
    )
    assert unlocked.output is not None, unlocked.error
    action = ActionOutcome.model_validate(unlocked.output)
    assert action.status is ActionStatus.CONFIRMED
    assert action.workflow_id == f"nuki-lock-{lock}"

    for name, workflow_id in (
        ("nexus_auth_update", call_workflow_id("update", outcome.request_id)),
        ("nexus_lock_action", call_workflow_id("action", action.request_id)),
    ):
        handle = temporal_client.get_workflow_handle(workflow_id)
        await replays(name, await handle.fetch_history())


async def test_a_create_and_a_delete_through_nexus(
    caller_client: Client, caller_queue: str, endpoint: str, sim: SimulatorControl
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    created = await call(
        caller_client,
        caller_queue,
        endpoint,
        "create_auth",
        CreateAuthInput(
            request_id=f"onboard-42-{RUN}",
            smartlock_id=lock,
            name="Cleaner",
            code=555123,
            deadline_at=soon(),
        ),
    )
    assert created.output is not None, created.error
    outcome = AuthOutcome.model_validate(created.output)
    assert outcome.status is OutcomeStatus.APPLIED and outcome.kind is ChangeKind.CREATE
    assert outcome.auth_id is not None
    device = await sim.device(lock)
    assert [a.code for a in device.auths if a.id == outcome.auth_id] == [555123]

    deleted = await call(
        caller_client,
        caller_queue,
        endpoint,
        "delete_auth",
        DeleteAuthInput(
            request_id=f"offboard-42-{RUN}",
            smartlock_id=lock,
            auth_id=outcome.auth_id,
            deadline_at=soon(),
        ),
    )
    assert deleted.output is not None, deleted.error
    assert AuthOutcome.model_validate(deleted.output).status is OutcomeStatus.APPLIED
    assert [a for a in (await sim.device(lock)).auths if a.id == outcome.auth_id] == []


async def test_bad_input_is_answered_rejected_and_reaches_no_entity(
    caller_client: Client, caller_queue: str, endpoint: str, sim: SimulatorControl
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    await sim.clear_requests()
    refused = await call(
        caller_client,
        caller_queue,
        endpoint,
        "create_auth",
        CreateAuthInput(
            request_id=f"bad-code-{RUN}",
            smartlock_id=lock,
            name="Guest",
            code=123456,
            deadline_at=soon(),
        ),
    )
    assert refused.output is not None, refused.error
    outcome = AuthOutcome.model_validate(refused.output)
    assert outcome.status is OutcomeStatus.REJECTED
    assert outcome.reason is not None and "123456" not in outcome.reason
    far = await call(
        caller_client,
        caller_queue,
        endpoint,
        "lock_action",
        LockActionInput(
            request_id=f"too-far-{RUN}",
            smartlock_id=lock,
            action=ActionName.UNLOCK,
            deadline_at=soon(3 * 86400),
        ),
    )
    assert far.output is not None
    assert ActionOutcome.model_validate(far.output).status is ActionStatus.REJECTED
    assert [r for r in await sim.requests() if r.method != "GET"] == []


async def test_a_repeated_request_id_gets_the_first_outcome_and_writes_once(
    caller_client: Client,
    caller_queue: str,
    endpoint: str,
    sim: SimulatorControl,
    temporal_client: Client,
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    request = CreateAuthInput(
        request_id=f"onboard-once-{RUN}",
        smartlock_id=lock,
        name="Tenant",
        code=565758,
        deadline_at=soon(),
    )
    first = await call(caller_client, caller_queue, endpoint, "create_auth", request)
    # Asked again (a caller's retry, a second workflow) after the first request completed.
    again = await call(caller_client, caller_queue, endpoint, "create_auth", request)
    assert first.output is not None and again.output is not None
    assert AuthOutcome.model_validate(again.output) == AuthOutcome.model_validate(first.output)
    creates = [r for r in await sim.requests() if r.method == "PUT"]
    assert len(creates) == 1
    assert len((await sim.device(lock)).auths) == 1
    # Answered from the request's completed workflow: no second run.
    request_workflow = call_workflow_id("create", request.request_id)
    # Visibility lists a run a moment after it started: once it lists the latest, it lists all.
    latest = (await temporal_client.get_workflow_handle(request_workflow).describe()).run_id
    runs_query = f'WorkflowId = "{request_workflow}"'

    async def latest_listed() -> bool:
        return latest in [w.run_id async for w in temporal_client.list_workflows(runs_query)]

    await wait_for(latest_listed, "the request's latest run to be listed")
    runs = [w async for w in temporal_client.list_workflows(runs_query)]
    assert len(runs) == 1

    unlock = LockActionInput(
        request_id=f"unlock-once-{RUN}",
        smartlock_id=lock,
        action=ActionName.UNLOCK,
        deadline_at=soon(),
    )
    acted = [await call(caller_client, caller_queue, endpoint, "lock_action", unlock)]
    acted.append(await call(caller_client, caller_queue, endpoint, "lock_action", unlock))
    assert acted[0].output is not None and acted[0].output == acted[1].output
    assert ActionOutcome.model_validate(acted[0].output).status is ActionStatus.CONFIRMED
    assert len((await sim.device(lock)).actions) == 1


async def test_cancelling_stops_waiting_and_never_unsends(
    caller_client: Client,
    caller_queue: str,
    endpoint: str,
    sim: SimulatorControl,
    flow: NukiFlow,
    temporal_client: Client,
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    auth = await sim.add_auth(lock, name="Guest", code=535353)
    # Accepted by the entity, but the lock is offline: the change cannot land yet.
    await sim.set_online(lock, False)
    request = UpdateAuthInput(
        request_id=f"checkout-9-{RUN}",
        smartlock_id=lock,
        auth_id=auth.id,
        patch=AuthPatch(enabled=False),
        deadline_at=soon(),
    )
    caller = await caller_client.start_workflow(
        OperationCallWorkflow.run,
        OperationCall(
            endpoint=endpoint, operation="update_auth", input=request.model_dump(mode="json")
        ),
        id=f"caller-cancel-{uuid.uuid4().hex[:8]}",
        task_queue=caller_queue,
        execution_timeout=timedelta(seconds=60),
    )

    async def accepted() -> bool:
        try:
            return (await flow.auth_state(lock, auth.id)).change_counter >= 1
        except Exception:
            return False

    await wait_for(accepted, "the entity to accept the change")
    await caller.signal(CANCEL_SIGNAL)
    result = await caller.result()
    assert result.cancelled and result.output is None, result
    request_workflow = temporal_client.get_workflow_handle(
        call_workflow_id("update", f"checkout-9-{RUN}")
    )
    assert (await request_workflow.describe()).status is WorkflowExecutionStatus.CANCELED

    # The change it handed over goes on to its verdict; asking again with the same request
    # id learns it (and sends nothing twice).
    await sim.set_online(lock, True)
    verdict = await call(caller_client, caller_queue, endpoint, "update_auth", request)
    assert verdict.output is not None, verdict.error
    assert AuthOutcome.model_validate(verdict.output).status is OutcomeStatus.APPLIED
    assert [a.enabled for a in (await sim.device(lock)).auths if a.id == auth.id] == [False]


async def test_a_generated_code_never_enters_the_callers_history(
    caller_client: Client,
    caller_queue: str,
    endpoint: str,
    sim: SimulatorControl,
    temporal_client: Client,
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    booking = f"b-{RUN}"
    checkin = await caller_client.start_workflow(
        CheckInWorkflow.run,
        CheckInInput(endpoint=endpoint, booking_id=booking, smartlock_id=lock, guest_name="Ada"),
        id=f"checkin-{uuid.uuid4().hex[:8]}",
        task_queue=caller_queue,
        execution_timeout=timedelta(seconds=60),
    )
    result: CheckInResult = await checkin.result()
    assert result.code.outcome.status is OutcomeStatus.APPLIED
    assert result.code.masked_code == MASKED_CODE and result.code.code_handle is not None
    assert result.unlock is not None and result.unlock.status is ActionStatus.CONFIRMED
    [auth] = (await sim.device(lock)).auths
    assert auth.code is not None and auth.name == "Ada"
    code = str(auth.code)

    # The caller's history, raw and decoded with the key it encrypts with: no code.
    history = await checkin.fetch_history()
    codec = caller_client.data_converter.payload_codec
    assert not await history_holds(history, code.encode(), codec)

    # Redeemed once, from nukiflow's namespace; then never again.
    redeemed = await redeem_code(temporal_client, result.code.code_handle)
    assert redeemed.code == auth.code and redeemed.smartlock_id == lock
    with pytest.raises(CodeNotRedeemable):
        await redeem_code(temporal_client, result.code.code_handle)

    # The request's workflows replay (and are kept for later replays when recording).
    request = temporal_client.get_workflow_handle(
        call_workflow_id("create-generated", f"checkin-{booking}")
    )
    vault = temporal_client.get_workflow_handle(result.code.code_handle)
    await wait_for(lambda: _ended(vault), "the vault to end after its redemption")
    await replays("nexus_generated_code", await request.fetch_history())
    await replays("nexus_code_vault", await vault.fetch_history())


async def test_a_code_given_by_the_caller_is_in_its_history_so_the_scan_can_fail(
    caller_client: Client, caller_queue: str, endpoint: str, sim: SimulatorControl
) -> None:
    lock = (await sim.add_lock()).smartlock_id
    call = await caller_client.start_workflow(
        OperationCallWorkflow.run,
        OperationCall(
            endpoint=endpoint,
            operation="create_auth",
            input=CreateAuthInput(
                request_id=f"plain-code-{RUN}",
                smartlock_id=lock,
                name="Bob",
                code=575859,
                deadline_at=soon(),
            ).model_dump(mode="json"),
        ),
        id=f"caller-plain-{uuid.uuid4().hex[:8]}",
        task_queue=caller_queue,
        execution_timeout=timedelta(seconds=60),
    )
    await call.result()
    history = await call.fetch_history()
    # Encrypted at rest (raw bytes), but the caller's key reads it back: the scan finds it.
    assert "575859" not in history.to_json()
    assert await history_holds(history, b"575859", caller_client.data_converter.payload_codec)


async def _ended(handle: WorkflowHandle[Any, Any]) -> bool:
    description = await handle.describe()
    return description.status is not WorkflowExecutionStatus.RUNNING
