"""Internal: ``nukiflow rollout ...``: apply a plan over many locks; status, report, pause, resume,
cancel.

The commands live in :mod:`~nukiflow.cli.rollout_apply` and :mod:`~nukiflow.cli.rollout_steer`;
they are registered here in the order ``nukiflow rollout --help`` lists them.
"""

from __future__ import annotations

import typer

from nukiflow.cli.rollout_apply import rollout_apply
from nukiflow.cli.rollout_steer import rollout_control, rollout_report, rollout_status

rollout_app = typer.Typer(
    help="Roll a plan of auth changes out over many locks: apply, status, report, pause, "
    "resume, cancel.",
    no_args_is_help=True,
)
rollout_app.command("apply")(rollout_apply)
rollout_app.command("status")(rollout_status)
rollout_app.command("report")(rollout_report)
rollout_app.command("pause")(
    rollout_control("pause", "Pause a rollout: no new items start; those in flight finish.")
)
rollout_app.command("resume")(rollout_control("resume", "Resume a paused rollout."))
rollout_app.command("cancel")(
    rollout_control(
        "cancel",
        "Cancel a rollout: no new items start; it ends once those in flight are done, with a "
        "report in which the rest are skipped.",
    )
)
