"""Internal: ``nukiflow auth ...``: create, update, delete and show authorizations, and set
their drift policy.

The commands live in :mod:`~nukiflow.cli.auth_changes`, :mod:`~nukiflow.cli.auth_show` and
:mod:`~nukiflow.cli.auth_policy`;
they are registered here in the order ``nukiflow auth --help`` lists them.
"""

from __future__ import annotations

import typer

from nukiflow.cli.auth_changes import auth_create, auth_delete, auth_update
from nukiflow.cli.auth_policy import auth_drift_policy
from nukiflow.cli.auth_show import auth_show

auth_app = typer.Typer(
    help="Create, change, delete and inspect authorizations (keypad codes, app users, fobs).",
    no_args_is_help=True,
)

auth_app.command("update")(auth_update)
auth_app.command("create")(auth_create)
auth_app.command("delete")(auth_delete)
auth_app.command("show")(auth_show)
auth_app.command("drift-policy")(auth_drift_policy)
