"""The fake Nuki cloud: a real HTTP server that behaves like the Nuki Web API (see README.md).

Public: the names exported below (the server, its control client, settings and faults, and the
models of what the control surface answers) and ``python -m nukiflow.simulator``. The modules
that implement the API, the device and the deliveries are internal and may change without
notice; import from ``nukiflow.simulator``.
"""

from nukiflow.contracts.wire import DecentralWebhook

from .control import SimulatorControl
from .control_models import AccountView, DeviceView, ExecutedAction, RequestRecord
from .server import SimulatorServer
from .settings import Faults, SimSettings
from .standalone import run
from .webhook_models import WebhookDelivery, WebhookView
from .webhook_settings import WebhookFaults, WebhookSettings

__all__ = [
    "AccountView",
    "DecentralWebhook",
    "DeviceView",
    "ExecutedAction",
    "Faults",
    "RequestRecord",
    "SimSettings",
    "SimulatorControl",
    "SimulatorServer",
    "WebhookDelivery",
    "WebhookFaults",
    "WebhookSettings",
    "WebhookView",
    "run",
]
