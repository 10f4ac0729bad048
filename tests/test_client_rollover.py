"""How the client rides out a workflow that refuses changes while it continues as new."""

from __future__ import annotations

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
        self.args: list[float] = []

    async def start_update_with_start_workflow(self, update: Any, arg: float, **_: Any) -> str:
        self.args.append(arg)
        if len(self.args) <= self.refusals:
            raise WorkflowUpdateFailedError(ApplicationError("rolling over", type=ROLLING))
        return "accepted"


async def _send(client: RefusingClient, deadline: float) -> Any:
    return await send_update_with_start(
        cast(Client, client),
        "change",
        lambda left: left,
        operation=lambda: None,
        update_id="u1",
        rolling_over=ROLLING,
        deadline_seconds=deadline,
    )


async def test_each_retry_carries_only_what_is_left_of_the_callers_deadline() -> None:
    client = RefusingClient(refusals=3)
    assert await _send(client, 60.0) == "accepted"
    first, *retries = client.args
    assert first == 60.0
    assert len(retries) == 3
    # A workflow counts the deadline from acceptance: every retry must ask for less.
    assert all(a > b for a, b in zip(client.args, client.args[1:], strict=False))
    assert all(0 < left < 60.0 for left in retries)


async def test_a_refusal_until_the_deadline_is_a_rollover_timeout() -> None:
    client = RefusingClient(refusals=10_000)
    with pytest.raises(RolloverTimeout, match="never accepted"):
        await _send(client, 0.3)
    assert all(left > 0 for left in client.args)


async def test_other_refusals_are_not_retried() -> None:
    class Rejecting(RefusingClient):
        async def start_update_with_start_workflow(self, update: Any, arg: float, **_: Any) -> str:
            self.args.append(arg)
            raise WorkflowUpdateFailedError(ApplicationError("bad", type="Other"))

    client = Rejecting(refusals=0)
    with pytest.raises(WorkflowUpdateFailedError):
        await _send(client, 60.0)
    assert len(client.args) == 1
