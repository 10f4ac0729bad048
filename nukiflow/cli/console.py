"""Internal: how the command line talks to a terminal: consoles, escaping, JSON, errors, the
spinner, exit statuses and the links to the Temporal UI.

Everything the command line (and ``nukiflow dev``/``demo``) echoes goes through :func:`safe`:
names and messages from Nuki or from input are printed with control characters escaped, so
they can never drive the operator's terminal. Keypad codes are secrets: outcomes and views
carry them redacted (``******``), and :func:`echoed_code` shows a code only where the user
typed it on the same command line, and only to a terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape

from nukiflow.contracts.access import GrantStatus, GrantView
from nukiflow.contracts.auth import AuthOutcome, OutcomeStatus
from nukiflow.contracts.rollout import RolloutReport, RolloutState
from nukiflow.contracts.validation import is_unsafe_character, unsafe_character

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REJECTED = 2  # also Click's status for usage errors
# A lock action that may have run: sent (or maybe sent) and its outcome not seen in time.
EXIT_UNKNOWN = 3

# Console width when stdout is not a terminal: wide enough that ids and links stay on one line.
PIPE_WIDTH = 200


def ui_workflow_url(
    ui_url: str, namespace: str, workflow_id: str, run_id: str | None = None
) -> str:
    """The Temporal UI page of a workflow (namespace and id percent-encoded). With a run id it
    opens that run's User Metadata tab (summary, details, current details); without one, the
    latest run on the UI's default tab (the Timeline): the UI has no run-less address for a
    tab, and a run id goes stale when the workflow continues as new."""
    base = (
        f"{ui_url.rstrip('/')}/namespaces/{quote(namespace, safe='')}/workflows/"
        f"{quote(workflow_id, safe='')}"
    )
    if run_id is None:
        return base
    return f"{base}/{quote(run_id, safe='')}/user-metadata"


def _escaped(char: str) -> str:
    if char == "\n":
        return "\\n"
    if char == "\t":
        return "\\t"
    if char == "\r":
        return "\\r"
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def safe(text: object) -> str:
    """``text`` ready to print on a console: control characters (escape sequences, line
    breaks, bidirectional overrides, ...) shown as ``\\x1b``-style escapes, so a name or an
    error detail from Nuki or from input can never drive the operator's terminal; Rich markup
    escaped. Everything the CLI echoes goes through here."""
    value = str(text)
    if unsafe_character(value) is not None:
        value = "".join(_escaped(c) if is_unsafe_character(c) else c for c in value)
    return escape(value)


def stdout_console() -> Console:
    wide = None if sys.stdout.isatty() else PIPE_WIDTH
    return Console(soft_wrap=True, highlight=False, emoji=False, width=wide)


def stderr_console() -> Console:
    wide = None if sys.stderr.isatty() else PIPE_WIDTH
    return Console(stderr=True, soft_wrap=True, highlight=False, emoji=False, width=wide)


def print_json(data: Any) -> None:
    """One JSON document on stdout (pydantic models dumped in JSON mode)."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def error(message: str, hint: str | None = None) -> None:
    console = stderr_console()
    # A message of several lines (a plan's problems) keeps its line breaks; nothing else does.
    shown = "\n".join(safe(line) for line in message.split("\n"))
    console.print(f"[bold red]Error:[/] {shown}", highlight=False)
    if hint:
        console.print(f"[dim]→ {safe(hint)}[/]", highlight=False)


def local_time(value: datetime | None) -> str:
    """A moment in this machine's time zone (``-`` for none)."""
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()


def echoed_code(console: Console, typed_code: int | None) -> str | None:
    """The code the user typed, to show back; None when there is none.

    Only a terminal gets the digits: output that goes to a pipe or file tends to end up in
    a log (a CI job, a cron mail), and the user already has the code they typed.
    """
    if typed_code is None:
        return None
    if console.is_terminal:
        return f"{typed_code} (as you typed it)"
    return "****** (as you typed it; shown only on a terminal)"


def print_workflow(
    console: Console, workflow_id: str | None, ui_link: Callable[[str], str | None] | None
) -> None:
    """The line naming the workflow that carries a command (and its page in the UI)."""
    if not workflow_id:
        return
    link = ui_link(workflow_id) if ui_link else None
    console.print(f"  [dim]Workflow {safe(workflow_id)}[/]" + (f"  {safe(link)}" if link else ""))


# -- exit statuses -------------------------------------------------------------------------


def auth_exit_code(outcome: AuthOutcome) -> int:
    if outcome.status in (OutcomeStatus.APPLIED, OutcomeStatus.SUPERSEDED):
        return EXIT_OK
    if outcome.status is OutcomeStatus.REJECTED:
        return EXIT_REJECTED
    return EXIT_FAILED


def action_exit_code(status: str) -> int:
    """confirmed 0; failed, expired 1; rejected 2; unknown (it may have run) 3."""
    if status == "confirmed":
        return EXIT_OK
    if status == "rejected":
        return EXIT_REJECTED
    if status == "unknown":
        return EXIT_UNKNOWN
    return EXIT_FAILED


def rollout_exit_code(report: RolloutReport) -> int:
    """0 when every item ended applied; 1 otherwise (failed, superseded, skipped items)."""
    return EXIT_OK if report.state is RolloutState.COMPLETED else EXIT_FAILED


def grant_exit_code(view: GrantView) -> int:
    return EXIT_FAILED if view.status is GrantStatus.FAILED else EXIT_OK


# -- waiting -------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def waiting(message: str, *, quiet: bool = False) -> AsyncIterator[Callable[[str], None]]:
    """A live spinner with the elapsed time on a terminal (stderr); one line otherwise.

    Yields a function that replaces the message (e.g. "waiting for the lock").
    """
    console = stderr_console()
    state = {"message": message}
    started = time.monotonic()
    if quiet:
        yield lambda text: None
        return
    if not console.is_terminal:
        console.print(f"{safe(message)}…", style="dim")
        yield lambda text: None
        return

    def text() -> str:
        return f"{safe(state['message'])}… [dim]{time.monotonic() - started:.0f}s[/]"

    with console.status(text(), spinner="dots") as status:

        async def tick() -> None:
            while True:
                await asyncio.sleep(0.5)
                status.update(text())

        ticker = asyncio.create_task(tick())
        try:

            def update(new: str) -> None:
                state["message"] = new
                status.update(text())

            yield update
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
