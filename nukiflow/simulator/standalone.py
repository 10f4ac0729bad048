"""The fake Nuki cloud on its own, blocking: `nukiflow simulator` and `python -m`."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from .server import SimulatorServer
from .settings import SimSettings

# The token both entry points default to, and the one `nukiflow dev` gives its fake cloud: a
# well-known value for fake locks, so it is no secret and is printed for copying.
DEV_TOKEN = "nukiflow-dev-token"


def _token_hint(token: str) -> str:
    # A token the user chose may be a real one: enough to recognise it, not enough to use it
    # from a screenshot or a log.
    return token if token == DEV_TOKEN else f"{token[:4]}… ({len(token)} characters)"


async def serve(server: SimulatorServer) -> None:
    # Handlers of its own, as the worker's and `nukiflow dev`'s: a program started with SIGINT
    # ignored (a background job of a script) gets no KeyboardInterrupt from Python, and
    # SIGTERM (a container stopping) would end it without stopping the server.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        print(f"Fake Nuki Web API on {server.base_url}", flush=True)
        print(f"Bearer token: {_token_hint(server.token)}", flush=True)
        seeded = ", ".join(str(smartlock_id) for smartlock_id in server.state.locks)
        print(f"Seeded locks: {seeded or 'none'}", flush=True)
        print(f"Control surface: {server.base_url}/_sim/ (Ctrl+C to stop)", flush=True)
        await stop.wait()


def run(
    host: str = "127.0.0.1",
    port: int = 8080,
    token: str = DEV_TOKEN,
    locks: int = 3,
    seed: int = 0,
    settings: SimSettings | None = None,
) -> None:
    """Serve until interrupted. Seeded locks have a paired keypad."""
    server = SimulatorServer(
        host=host, port=port, token=token, seed=seed, settings=settings, locks=locks
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(server))
