"""Internal: ``nukiflow auth drift-policy LOCK AUTH alert|enforce|adopt``: what a running
entity does about the drifts the lock reports from now on (see the README's "Drift")."""

from __future__ import annotations

from typing import Annotated

import typer

from nukiflow.cli.common import (
    JSON_OPTION,
    _auth_id,
    _connect,
    _first_line,
    _lock_id,
    _run,
    _settings,
)
from nukiflow.cli.console import EXIT_FAILED, EXIT_OK, error, print_json, safe, stdout_console
from nukiflow.contracts.entity import DriftPolicy
from nukiflow.settings import Settings


def auth_drift_policy(
    smartlock_id: Annotated[str, typer.Argument(metavar="LOCK", help="The smartlock's id.")],
    auth_id: Annotated[str, typer.Argument(metavar="AUTH", help="The authorization's id.")],
    policy: Annotated[
        DriftPolicy,
        typer.Argument(
            metavar="alert|enforce|adopt",
            case_sensitive=False,
            help="alert: only show drift; enforce: write the desired state back; adopt: take "
            "the lock's state as desired.",
        ),
    ],
    json_output: bool = JSON_OPTION,
) -> None:
    """Set an auth's drift policy (for the reports that come after it). Exit status 0 set,
    1 not managed (or ended), 2 usage."""
    lock, auth = _lock_id(smartlock_id), _auth_id(auth_id)
    settings = _settings()
    _run(_set_policy(settings, lock, auth, policy, json_output))


async def _set_policy(
    settings: Settings, smartlock_id: int, auth_id: str, policy: DriftPolicy, json_output: bool
) -> int:
    from temporalio.client import WorkflowUpdateFailedError
    from temporalio.service import RPCError, RPCStatusCode

    flow = await _connect(settings)
    try:
        view = await flow.set_drift_policy(smartlock_id, auth_id, policy)
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
        error(
            f"nukiflow does not manage auth {auth_id} on smartlock {smartlock_id}",
            "check both ids; nukiflow takes an auth over with its first change "
            f"(`nukiflow auth update {smartlock_id} {auth_id} ...`)",
        )
        return EXIT_FAILED
    except WorkflowUpdateFailedError as exc:
        error(f"the policy was not set: {_first_line(exc.cause or exc)}")
        return EXIT_FAILED
    if json_output:
        print_json(view.model_dump(mode="json"))
    else:
        stdout_console().print(
            f"Drift policy of auth {safe(auth_id)} on smartlock {smartlock_id}: "
            f"[bold]{view.drift_policy.value}[/] (status {view.status.value})",
            highlight=False,
        )
    return EXIT_OK
