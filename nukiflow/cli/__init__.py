"""The `nukiflow` command line.

Two commands run things: ``nukiflow dev`` (Temporal dev server + fake Nuki cloud + worker on
this machine) and ``nukiflow worker`` (a worker alone, the production path); ``nukiflow demo``
plays the forum case end to end. The operator commands (``auth ...``, ``action``, ``lock``,
``unlock``, ``unlatch``, ``rollout ...``, ``access ...``, ``sweep ...``, ``reconcile ...``,
``status``) talk to the configured Temporal (``NUKIFLOW_*`` settings; by default the one
``nukiflow dev`` runs); ``webhook ...`` talks to the Nuki Web API.

Exit statuses: 0 applied, superseded or confirmed (a rollout: every item applied; a grant: its
code is on the lock); 1 failed or expired (also: Temporal could not be reached); 2 rejected
(a bad plan, time zone or code), or a usage error; 4 ``reconcile plan`` found differences.
Keypad codes are printed only where the user typed them (never from a plan file).

Public: the ``nukiflow`` command (its commands, options, output and exit statuses, as the
README describes them) and :func:`main`, its entry point. The Python modules of this package
are internal and may change without notice: ``auth``, ``access`` and ``rollouts`` assemble
their command groups from ``auth_*``, ``access_*`` and ``rollout_*``; ``console`` and
``render_*`` print; ``common`` holds the shared options and plumbing.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

import typer

from nukiflow.cli.access import access_app
from nukiflow.cli.actions import _short_action, action_command
from nukiflow.cli.auth import auth_app
from nukiflow.cli.common import (
    DEADLINE_HELP,
    JSON_OPTION,
    OPERATE,
    REQUEST_ID_OPTION,
    RUN,
    _Process,
    ui_base_url,
)
from nukiflow.cli.contract import contract_app, nexus_demo, redeem_code_command
from nukiflow.cli.reconcile import reconcile_app
from nukiflow.cli.rollouts import rollout_app
from nukiflow.cli.run import codec_keygen, codec_server, demo, dev, simulator, worker
from nukiflow.cli.status import status_command, status_query
from nukiflow.cli.sweep import sweep_app
from nukiflow.cli.webhooks import webhook_app, webhook_receiver
from nukiflow.contracts.action import ActionName

__all__ = [
    "DEADLINE_HELP",
    "JSON_OPTION",
    "OPERATE",
    "REQUEST_ID_OPTION",
    "RUN",
    "access_app",
    "app",
    "auth_app",
    "main",
    "rollout_app",
    "status_query",
    "ui_base_url",
]

app = typer.Typer(
    name="nukiflow",
    help="Reliable changes to Nuki smart locks, as durable Temporal workflows.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
app.add_typer(auth_app, name="auth", rich_help_panel=OPERATE)
app.add_typer(rollout_app, name="rollout", rich_help_panel=OPERATE)
app.add_typer(access_app, name="access", rich_help_panel=OPERATE)
app.add_typer(sweep_app, name="sweep", rich_help_panel=OPERATE)
app.add_typer(reconcile_app, name="reconcile", rich_help_panel=OPERATE)
app.add_typer(webhook_app, name="webhook", rich_help_panel="Nuki account")
app.add_typer(contract_app, name="contract", rich_help_panel="Nexus")

# The order of registration is the order of `nukiflow --help`.
app.command(rich_help_panel=RUN)(dev)
app.command(rich_help_panel=RUN)(demo)
app.command(rich_help_panel=RUN)(worker)
app.command(rich_help_panel=RUN)(simulator)
app.command("codec-server", rich_help_panel=RUN)(codec_server)
app.command("codec-keygen", rich_help_panel=RUN)(codec_keygen)
app.command("webhook-receiver", rich_help_panel=RUN)(webhook_receiver)
app.command("action", rich_help_panel=OPERATE)(action_command)
for _action_name, _summary in (
    (ActionName.LOCK, "Lock, and wait until the lock confirms it"),
    (ActionName.UNLOCK, "Unlock, and wait until the lock confirms it"),
    (ActionName.UNLATCH, "Unlatch (open the door), and wait until the lock confirms it"),
):
    app.command(_action_name.value, rich_help_panel=OPERATE)(_short_action(_action_name, _summary))
app.command("status", rich_help_panel=OPERATE)(status_command)
app.command("nexus-demo", rich_help_panel="Nexus")(nexus_demo)
app.command("redeem-code", rich_help_panel="Nexus")(redeem_code_command)


def main(argv: Sequence[str] | None = None) -> None:
    """The console script ``nukiflow`` (and ``python worker.py``)."""
    try:
        app(args=list(argv) if argv is not None else None, prog_name="nukiflow")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if _Process.used_temporal:
        # A process that used the Temporal SDK (a worker, and as seen here also a bare client)
        # can abort while the interpreter finalizes (sdk-python #300: "PyGILState_Release ...
        # finalizing", exit 134) after everything was shut down cleanly. The work is done,
        # every child is stopped and workers are shut down: flush and leave without
        # finalizing, so the exit status is the command's own.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
