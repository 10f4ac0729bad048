"""Internal: ``nukiflow access grant``: a keypad code with its window, revoked at the end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import typer
from pydantic import ValidationError

from nukiflow.cli.common import (
    ACCOUNT_OPTION,
    JSON_OPTION,
    NEW_WEEKDAYS_HELP,
    REQUEST_ID_OPTION,
    _connect,
    _lock_id,
    _reject,
    _request_id,
    _run,
    _settings,
    _ui_link,
    _warn_without_worker,
)
from nukiflow.cli.console import (
    EXIT_FAILED,
    EXIT_REJECTED,
    error,
    grant_exit_code,
    print_json,
    stdout_console,
    waiting,
)
from nukiflow.cli.render_fleet import render_grant
from nukiflow.settings import Settings

if TYPE_CHECKING:
    from nukiflow.contracts.access import GrantView

TZ_HELP = (
    "Time zone of --from/--until/--times/--weekdays without an offset (IANA, e.g. "
    "Europe/Berlin). --times/--weekdays are moved into the lock's own zone (read from the "
    "lock, or --lock-tz)."
)
# How the command line's messages say where a zone goes.
ZONE_HINT = "--tz Europe/Berlin"


def access_grant(
    smartlock_id: str = typer.Argument(..., metavar="LOCK", help="The smartlock's id."),
    name: str = typer.Option(..., "--name", help="Who the code is for (at most 20 characters)."),
    code: int = typer.Option(..., "--code", help="The keypad code: 6 digits 1-9, not 12..."),
    from_: str = typer.Option(
        ..., "--from", metavar="DATETIME", help="Access starts (ISO 8601, `now`, `+2h`)."
    ),
    until: str = typer.Option(
        ...,
        "--until",
        metavar="DATETIME",
        help="Access ends and the code is deleted (ISO 8601, `+3d`).",
    ),
    tz: str | None = typer.Option(None, "--tz", metavar="ZONE", help=TZ_HELP),
    lock_tz: str | None = typer.Option(
        None,
        "--lock-tz",
        metavar="ZONE",
        help="The lock's zone (default: the one the lock is set to, its config.timezoneId; "
        "else --tz).",
    ),
    weekdays: str | None = typer.Option(None, "--weekdays", help=NEW_WEEKDAYS_HELP),
    times: str | None = typer.Option(
        None, "--times", metavar="HH:MM-HH:MM", help="Daily window of access."
    ),
    no_wait: bool = typer.Option(
        False, "--no-wait", help="Return once the grant started; do not wait for the code."
    ),
    request_id: str | None = REQUEST_ID_OPTION,
    json_output: bool = JSON_OPTION,
    account: str | None = ACCOUNT_OPTION,
) -> None:
    """Create a keypad code valid from --from to --until; it is deleted at the end.

    A durable timer in Temporal revokes the code when the window ends (and keeps trying while
    the lock is offline). Prints the grant's id and when it will be revoked. Exit status 0 once
    the code is on the lock, 1 when it could not be created, 2 for rejected input.
    """
    from nukiflow.contracts.access import GrantRequest
    from nukiflow.contracts.messages import validation_message
    from nukiflow.times.zones import nuki_window

    # Everything checked here first, before connecting: bad input never reaches Temporal.
    lock = _lock_id(smartlock_id)
    request_id = _request_id(request_id)
    try:
        window = nuki_window(
            from_,
            until,
            tz=tz,
            lock_tz=lock_tz,
            weekdays=weekdays,
            times=times,
            names=("--from", "--until"),
            zone_hint=ZONE_HINT,
        )
        if request_id is None:
            # With a request id it may name a grant made before (it attaches to that).
            window.check_not_over(datetime.now(UTC))
        GrantRequest(
            request_id=request_id or "check",
            smartlock_id=lock,
            name=name,
            code=code,
            window=window,
        )
    except ValidationError as exc:
        _reject(f"the grant cannot be made (nothing was sent): {validation_message(exc)}")
    except ValueError as exc:
        _reject(str(exc))
    settings = _settings(account)
    _run(
        _access_grant(
            settings,
            lock,
            name=name,
            code=code,
            # The instants read here (`now` and `+2h` once), in UTC.
            start=window.allowed_from_date,
            end=window.allowed_until_date,
            tz=tz,
            lock_tz=lock_tz,
            weekdays=weekdays,
            times=times,
            request_id=request_id,
            no_wait=no_wait,
            json_output=json_output,
        ),
        interrupted="Stopped waiting. The grant goes on in Temporal; `nukiflow status "
        f"--smartlock {smartlock_id}` lists it.",
    )


async def _access_grant(
    settings: Settings,
    smartlock_id: int,
    *,
    name: str,
    code: int,
    start: datetime,
    end: datetime,
    tz: str | None,
    lock_tz: str | None,
    weekdays: str | None,
    times: str | None,
    request_id: str | None,
    no_wait: bool,
    json_output: bool,
) -> int:
    from nukiflow.fleet import Fleet, FleetError
    from nukiflow.fleet.grants import LockZoneError
    from nukiflow.workflows.access_grant import AccessGrantWorkflow

    flow = await _connect(settings)
    await _warn_without_worker(flow.client, settings)
    fleet = Fleet(flow)
    try:
        grant = await fleet.grant_access(
            smartlock_id,
            name=name,
            code=code,
            start=start,
            end=end,
            tz=tz,
            lock_tz=lock_tz,
            weekdays=weekdays,
            times=times,
            request_id=request_id,
        )
    except LockZoneError as exc:
        error(str(exc), "nothing was sent; run it again with --lock-tz ZONE")
        return EXIT_FAILED
    except FleetError as exc:
        error(str(exc), "leave --request-id out (or give a new one) for a new grant")
        return EXIT_REJECTED
    except ValueError as exc:  # PlanError, TimeZoneError (checked before; the clock moved)
        error(str(exc), "fix the value and run it again; nothing was sent")
        return EXIT_REJECTED
    if no_wait:
        view = await grant.handle.query(
            AccessGrantWorkflow.state, rpc_timeout=timedelta(seconds=10)
        )
        return print_grant(
            settings, view, typed_code=code, json_output=json_output, headline="Started"
        )
    try:
        async with waiting(
            f"Creating the code {name!r} on smartlock {smartlock_id}", quiet=json_output
        ):
            view = await grant.created()
    except FleetError as exc:
        error(
            f"grant {grant.id} did not create its code: {exc}",
            f"see: nukiflow access show {grant.id}",
        )
        return EXIT_FAILED
    headline = {"active": "Granted", "scheduled": "Granted (starts later)"}.get(view.status.value)
    return print_grant(settings, view, typed_code=code, json_output=json_output, headline=headline)


def print_grant(
    settings: Settings,
    view: GrantView,
    *,
    typed_code: int | None = None,
    json_output: bool,
    headline: str | None = None,
    running: bool = True,
) -> int:
    if json_output:
        data = view.model_dump(mode="json")
        data.update(
            grant_id=view.workflow_id,
            revoke_at=data["revocation_due_at"] or data["window"]["allowed_until_date"],
            running=running,
        )
        print_json(data)
    else:
        render_grant(
            stdout_console(),
            view,
            typed_code=typed_code,
            headline=headline,
            running=running,
            ui_link=_ui_link(settings),
        )
    return grant_exit_code(view)
