"""Internal: serving an ASGI app inside an event loop someone else owns.

The fake Nuki cloud, the codec server and the worker's health endpoint all run this way: in the
caller's loop (tests, `nukiflow dev`, the worker process), without signal handlers of their own,
and stopping promptly.

Hypercorn's documented embedding API does exactly that: ``hypercorn.asyncio.serve(app, config,
shutdown_trigger=...)`` installs no signal handlers when it is given a shutdown trigger (Ctrl+C
and SIGTERM belong to the host program), and ``fd://`` binds serve a socket bound beforehand, so
port 0 yields the real port before the first request. Nothing here subclasses or patches the
server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from types import TracebackType
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config

# Connections that are still busy when a server stops get this long to finish their answer.
GRACEFUL_SECONDS = 1.0

log = logging.getLogger("nukiflow.http")


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind and listen before serving: connections made before the server accepts them wait in
    the backlog instead of being refused."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(socket.SOMAXCONN)
    except OSError:
        sock.close()
        raise
    return sock


def _config(sock: socket.socket) -> Config:
    config = Config()
    # The server gets its own descriptor of the socket and closes that one when it stops; ours
    # stays valid until stop() closes it, so no descriptor is closed twice.
    config.bind = [f"fd://{os.dup(sock.fileno())}"]
    config.accesslog = None
    config.errorlog = log
    config.loglevel = "WARNING"
    config.graceful_timeout = GRACEFUL_SECONDS
    return config


class EmbeddedServer:
    """Serve ``app`` on ``host:port`` (0: a free port) as a task of the running loop."""

    def __init__(
        self, app: Any, host: str = "127.0.0.1", port: int = 0, name: str = "asgi"
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.name = name
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Returns once the socket listens; ``port`` then holds the real port."""
        if self._task is not None:
            raise RuntimeError(f"{self.name} server already started")
        self._socket = bind_socket(self.host, self.port)
        self.port = self._socket.getsockname()[1]
        stop = self._stop = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(
            serve(self.app, _config(self._socket), shutdown_trigger=stop.wait),
            name=self.name,
        )
        # One turn of the loop lets the server fail fast on a broken app or socket.
        await asyncio.sleep(0)
        if self._task.done():
            await self._task  # re-raises why the server could not start
            raise RuntimeError(f"the {self.name} server stopped while starting")

    async def stop(self) -> None:
        if self._stop is not None and self._task is not None:
            self._stop.set()
            await self._task
        if self._socket is not None:
            self._socket.close()
        self._stop = self._task = self._socket = None

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
