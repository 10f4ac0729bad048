"""What rollouts and grants raise when their workflow refuses a request, and the checks that
turn a caller's bad values into a message instead of a traceback."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from nukiflow.contracts.messages import validation_message
from nukiflow.contracts.names import GRANT_REFUSED_ERROR
from nukiflow.contracts.validation import InputError

M = TypeVar("M", bound=BaseModel)


class FleetError(RuntimeError):
    """A rollout or grant refused a request; the message says why."""


class FleetRefusedError(FleetError):
    """The workflow refused the request as given (it has ended, the new end is past, ...)."""


class RolloutConflictError(FleetError):
    """A different plan already runs (or ran) under this rollout id."""


def checked(model: type[M], **values: Any) -> M:
    """``model`` built from ``values``, or :class:`InputError` saying what to fix."""
    try:
        return model(**values)
    except ValidationError as exc:
        raise InputError(validation_message(exc)) from None


def _cause_message(exc: WorkflowUpdateFailedError) -> str:
    cause = exc.cause
    return getattr(cause, "message", None) or str(cause) or str(exc)


def update_error(exc: WorkflowUpdateFailedError) -> FleetError:
    """A validator's refusal (or the handler's typed one) is :class:`FleetRefusedError`."""
    cause = exc.cause
    refused = isinstance(cause, ApplicationError) and cause.type in (
        "ValueError",
        GRANT_REFUSED_ERROR,
    )
    cls = FleetRefusedError if refused else FleetError
    return cls(_cause_message(exc))
