"""Internal: what ``auth create``/``auth update`` take from the command line, checked before
anything connects: the time restrictions (``none`` removes one) and the change as the models
see it, refused as the facade would refuse it (a rejected outcome, exit status 2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import typer
from pydantic import BaseModel, ValidationError

from nukiflow.cli.common import _reject
from nukiflow.cli.console import auth_exit_code, print_json, stdout_console
from nukiflow.cli.render_auth import render_auth_outcome
from nukiflow.contracts.auth import AuthOutcome, ChangeKind, OutcomeStatus
from nukiflow.contracts.messages import validation_message
from nukiflow.times.daily import parse_times
from nukiflow.times.dates import LOCAL, to_utc
from nukiflow.times.weekdays import parse_weekdays

# Typed instead of a value: remove the restriction (`auth update`).
NONE_WORDS: Final = frozenset({"none", "any", "clear", "-"})


def is_none_word(text: str) -> bool:
    return text.strip().lower() in NONE_WORDS


def restrictions(
    *,
    from_: str | None,
    until: str | None,
    weekdays: str | None,
    times: str | None,
    allow_clear: bool,
) -> tuple[dict[str, Any], set[str]]:
    """The time-restriction fields typed on the command line, and those to clear ("none").

    Dates without a zone are this machine's local time; weekdays and daily times are the
    lock's (:mod:`nukiflow.times`: the same rules as plan files and the Python API)."""
    fields: dict[str, Any] = {}
    clear: set[str] = set()

    def cleared(value: str, names: Sequence[str], flag: str) -> bool:
        if not is_none_word(value):
            return False
        if not allow_clear:
            _reject(f"{flag}: leave the option out for no restriction")
        clear.update(names)
        return True

    for value, name, flag in (
        (from_, "allowed_from_date", "--from"),
        (until, "allowed_until_date", "--until"),
    ):
        if value is None or cleared(value, [name], flag):
            continue
        try:
            fields[name] = to_utc(value, LOCAL, what=flag)
        except ValueError as exc:
            _reject(f"{flag}: {exc}" if not str(exc).startswith(flag) else str(exc))
    if weekdays is not None and not cleared(weekdays, ["allowed_week_days"], "--weekdays"):
        try:
            fields["allowed_week_days"] = parse_weekdays(weekdays)
        except ValueError as exc:
            _reject(f"--weekdays: {exc}")
    if times is not None and not cleared(
        times, ["allowed_from_time", "allowed_until_time"], "--times"
    ):
        try:
            fields["allowed_from_time"], fields["allowed_until_time"] = parse_times(times)
        except ValueError as exc:
            _reject(f"--times: {exc}")
    return fields, clear


def check_fields(
    model: type[BaseModel],
    values: dict[str, Any],
    *,
    kind: ChangeKind,
    smartlock_id: int,
    auth_id: str | None,
    request_id: str,
    json_output: bool,
) -> None:
    """Refuse a change the models refuse, here and before connecting, answered as the facade
    would answer it (a rejected outcome; exit 2)."""
    try:
        model.model_validate(values)
    except ValidationError as exc:
        outcome = AuthOutcome(
            status=OutcomeStatus.REJECTED,
            request_id=request_id,
            smartlock_id=smartlock_id,
            auth_id=auth_id,
            kind=kind,
            reason=validation_message(exc),
        )
        if json_output:
            print_json(outcome)
        else:
            render_auth_outcome(stdout_console(), outcome)
        raise typer.Exit(auth_exit_code(outcome)) from None
