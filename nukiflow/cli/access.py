"""Internal: ``nukiflow access ...``: time-limited keypad codes (grant, show, revoke, extend).

The commands live in :mod:`~nukiflow.cli.access_grant` and :mod:`~nukiflow.cli.access_manage`;
they are registered here in the order ``nukiflow access --help`` lists them.
"""

from __future__ import annotations

import typer

from nukiflow.cli.access_grant import access_grant
from nukiflow.cli.access_manage import access_extend, access_revoke, access_show

access_app = typer.Typer(
    help="Time-limited keypad codes, revoked at the window's end: grant, show, extend, revoke.",
    no_args_is_help=True,
)
access_app.command("grant")(access_grant)
access_app.command("show")(access_show)
access_app.command("revoke")(access_revoke)
access_app.command("extend")(access_extend)
