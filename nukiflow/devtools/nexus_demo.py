"""Internal: ``nukiflow nexus-demo``: a caller's check-in workflow, in its own namespace, asks
nukiflow for a guest's keypad code and an unlock through Nexus, each one durable step.

On an embedded stack (Temporal in memory with nukiflow's namespace and ``nukiflow-callers``,
the endpoint ``nukiflow`` routing to nukiflow's worker, the fake cloud): the caller's worker
runs :class:`~nukiflow.nexus.caller.CheckInWorkflow`; nukiflow generates the code, so the
caller's history holds only a handle, which is then redeemed once from nukiflow's namespace.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.worker import Worker

from nukiflow.cli.console import print_json, stdout_console, waiting
from nukiflow.contracts.action import ActionStatus
from nukiflow.contracts.auth import OutcomeStatus
from nukiflow.devtools.stack import EmbeddedStack, StackOptions
from nukiflow.nexus.caller import CheckInInput, CheckInResult, CheckInWorkflow
from nukiflow.nexus.codes import redeem_code
from nukiflow.nexus.history_scan import history_holds
from nukiflow.nexus.service import CALLER_NAMESPACE, ENDPOINT_NAME
from nukiflow.settings import Settings
from nukiflow.simulator.control import SimulatorControl
from nukiflow.simulator.settings import SimSettings
from nukiflow.temporal.codec import Keyring
from nukiflow.temporal.converter import data_converter

TASK_QUEUE = "nukiflow-nexus-demo"
CALLER_TASK_QUEUE = "checkins"


class NexusDemoResult(BaseModel):
    smartlock_id: int
    caller_namespace: str
    caller_workflow_id: str
    endpoint: str
    check_in: CheckInResult
    # The code the lock holds appears nowhere in the caller's history (raw or decrypted).
    code_kept_out_of_caller_history: bool
    # The one redemption gave the code the lock holds.
    redeemed_code_matches_lock: bool

    @property
    def ok(self) -> bool:
        unlock = self.check_in.unlock
        return (
            self.check_in.code.outcome.status is OutcomeStatus.APPLIED
            and unlock is not None
            and unlock.status is ActionStatus.CONFIRMED
            and self.code_kept_out_of_caller_history
            and self.redeemed_code_matches_lock
        )


async def nexus_demo(settings: Settings, *, json_output: bool = False) -> NexusDemoResult:
    console = None if json_output else stdout_console()
    token = secrets.token_hex(16)
    settings = settings.model_copy(
        update={"task_queue": TASK_QUEUE, "temporal_namespace": "default"}
    )
    keys = Keyring.generate("demo")
    stack = EmbeddedStack(
        settings,
        keys,
        StackOptions(
            state_dir=None,
            temporal_port=0,
            ui_port=None,
            nuki_port=0,
            fake_cloud=True,
            sim_token=token,
            sim_locks=0,
            sim_settings=SimSettings(device_delay=0.2, action_time=0.5),
            graceful_shutdown=timedelta(seconds=1),
        ),
    )
    if console is not None:
        console.print(
            "[bold]nukiflow nexus-demo[/] — a check-in workflow in the namespace "
            f"[bold]{CALLER_NAMESPACE}[/] calls nukiflow through the Nexus endpoint "
            f"[bold]{ENDPOINT_NAME}[/]"
        )
        async with waiting(
            "Starting Temporal (in memory, two namespaces), the fake cloud and a worker"
        ):
            await stack.start()
    else:
        await stack.start()
    try:
        assert stack.simulator is not None and stack.client is not None
        async with SimulatorControl(stack.simulator.base_url, token) as control:
            lock = (await control.add_lock(name="Apartment 3")).smartlock_id
            # The caller: its own namespace, its own worker; it encrypts with a key nukiflow
            # holds (here the same key ring), so nukiflow's workers read what it sends.
            caller = await Client.connect(
                stack.temporal.address,
                namespace=CALLER_NAMESPACE,
                data_converter=data_converter(keys),
            )
            booking = uuid.uuid4().hex[:8]
            workflow_id = f"checkin-{booking}"
            async with Worker(caller, task_queue=CALLER_TASK_QUEUE, workflows=[CheckInWorkflow]):
                handle = await caller.start_workflow(
                    CheckInWorkflow.run,
                    CheckInInput(
                        endpoint=ENDPOINT_NAME,
                        booking_id=booking,
                        smartlock_id=lock,
                        guest_name="Ada Lovelace",
                    ),
                    id=workflow_id,
                    task_queue=CALLER_TASK_QUEUE,
                    execution_timeout=timedelta(minutes=5),
                )
                if console is not None:
                    async with waiting(f"  {workflow_id}: keypad code, then unlock, through Nexus"):
                        result: CheckInResult = await handle.result()
                else:
                    result = await handle.result()
            device = await control.device(lock)
            codes = [a.code for a in device.auths if a.code is not None]
            history = await handle.fetch_history()
            kept_out = bool(codes) and not any(
                [
                    await history_holds(
                        history, str(code).encode(), caller.data_converter.payload_codec
                    )
                    for code in codes
                ]
            )
            matches = False
            if result.code.code_handle is not None:
                redeemed = await redeem_code(stack.client, result.code.code_handle)
                matches = redeemed.code in codes
        demo = NexusDemoResult(
            smartlock_id=lock,
            caller_namespace=CALLER_NAMESPACE,
            caller_workflow_id=workflow_id,
            endpoint=ENDPOINT_NAME,
            check_in=result,
            code_kept_out_of_caller_history=kept_out,
            redeemed_code_matches_lock=matches,
        )
    finally:
        await stack.stop()
    if json_output:
        print_json(demo.model_dump(mode="json"))
    elif console is not None:
        outcome = demo.check_in.code.outcome
        console.print(
            f"  1. keypad code: [bold]{outcome.status.value}[/] auth {outcome.auth_id}, code "
            f"{demo.check_in.code.masked_code} (handle {demo.check_in.code.code_handle})"
        )
        unlock = demo.check_in.unlock
        if unlock is not None:
            console.print(f"  2. unlock: [bold]{unlock.status.value}[/] ({unlock.confirmed_by})")
        yes = "[green]yes[/]"
        no = "[red]NO[/]"
        console.print(
            "  The code is nowhere in the caller's history (raw or decrypted): "
            f"{yes if demo.code_kept_out_of_caller_history else no}"
        )
        console.print(
            "  Redeemed once from nukiflow's namespace, it is the code on the lock: "
            f"{yes if demo.redeemed_code_matches_lock else no}"
        )
    return demo
