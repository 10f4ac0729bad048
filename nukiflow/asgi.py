"""Serving an ASGI app with uvicorn inside an event loop someone else owns.

The fake Nuki cloud, the codec server and the worker's health endpoint all run this way: in the
caller's loop (tests, `nukiflow dev`, the worker process), without signal handlers of their own,
and stopping promptly.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import uvicorn


class EmbeddedUvicorn(uvicorn.Server):
    """Uvicorn embedded in someone else's event loop.

    No signal handlers: Ctrl+C belongs to the host program (a test run, the dev command). And
    a prompt stop: uvicorn polls for the exit flag every 0.1 s and then sleeps 0.1 s before
    closing connections; with one simulator per test that alone would add seconds to a suite.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit_requested = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def request_exit(self) -> None:
        self.should_exit = True
        self._exit_requested.set()

    async def main_loop(self) -> None:
        counter = 0
        # on_tick refreshes the Date header when counter % 10 == 0, and reports should_exit.
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit_requested.wait(), timeout=1.0)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        # Idle keep-alive connections close at once; busy ones once their response is out.
        for connection in list(self.server_state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.config.timeout_graceful_shutdown or 0)
        while self.server_state.connections or self.server_state.tasks:
            if loop.time() >= deadline:
                for task in self.server_state.tasks:
                    task.cancel()
                break
            await asyncio.sleep(0.005)
        for server in self.servers:
            await server.wait_closed()
        await self.lifespan.shutdown()


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind before serving, so port 0 yields the real port before the first request."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class EmbeddedServer:
    """Serve ``app`` on ``host:port`` (0: a free port) as a task of the running loop."""

    def __init__(
        self, app: Any, host: str = "127.0.0.1", port: int = 0, name: str = "asgi"
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.name = name
        self._uvicorn: EmbeddedUvicorn | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Returns once the server listens; ``port`` then holds the real port."""
        if self._task is not None:
            raise RuntimeError(f"{self.name} server already started")
        self._socket = bind_socket(self.host, self.port)
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        self._uvicorn = EmbeddedUvicorn(config)
        self._task = asyncio.get_running_loop().create_task(
            self._uvicorn.serve(sockets=[self._socket]), name=self.name
        )
        while not self._uvicorn.started:
            if self._task.done():
                await self._task  # re-raises why uvicorn could not start
                raise RuntimeError(f"the {self.name} server stopped while starting")
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        if self._uvicorn is not None and self._task is not None:
            self._uvicorn.request_exit()
            await self._task
        if self._socket is not None:
            self._socket.close()
        self._uvicorn = self._task = self._socket = None

    async def __aenter__(self) -> EmbeddedServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
