"""Internal: ``nukiflow access show|revoke|extend``: look at, end early, or move the end of a
grant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import typer

from nukiflow.cli.access_grant import ZONE_HINT, print_grant
from nukiflow.cli.common import (
    JSON_OPTION,
    _Abort,
    _connect,
    _first_line,
    _reject,
    _run,
    _settings,
    _text,
)
from nukiflow.cli.console import EXIT_FAILED, EXIT_OK, EXIT_REJECTED, error, stdout_console, waiting
from nukiflow.settings import Settings

if TYPE_CHECKING:
    from nukiflow.contracts.access import GrantView
    from nukiflow.fleet import GrantHandle

GRANT_ID_ARGUMENT = typer.Argument(
    ..., metavar="GRANT_ID", help="The grant's id (nuki-access-<smartlock>-<request>)."
)


def _grant_id(grant_id: str) -> str:
    """The grant's workflow id (``nuki-access-...``; the prefix may be left out), or exit 2."""
    from nukiflow.contracts.access import check_grant_id
    from nukiflow.contracts.validation import InputError

    try:
        return check_grant_id(grant_id)
    except InputError as exc:
        _reject(f"GRANT_ID: {exc}")


async def _grant_described(settings: Settings, grant_id: str) -> tuple[GrantHandle, bool]:
    """The grant's handle and whether it runs; exit 1 when there is no such grant."""
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.service import RPCError, RPCStatusCode

    from nukiflow.fleet import Fleet

    flow = await _connect(settings)
    grant = Fleet(flow).grant(grant_id)
    try:
        description = await grant.handle.describe()
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
        error(
            f"there is no grant {grant.id}",
            "check the id: `nukiflow access grant` prints it; `nukiflow status` lists running "
            "grants",
        )
        raise _Abort(EXIT_FAILED) from None
    return grant, description.status is WorkflowExecutionStatus.RUNNING


async def _grant_view(grant: GrantHandle, running: bool) -> GrantView:
    from temporalio.client import WorkflowQueryFailedError
    from temporalio.service import RPCError

    from nukiflow.workflows.access_grant import AccessGrantWorkflow

    if not running:
        return await grant.result()
    try:
        view = await grant.handle.query(
            AccessGrantWorkflow.state, rpc_timeout=timedelta(seconds=10)
        )
        running_attempt = await _revocation_attempt(grant)
    except (RPCError, WorkflowQueryFailedError) as exc:
        error(
            f"no worker answered for grant {grant.id} ({_first_line(exc)})",
            "start a worker (`nukiflow worker`, or `nukiflow dev`) to see its details",
        )
        raise _Abort(EXIT_FAILED) from None
    # The workflow counts the attempts of revocations that ended; the one running now is
    # counted by Temporal (its attempt number), which the workflow cannot see.
    return view.model_copy(
        update={"revocation_attempts": view.revocation_attempts + running_attempt}
    )


async def _revocation_attempt(grant: GrantHandle) -> int:
    """The attempt number of the revocation activity running now (0: none runs)."""
    from nukiflow.contracts.names import REVOKE_AUTH_ACTIVITY

    description = await grant.handle.describe()
    return sum(
        pending.attempt
        for pending in description.raw_description.pending_activities
        if pending.activity_type.name == REVOKE_AUTH_ACTIVITY
    )


def access_show(grant_id: str = GRANT_ID_ARGUMENT, json_output: bool = JSON_OPTION) -> None:
    """A grant's status, window, auth on the lock and when it is (or was) revoked."""
    grant_id = _grant_id(grant_id)
    settings = _settings()
    _run(_access_show(settings, grant_id, json_output))


async def _access_show(settings: Settings, grant_id: str, json_output: bool) -> int:
    grant, running = await _grant_described(settings, grant_id)
    view = await _grant_view(grant, running)
    print_grant(settings, view, json_output=json_output, running=running)
    return EXIT_OK


def access_revoke(
    grant_id: str = GRANT_ID_ARGUMENT,
    reason: str | None = typer.Option(None, "--reason", help="Why (kept in the grant)."),
    no_wait: bool = typer.Option(
        False, "--no-wait", help="Return once the grant took the request; do not wait."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Revoke a grant now; waits until the code is verified gone from the lock."""
    grant_id = _grant_id(grant_id)
    reason = _text(reason, "--reason")
    settings = _settings()
    _run(
        _access_revoke(settings, grant_id, reason, no_wait, json_output),
        interrupted="Stopped waiting. The revocation goes on in Temporal (also while the lock "
        "is offline); see `nukiflow access show GRANT_ID`.",
    )


async def _access_revoke(
    settings: Settings, grant_id: str, reason: str | None, no_wait: bool, json_output: bool
) -> int:
    from nukiflow.fleet import FleetError

    grant, running = await _grant_described(settings, grant_id)
    if not running:
        view = await grant.result()
        if not json_output:
            stdout_console().print("[dim]The grant had ended already.[/]")
        return print_grant(settings, view, json_output=json_output, running=False)
    try:
        async with waiting(f"Revoking {grant.id}", quiet=json_output or no_wait):
            view = await grant.revoke(reason, wait=not no_wait)
    except FleetError as exc:
        error(f"cannot revoke {grant.id}: {exc}", f"see: nukiflow access show {grant.id}")
        return EXIT_REJECTED
    return print_grant(settings, view, json_output=json_output, running=no_wait)


def access_extend(
    grant_id: str = GRANT_ID_ARGUMENT,
    until: str = typer.Option(
        ..., "--until", metavar="DATETIME", help="The new end (ISO 8601, `+2h`); after now."
    ),
    tz: str | None = typer.Option(
        None, "--tz", metavar="ZONE", help="Time zone of --until without an offset."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Move a grant's end (earlier or later): written onto the lock first, then the timer."""
    from nukiflow.times.dates import to_utc

    grant_id = _grant_id(grant_id)
    try:
        new_end = to_utc(until, tz, what="--until", zone_hint=ZONE_HINT)
    except ValueError as exc:
        _reject(str(exc))
    if new_end <= datetime.now(UTC):
        _reject(f"--until: the new end must be in the future (it is {new_end:%Y-%m-%d %H:%M} UTC)")
    settings = _settings()
    _run(
        _access_extend(settings, grant_id, new_end, json_output),
        interrupted="Stopped waiting. The change goes on in Temporal; see `nukiflow access "
        "show GRANT_ID`.",
    )


async def _access_extend(
    settings: Settings, grant_id: str, new_end: datetime, json_output: bool
) -> int:
    from nukiflow.fleet import FleetError, FleetRefusedError

    grant, running = await _grant_described(settings, grant_id)
    if not running:
        error(f"grant {grant.id} has ended; it can no longer be changed", "grant access anew")
        return EXIT_REJECTED
    try:
        async with waiting(f"Writing the new end of {grant.id} onto the lock", quiet=json_output):
            view = await grant.extend(new_end)
    except FleetRefusedError as exc:
        error(
            f"the end of {grant.id} was not moved: {exc}", f"see: nukiflow access show {grant.id}"
        )
        return EXIT_REJECTED
    except FleetError as exc:
        error(
            f"the end of {grant.id} was not moved: {exc}",
            "the old end stays; try again once the lock is online",
        )
        return EXIT_FAILED
    return print_grant(settings, view, json_output=json_output, headline="Extended")
