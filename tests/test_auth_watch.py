"""The entity's watch (why a change waits) ends with its change, also when the change lands
while a look is under way: the next change must not wait behind a watch that looks on.

The Nuki activities are stand-ins registered under their recorded names, so the look is
provably in flight when the change lands (no timing involved). The fast attempt writes and
hands over before the lock applied the change: the watch starts then, beside the wait."""

from __future__ import annotations

import asyncio
import uuid

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from nukiflow.client import NukiFlow
from nukiflow.contracts.auth import AuthOutcome, OutcomeStatus
from nukiflow.contracts.auth_io import (
    AwaitAuthInput,
    AwaitAuthResult,
    LookAuthInput,
    LookAuthResult,
    ReadAuthInput,
    ReadAuthResult,
    WriteAuthInput,
    WriteAuthResult,
    WriteSettleAuthInput,
    WriteSettleAuthResult,
    WriteSettleStatus,
)
from nukiflow.contracts.names import (
    AWAIT_AUTH_ACTIVITY,
    LOOK_AUTH_ACTIVITY,
    READ_AUTH_ACTIVITY,
    WRITE_AUTH_ACTIVITY,
    WRITE_SETTLE_AUTH_ACTIVITY,
)
from nukiflow.contracts.wire import SmartlockAuth
from nukiflow.testing import FAST_TIMING
from nukiflow.workflows.auth_entity import AuthEntityWorkflow

LOCK = 4242
AUTH = "ab" * 12


class StandIns:
    """A lock that holds what was written; the first wait for it and every look block until
    the test lets them go."""

    def __init__(self) -> None:
        self.auth = SmartlockAuth(
            id=AUTH,
            smartlock_id=LOCK,
            type=13,
            name="door",
            code=555551,
            enabled=True,
            remote_allowed=False,
        )
        self.looking = asyncio.Event()
        self.land = asyncio.Event()
        self.end_looks = asyncio.Event()
        self.waits = 0

    @activity.defn(name=READ_AUTH_ACTIVITY)
    async def read(self, input: ReadAuthInput) -> ReadAuthResult:
        return ReadAuthResult(auth=self.auth)

    @activity.defn(name=WRITE_AUTH_ACTIVITY)
    async def write(self, input: WriteAuthInput) -> WriteAuthResult:
        assert input.desired is not None
        self.auth = self.auth.model_copy(update=input.desired.model_dump())
        return WriteAuthResult(attempts=1)

    @activity.defn(name=WRITE_SETTLE_AUTH_ACTIVITY)
    async def write_settle(self, input: WriteSettleAuthInput) -> WriteSettleAuthResult:
        await self.write(input.write)
        return WriteSettleAuthResult(status=WriteSettleStatus.WRITTEN)

    @activity.defn(name=AWAIT_AUTH_ACTIVITY)
    async def wait(self, input: AwaitAuthInput) -> AwaitAuthResult:
        self.waits += 1
        if self.waits == 1:
            await self.land.wait()
        return AwaitAuthResult(auth=self.auth, reads=1)

    @activity.defn(name=LOOK_AUTH_ACTIVITY)
    async def look(self, input: LookAuthInput) -> LookAuthResult:
        self.looking.set()
        await self.end_looks.wait()
        return LookAuthResult(server_state=0, online=True)


async def test_a_change_that_lands_during_a_look_ends_its_watch(temporal_client: Client) -> None:
    task_queue = f"watch-{uuid.uuid4().hex[:8]}"
    lock = StandIns()
    flow = NukiFlow(temporal_client, task_queue=task_queue, timing=FAST_TIMING)
    async with Worker(
        temporal_client,
        task_queue=task_queue,
        workflows=[AuthEntityWorkflow],
        activities=[lock.read, lock.write, lock.write_settle, lock.wait, lock.look],
    ):
        first = await flow.start_update_auth(LOCK, AUTH, {"code": 555552})
        assert not isinstance(first, AuthOutcome), first.reason
        # The first look starts after one fast window while the change waits for the lock.
        await asyncio.wait_for(lock.looking.wait(), timeout=60)
        lock.land.set()
        assert (await first.result()).status is OutcomeStatus.APPLIED
        # The watch was cancelled with the look in flight; the next change is taken up.
        second = await asyncio.wait_for(flow.update_auth(LOCK, AUTH, {"code": 555553}), timeout=60)
        assert second.status is OutcomeStatus.APPLIED, second.reason
        lock.end_looks.set()
