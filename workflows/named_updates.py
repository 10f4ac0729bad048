"""``@async_update(NAME)``: ``@workflow.update(name=NAME)`` for an ``async`` handler, typed like
the bare decorator.

Every handler is registered under its recorded name from :mod:`nukiflow.contracts.names`. The
SDK types ``workflow.update(name=...)`` as if the handler returned its coroutine, so callers of
an ``async`` update (``handle.execute_update(AuthEntityWorkflow.outcome, ...)``) would be told
they get a coroutine back; this says what they really get. Behaviour is the SDK's own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar, cast

from temporalio import workflow

P = ParamSpec("P")
R = TypeVar("R")


def async_update(
    name: str,
) -> Callable[[Callable[P, Awaitable[R]]], workflow.UpdateMethodMultiParam[P, R]]:
    """Register an ``async`` update handler under ``name``."""
    return cast(
        "Callable[[Callable[P, Awaitable[R]]], workflow.UpdateMethodMultiParam[P, R]]",
        workflow.update(name=name),
    )
