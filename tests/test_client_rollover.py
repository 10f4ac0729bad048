"""How the client rides out a workflow that refuses changes while it continues as new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from temporalio.api.failure.v1 import ApplicationFailureInfo, Failure
from temporalio.api.update.v1 import Outcome
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateHandle
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError

from nukiflow.client import RolloverTimeout, send_update_with_start

ROLLING = "RollingOver"


class RefusingClient:
    """Stands in for the Temporal client: refuses ``refusals`` times as a rolling-over run
    would, then accepts; records the argument of every attempt."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.args: list[Any] = []

    async def start_update_with_start_workflow(self, update: Any, arg: Any, **_: Any) -> str:
        self.args.append(arg)
        if len(self.args) <= self.refusals:
            raise WorkflowUpdateFailedError(ApplicationError("rolling over", type=ROLLING))
        return "accepted"


async def _send(client: RefusingClient, deadline_at: datetime) -> Any:
    return await send_update_with_start(
        cast(Client, client),
        "change",
        {"deadline_at": deadline_at},
        operation=lambda: None,
        update_id="u1",
        rolling_over=ROLLING,
        deadline_at=deadline_at,
    )


async def test_each_retry_carries_the_callers_deadline_instant_unchanged() -> None:
    client = RefusingClient(refusals=3)
    deadline_at = datetime.now(UTC) + timedelta(seconds=60)
    assert await _send(client, deadline_at) == "accepted"
    # The workflow compares the caller's instant with its clock: a retry neither stretches
    # nor recounts it.
    assert client.args == [{"deadline_at": deadline_at}] * 4


async def test_a_refusal_until_the_deadline_is_a_rollover_timeout() -> None:
    client = RefusingClient(refusals=10_000)
    deadline_at = datetime.now(UTC) + timedelta(seconds=0.3)
    with pytest.raises(RolloverTimeout, match="never accepted"):
        await _send(client, deadline_at)
    assert client.args and all(arg == {"deadline_at": deadline_at} for arg in client.args)


async def test_other_refusals_are_not_retried() -> None:
    class Rejecting(RefusingClient):
        async def start_update_with_start_workflow(self, update: Any, arg: Any, **_: Any) -> str:
            self.args.append(arg)
            raise WorkflowUpdateFailedError(ApplicationError("bad", type="Other"))

    client = Rejecting(refusals=0)
    with pytest.raises(WorkflowUpdateFailedError):
        await _send(client, datetime.now(UTC) + timedelta(seconds=60))
    assert len(client.args) == 1


class RefusingOnArrival(RefusingClient):
    """As the SDK answers when the caller waits for acceptance only: the refusal comes back
    as the known outcome of the handle, not as an exception."""

    namespace = "default"
    data_converter = DataConverter.default

    async def start_update_with_start_workflow(
        self, update: Any, arg: Any, **_: Any
    ) -> WorkflowUpdateHandle[Any]:
        self.args.append(arg)
        refused = len(self.args) <= self.refusals
        failure = Failure(
            message="rolling over",
            application_failure_info=ApplicationFailureInfo(type=ROLLING),
        )
        outcome = Outcome(failure=failure) if refused else None
        return WorkflowUpdateHandle(cast(Client, self), "u1", "wf", known_outcome=outcome)


async def test_a_refusal_known_on_arrival_is_sent_again_too() -> None:
    client = RefusingOnArrival(refusals=2)
    handle = await _send(client, datetime.now(UTC) + timedelta(seconds=60))
    assert isinstance(handle, WorkflowUpdateHandle)
    assert len(client.args) == 3
