"""Internal: ``nukiflow auth show``: what nukiflow knows about an auth."""

from __future__ import annotations

from datetime import timedelta

import typer

from nukiflow.cli.common import (
    JSON_OPTION,
    _auth_id,
    _connect,
    _first_line,
    _lock_id,
    _run,
    _settings,
    _ui_link,
)
from nukiflow.cli.console import EXIT_FAILED, EXIT_OK, error, print_json, stdout_console
from nukiflow.cli.render_auth import render_auth_view
from nukiflow.settings import Settings


def auth_show(
    smartlock_id: str = typer.Argument(..., metavar="LOCK", help="The smartlock's id."),
    auth_id: str = typer.Argument(..., metavar="AUTH", help="The authorization's id."),
    json_output: bool = JSON_OPTION,
) -> None:
    """What nukiflow knows about an auth: verified state, pending changes, last outcomes."""
    lock, auth = _lock_id(smartlock_id), _auth_id(auth_id)
    settings = _settings()
    _run(_auth_show(settings, lock, auth, json_output))


async def _auth_show(settings: Settings, smartlock_id: int, auth_id: str, json_output: bool) -> int:
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.service import RPCError, RPCStatusCode

    from nukiflow.contracts import search_attributes as sa
    from nukiflow.contracts.entity import auth_workflow_id
    from nukiflow.workflows.auth_entity import AuthEntityWorkflow

    flow = await _connect(settings)
    workflow_id = auth_workflow_id(smartlock_id, auth_id)
    handle = flow.client.get_workflow_handle(workflow_id)
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
        error(
            f"nukiflow does not manage auth {auth_id} on smartlock {smartlock_id} "
            f"(there is no workflow {workflow_id})",
            "check both ids; nukiflow takes an auth over with its first change "
            f"(`nukiflow auth update {smartlock_id} {auth_id} ...`)",
        )
        return EXIT_FAILED
    running = description.status is WorkflowExecutionStatus.RUNNING
    try:
        view = await handle.query(AuthEntityWorkflow.state, rpc_timeout=timedelta(seconds=10))
    except RPCError as exc:
        status = description.typed_search_attributes.get(sa.STATUS)
        error(
            f"no worker answered for auth {auth_id} ({_first_line(exc)}); its last recorded "
            f"status is {status or 'unknown'}",
            "start a worker (`nukiflow worker`, or `nukiflow dev`) to see its details",
        )
        return EXIT_FAILED
    if json_output:
        data = view.model_dump(mode="json")
        data.update(workflow_id=workflow_id, running=running)
        print_json(data)
    else:
        render_auth_view(
            stdout_console(),
            view,
            workflow_id=workflow_id,
            running=running,
            ui_link=_ui_link(settings, run_id=description.run_id),
        )
    return EXIT_OK
