"""How the fake cloud delivers decentral webhooks: settings and faults.

`SimSettings` and `Faults` (settings.py) inherit these fields, so the webhook knobs travel with
the others (`Faults(webhook_drop_nth=[1])`, per lock or global, replaced as a whole), while the
webhook code keeps to its own modules.

Nuki documents no retry policy and no ordering for its webhooks: deliveries may be late,
duplicated, reordered or lost. The defaults are the harsher choice: no retry, and a webhook
whose deliveries fail a few times in a row is switched off.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

Rate = float  # a probability in [0, 1]


class WebhookSettings(BaseModel):
    """Webhook delivery behaviour of one run (part of `SimSettings`)."""

    model_config = ConfigDict(extra="forbid")

    webhook_timeout: float = Field(
        5.0, gt=0, description="Seconds one delivery attempt may take (connect, send, answer)."
    )
    webhook_retries: int = Field(
        0, ge=0, le=10, description="Further attempts after a failed one (non-2xx or no answer)."
    )
    webhook_retry_delay: float = Field(
        1.0, ge=0, description="Seconds before the first retry; doubles for each further one."
    )
    webhook_deactivate_after: int = Field(
        5,
        ge=1,
        description="A webhook is deactivated after this many failed deliveries in a row "
        "(a delivery fails when its last attempt fails).",
    )
    webhook_log_size: int = Field(
        300, ge=1, description="Delivery records kept (Nuki's webhook log keeps the last 300)."
    )


class WebhookFaults(BaseModel):
    """Delivery faults (part of `Faults`); all off by default.

    `*_nth` count the deliveries of one lock's events to one webhook, 1-based; `*_rate` draw
    from the simulator's webhook RNG, only when above 0.
    """

    model_config = ConfigDict(extra="forbid")

    webhook_delay: float = Field(
        0.0, ge=0, description="Seconds a delivery is held back before its first attempt."
    )
    webhook_delay_rate: Rate = Field(
        1.0, ge=0, le=1, description="Share of deliveries webhook_delay hits."
    )
    webhook_drop_nth: list[int] = Field(default_factory=list)
    webhook_drop_rate: Rate = Field(0.0, ge=0, le=1, description="Never sent.")
    webhook_duplicate_nth: list[int] = Field(default_factory=list)
    webhook_duplicate_rate: Rate = Field(
        0.0, ge=0, le=1, description="Sent a second time, byte for byte, right after."
    )
    webhook_reorder_nth: list[int] = Field(default_factory=list)
    webhook_reorder_rate: Rate = Field(
        0.0, ge=0, le=1, description="Held back and sent after the webhook's next delivery."
    )
    webhook_reorder_hold: float = Field(
        5.0,
        ge=0,
        description="Seconds a held-back delivery waits at most for the next one; then it is "
        "sent alone (late).",
    )
    webhook_bad_signature_nth: list[int] = Field(default_factory=list)
    webhook_bad_signature_rate: Rate = Field(
        0.0, ge=0, le=1, description="Signed with a key other than the webhook's secret."
    )
