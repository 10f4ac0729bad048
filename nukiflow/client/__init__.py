"""The Python face of nukiflow: change authorizations through their entity workflows.

Every call returns an :class:`~nukiflow.contracts.auth.AuthOutcome`: applied (verified), superseded,
rejected (bad input, refused before it reaches Temporal) or failed (with the reason).

Deadlines (``deadline=``: a ``timedelta`` from now or an aware ``datetime``) become a UTC
instant the moment a method is called (:mod:`nukiflow.contracts.deadline`); that instant travels
with the change or action, so a workflow that takes it up late, or a retry, never stretches it.

The facade names workflows, updates and queries by the strings Temporal records
(:mod:`nukiflow.contracts.names`), so it imports no workflow code. Its parts: ``auths``
(changes), ``creates``, ``actions`` (lock actions), ``rollover`` (Update-with-Start that rides
out a continue-as-new) and ``outcomes`` (the answers it gives itself for refusals).
"""

from nukiflow.client.facade import NukiFlow
from nukiflow.client.rollover import (
    ROLLOVER_RETRY_DELAY,
    ROLLOVER_RETRY_MAX_DELAY,
    RolloverTimeout,
    refusal_message,
    send_update_with_start,
)
from nukiflow.contracts.messages import validation_message

__all__ = [
    "ROLLOVER_RETRY_DELAY",
    "ROLLOVER_RETRY_MAX_DELAY",
    "NukiFlow",
    "RolloverTimeout",
    "refusal_message",
    "send_update_with_start",
    "validation_message",
]
