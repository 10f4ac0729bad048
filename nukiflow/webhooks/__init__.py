"""Nuki's webhooks as Temporal signals: the receiver, its forwarding, and its registration.

- :mod:`~nukiflow.webhooks.receiver`: the ASGI app that verifies and acknowledges deliveries;
- :mod:`~nukiflow.webhooks.forwarder`: the bounded queue and the task that signals workflows;
- :mod:`~nukiflow.webhooks.signatures`, :mod:`~nukiflow.webhooks.deliveries`: verifying and
  reading a delivery;
- :mod:`~nukiflow.webhooks.server`: serving it in a worker, in ``nukiflow dev`` or alone;
- :mod:`~nukiflow.webhooks.registration`: registering it with Nuki.

The events and signal names are in :mod:`nukiflow.contracts.events`.

Public: the names exported below (:class:`WebhookReceiver` is the one the README documents).
``deliveries`` and ``registration`` are internal (the ``nukiflow webhook`` commands are the
public face of registration) and may change without notice.
"""

from nukiflow.webhooks.counters import Counters
from nukiflow.webhooks.forwarder import ForwardingPolicy
from nukiflow.webhooks.receiver import WebhookReceiver
from nukiflow.webhooks.server import WebhookServer, receiver_from_settings
from nukiflow.webhooks.signatures import SIGNATURE_HEADER, sign, verify

__all__ = [
    "SIGNATURE_HEADER",
    "Counters",
    "ForwardingPolicy",
    "WebhookReceiver",
    "WebhookServer",
    "receiver_from_settings",
    "sign",
    "verify",
]
