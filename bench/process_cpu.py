"""CPU time of the processes a benchmark measures: the Temporal dev server and the worker.

Wall-clock ratios swing with whatever else the machine runs; the CPU time each process spent
on one change, beside the CPU time it spent on one empty workflow of the Temporal floor, moves
far less (it is what a busy machine cannot take away, only delay). Both are read from
``/proc/<pid>/stat`` (user plus system time of every thread), so they are Linux only: elsewhere
the figures are left out. What each process burns while idle (its timers, the server's own
housekeeping), measured over a quiet moment before the floor, is taken off every window: a
window that waits on device delays would otherwise count that idling as work.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

# How long the benchmarks watch the processes idle before the floor.
IDLE_SECONDS = 2.0

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int | None) -> float | None:
    """User plus system CPU seconds the process has used so far (None: not readable)."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return parse_stat(stat.read())
    except (OSError, ValueError, IndexError):
        return None


def parse_stat(text: str) -> float:
    """The CPU seconds in one ``/proc/<pid>/stat`` line (fields 14 and 15, after the name,
    which may itself hold spaces and parentheses)."""
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


@dataclass(frozen=True)
class CpuMark:
    """CPU seconds of the server and the worker at one instant (``at``: monotonic seconds)."""

    server: float | None
    worker: float | None
    at: float = 0.0

    @classmethod
    def take(cls, server_pid: int | None, worker_pid: int | None) -> CpuMark:
        return cls(cpu_seconds(server_pid), cpu_seconds(worker_pid), time.monotonic())

    @classmethod
    def unknown(cls) -> CpuMark:
        return cls(None, None)


@dataclass(frozen=True)
class IdleRate:
    """CPU seconds per second each process burns while idle."""

    server: float = 0.0
    worker: float = 0.0

    @classmethod
    def between(cls, start: CpuMark, end: CpuMark) -> IdleRate:
        seconds = end.at - start.at

        def rate(a: float | None, b: float | None) -> float:
            return 0.0 if a is None or b is None or seconds <= 0 else max(0.0, b - a) / seconds

        return cls(rate(start.server, end.server), rate(start.worker, end.worker))


@dataclass(frozen=True)
class CpuSpent:
    """CPU milliseconds per unit (an empty workflow, or a change) of each process."""

    server_ms: float | None
    worker_ms: float | None

    @classmethod
    def between(
        cls, start: CpuMark, end: CpuMark, units: int, idle: IdleRate | None = None
    ) -> CpuSpent:
        """Per unit of ``units``, less what the processes burn idle over the window."""
        idle = idle or IdleRate()
        seconds = max(0.0, end.at - start.at)

        def per(a: float | None, b: float | None, idling: float) -> float | None:
            if a is None or b is None or units <= 0:
                return None
            return max(0.0, b - a - idling * seconds) * 1000 / units

        return cls(
            per(start.server, end.server, idle.server), per(start.worker, end.worker, idle.worker)
        )

    @property
    def both_ms(self) -> float | None:
        if self.server_ms is None or self.worker_ms is None:
            return None
        return self.server_ms + self.worker_ms


def _ratio(change: float | None, floor: float | None) -> float | None:
    return None if change is None or not floor else change / floor


def cpu_figures(floor: CpuSpent, change: CpuSpent) -> dict[str, float | None]:
    """The JSON figures: ms per empty workflow and per change, and their ratios."""

    def rounded(value: float | None, digits: int) -> float | None:
        return None if value is None else round(value, digits)

    return {
        "server_ms_per_floor_workflow": rounded(floor.server_ms, 2),
        "server_ms_per_change": rounded(change.server_ms, 2),
        "server_x_floor": rounded(_ratio(change.server_ms, floor.server_ms), 2),
        "worker_ms_per_floor_workflow": rounded(floor.worker_ms, 2),
        "worker_ms_per_change": rounded(change.worker_ms, 2),
        "worker_x_floor": rounded(_ratio(change.worker_ms, floor.worker_ms), 2),
        "both_x_floor": rounded(_ratio(change.both_ms, floor.both_ms), 2),
    }


def cpu_line(floor: CpuSpent, change: CpuSpent, label: str = "CPU per change") -> str:
    """One line for people: CPU ms per change beside CPU ms per empty workflow, per process."""
    if change.both_ms is None or floor.both_ms is None:
        return f"{label}: unknown (no /proc here)"
    figures = cpu_figures(floor, change)
    return (
        f"{label}: server {change.server_ms:.1f} ms "
        f"({figures['server_x_floor']}x its {floor.server_ms:.1f} ms per empty workflow), "
        f"worker {change.worker_ms:.1f} ms ({figures['worker_x_floor']}x its "
        f"{floor.worker_ms:.1f} ms), both {figures['both_x_floor']}x"
    )
