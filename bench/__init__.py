"""Benchmarks: each prints figures and asserts nothing about time."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import NoReturn


def leave(status: int = 0) -> NoReturn:
    """Exit without interpreter finalization, which the Temporal runtime can abort after a
    worker ran (sdk-python #300, exit 134): the exit status must be the benchmark's own."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def raise_if_cancelling() -> None:
    """Re-raise a cancellation of the running task that an error handler caught in another
    form: Temporal's client turns a cancelled update call into
    ``WorkflowUpdateRPCTimeoutOrCancelledError``, which a loop that asks again on a timed-out
    call would otherwise swallow, and go on asking after Ctrl-C or SIGTERM."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
