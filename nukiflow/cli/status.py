"""Internal: ``nukiflow status``: what is pending, failing and in sync, from the workflows' search
attributes."""

from __future__ import annotations

import typer

from nukiflow.cli.common import JSON_OPTION, _connect, _lock_id, _run, _settings, ui_base_url
from nukiflow.cli.console import EXIT_OK, print_json, stdout_console, ui_workflow_url
from nukiflow.cli.render_status import StatusRow, render_links, render_status, status_counts
from nukiflow.cli.ui_links import question_links
from nukiflow.contracts.accounts import check_account_name, workflow_queues_query
from nukiflow.settings import Settings


def status_command(
    smartlock: str | None = typer.Option(
        None, "--smartlock", metavar="LOCK", help="Only this smartlock."
    ),
    json_output: bool = JSON_OPTION,
    account: str | None = typer.Option(
        None, "--account", metavar="NAME", help="Only the workflows of this Nuki account."
    ),
) -> None:
    """What is pending, failing and in sync (from the workflows' search attributes)."""
    lock = None if smartlock is None else _lock_id(smartlock, "--smartlock")
    settings = _settings(account)
    _run(_status(settings, lock, json_output, account=settings.account if account else None))


def status_query(task_queue: str, smartlock_id: int | None, account: str | None = None) -> str:
    # The workflows' task queue and every account's workflow queue beside it.
    query = f"{workflow_queues_query(task_queue)} AND ExecutionStatus = 'Running' "
    query += "AND NukiKind IS NOT NULL"
    if smartlock_id is not None:
        query += f" AND NukiSmartlockId = {int(smartlock_id)}"
    if account is not None:
        # A checked account name: lower-case letters, digits and dashes only.
        query += f" AND NukiAccount = '{check_account_name(account)}'"
    return query


async def _status(
    settings: Settings, smartlock_id: int | None, json_output: bool, *, account: str | None = None
) -> int:
    from nukiflow.contracts import search_attributes as sa

    flow = await _connect(settings)
    base = ui_base_url(settings)
    rows: list[StatusRow] = []
    async for execution in flow.client.list_workflows(
        status_query(settings.task_queue, smartlock_id, account)
    ):
        attributes = execution.typed_search_attributes
        rows.append(
            StatusRow(
                workflow_id=execution.id,
                kind=attributes.get(sa.KIND),
                smartlock_id=attributes.get(sa.SMARTLOCK_ID),
                auth_id=attributes.get(sa.AUTH_ID),
                status=attributes.get(sa.STATUS),
                started=execution.start_time,
                run_id=execution.run_id,
                ui_url=None
                if base is None
                else ui_workflow_url(
                    base, settings.temporal_namespace, execution.id, execution.run_id
                ),
            )
        )
    scope = f"on smartlock {smartlock_id}" if smartlock_id is not None else "on this task queue"
    if account is not None:
        scope += f" of account {account}"
    links = (
        {}
        if base is None
        else question_links(base, settings.temporal_namespace, settings.task_queue, smartlock_id)
    )
    if json_output:
        print_json(
            {
                "task_queue": settings.task_queue,
                "smartlock_id": smartlock_id,
                "account": account,
                "counts": status_counts(rows),
                "workflows": [row.model_dump(mode="json") for row in rows],
                "ui_links": links,
            }
        )
    else:
        console = stdout_console()
        render_status(console, rows, scope=scope)
        render_links(console, links)
    return EXIT_OK
