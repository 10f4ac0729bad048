"""What the receiver did with the deliveries it got: counters for tests, logs and probes."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass


@dataclass
class Counters:
    """Every delivery is counted once as ``received`` and then once by what became of it at the
    door (``refused``, ``duplicates``, ``stale``, ``unreadable``, ``unhandled``, ``dropped`` or
    ``queued``); a queued event is then counted once by how its forwarding ended
    (``forwarded``, ``unmanaged``, ``ignored``, ``failed``, or ``dropped`` at shutdown)."""

    # At the door (the HTTP answer).
    received: int = 0
    refused: int = 0  # bad or missing signature, body too large: 401/413, nothing forwarded
    duplicates: int = 0  # the same body again: acknowledged, not forwarded again
    stale: int = 0  # dated older than the maximum age (or as far in the future)
    unreadable: int = 0  # signed, but not a delivery nukiflow can read
    unhandled: int = 0  # a feature nukiflow does not forward
    dropped: int = 0  # the queue was full (or the receiver stopped before forwarding it)
    queued: int = 0
    # Forwarding (in the background).
    forwarded: int = 0  # signalled to the auth's entity or the lock's workflow
    unmanaged: int = 0  # no entity manages the auth: recorded in the lock's drift ledger
    ignored: int = 0  # no lock workflow runs, or the auth's entity ended with its deletion
    failed: int = 0  # Temporal refused or stayed unreachable: given up

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class ThrottledLog:
    """Log a recurring warning at most once per ``interval`` seconds per key, with the number
    of occurrences left out meanwhile: a flood of forged deliveries must not flood the log."""

    def __init__(self, logger: logging.Logger, interval: float = 10.0) -> None:
        self._logger = logger
        self._interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, message: str, *args: object) -> None:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        self._last[key] = now
        suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            message += f" ({suppressed} more like it not logged)"
        self._logger.warning(message, *args)
