"""Nuki accounts as workflows know them: by name only, never by a credential.

An integrator serves many customers, each a Nuki account of its own. Workflows carry the
account's *name* (``AccountName``); the worker that serves the account's activity task queue
(``activity_queue``) holds its credentials. No account (``None``) is the one account of
``NUKIFLOW_NUKI_TOKEN``, served on the workflow's own task queue as before accounts existed, so
histories recorded without an account replay unchanged.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import BeforeValidator, ValidationInfo

from nukiflow.contracts.validation import InputError, is_stored

# A task queue name, a search attribute value and a key of the accounts file at once: lower
# case letters, digits and inner dashes, so the same name cannot be spelt two ways.
_ACCOUNT = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")
MAX_ACCOUNT_NAME: Final = 40
ACTIVITY_QUEUE_PREFIX: Final = "nukiflow-nuki-"
# Workflow tasks of one account a worker runs at once (its account workflow worker's slots): a
# burst of one account's new workflows takes at most this share of the worker's CPU, so another
# account's task runs beside it instead of behind it. bench/bench_accounts.py: another account's
# change at 0.83-0.88x its unloaded time with 4, 1.12-1.22x with 10, the burst as fast (its
# Nuki rate limit paces it); 4 tasks at once still run far more workflow tasks per second than
# an account's Nuki calls need.
DEFAULT_ACCOUNT_WORKFLOW_TASKS: Final = 4
# Between the workflows' task queue and an account's name in the account's workflow queue
# (``nukiflow@acme``): no account name holds it, so no two accounts share a queue.
WORKFLOW_QUEUE_SEPARATOR: Final = "@"


def check_account_name(value: object) -> str:
    """An account name: 1-40 lower-case letters, digits and inner dashes (``acme``,
    ``customer-17``); the message says what to fix."""
    if not isinstance(value, str) or not _ACCOUNT.fullmatch(value):
        shown = repr(value)[:60] if isinstance(value, str) else type(value).__name__
        raise InputError(
            f"an account name is 1-{MAX_ACCOUNT_NAME} lower-case letters, digits and dashes "
            f"inside (like customer-17), not {shown}"
        )
    return value


def _account(value: object, info: ValidationInfo) -> object:
    return value if value is None or is_stored(info) else check_account_name(value)


# The pydantic type of an account field (absent: the default account).
AccountName = Annotated[str, BeforeValidator(_account)]


def activity_queue(account: str | None) -> str | None:
    """The task queue of the Nuki activities of ``account``: ``nukiflow-nuki-<account>``,
    served (and rate limited across all workers) per account; ``None`` for the default account,
    meaning the workflow's own task queue. Every workflow schedules its Nuki activities through
    this one function."""
    return None if account is None else ACTIVITY_QUEUE_PREFIX + account


def workflow_queue(task_queue: str, account: str | None) -> str:
    """The task queue a new workflow of ``account`` runs on: ``<task_queue>@<account>``, with
    pollers and slots of its own in every worker, so one account's burst of new workflows does
    not queue another account's workflow tasks behind it; ``task_queue`` itself for the default
    account. Fixed when the workflow starts (continue-as-new and child workflows keep it): a
    workflow started before keeps the queue it has."""
    return task_queue if account is None else task_queue + WORKFLOW_QUEUE_SEPARATOR + account


def workflow_queues_query(task_queue: str) -> str:
    """A visibility query for the workflows of ``task_queue`` and of every account's workflow
    queue beside it (:func:`workflow_queue`)."""
    quoted = task_queue.replace("\\", "\\\\").replace("'", "\\'")
    return f"(TaskQueue = '{quoted}' OR TaskQueue STARTS_WITH '{quoted}{WORKFLOW_QUEUE_SEPARATOR}')"


def account_label(account: str | None) -> str:
    """How messages name an account (the default one has no name of its own)."""
    return "the default account" if account is None else f"account {account}"
