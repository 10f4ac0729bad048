"""`SimulatorServer`: the fake Nuki cloud served by hypercorn inside the caller's event loop."""

from __future__ import annotations

from types import TracebackType

from nukiflow.temporal.asgi import EmbeddedServer

from .app import build_app
from .settings import SimSettings
from .state import SimState

DEFAULT_TOKEN = "nukiflow-simulator-token"


class SimulatorServer:
    """A fake Nuki Web API on `base_url`; use as `async with SimulatorServer(...) as server`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = DEFAULT_TOKEN,
        seed: int = 0,
        settings: SimSettings | None = None,
        locks: int = 0,
    ) -> None:
        self.host = host
        self.port = port
        self.token = token
        self.state = SimState(seed=seed, settings=settings, locks=locks, token=token)
        self.app = build_app(self.state, token)
        self._server = EmbeddedServer(self.app, host, port, name="nuki-simulator")

    @property
    def base_url(self) -> str:
        return self._server.base_url

    async def start(self) -> None:
        """Serve as a task of the running loop; returns once the server listens."""
        self.state.start()
        await self._server.start()
        self.port = self._server.port

    async def stop(self) -> None:
        await self._server.stop()
        await self.state.stop()

    async def __aenter__(self) -> SimulatorServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
