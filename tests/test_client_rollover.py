"""How the client rides out a workflow that refuses changes while it continues as new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
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
