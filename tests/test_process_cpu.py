"""The benchmarks' CPU accounting (bench/process_cpu.py), without servers."""

from __future__ import annotations

import os

from bench.process_cpu import (
    CpuMark,
    CpuSpent,
    IdleRate,
    cpu_figures,
    cpu_line,
    cpu_seconds,
    parse_stat,
)

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(name: str, utime: int, stime: int) -> str:
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    return f"4242 ({name}) S 1 1 1 0 -1 0 0 0 0 0 {utime} {stime} 0 0 20 0 1 0"


def test_user_and_system_time_are_added_whatever_the_process_name() -> None:
    assert parse_stat(_stat("temporal", 300, 100)) == 400 / TICKS
    assert parse_stat(_stat("odd) (name", 5, 5)) == 10 / TICKS


def test_cpu_of_this_process_is_read_and_grows() -> None:
    first = cpu_seconds(os.getpid())
    assert first is not None
    later = first
    spins = 0
    while later <= first and spins < 50_000_000:
        spins += 1
        if spins % 100_000 == 0:
            later = cpu_seconds(os.getpid()) or first
    assert later > first
    assert cpu_seconds(None) is None
    assert cpu_seconds(2**22 + 12345) is None  # no such process


def test_per_unit_figures_and_ratios() -> None:
    start, floor_end = CpuMark(10.0, 2.0), CpuMark(20.0, 4.0)
    change_end = CpuMark(50.0, 24.0)
    floor = CpuSpent.between(start, floor_end, 1000)
    change = CpuSpent.between(floor_end, change_end, 1000)
    assert (floor.server_ms, floor.worker_ms) == (10.0, 2.0)
    assert (change.server_ms, change.worker_ms) == (30.0, 20.0)
    figures = cpu_figures(floor, change)
    assert figures["server_x_floor"] == 3.0
    assert figures["worker_x_floor"] == 10.0
    assert figures["both_x_floor"] == round(50 / 12, 2)
    line = cpu_line(floor, change)
    assert "server 30.0 ms (3.0x its 10.0 ms per empty workflow)" in line
    assert "both 4.17x" in line


def test_an_unreadable_process_leaves_the_figures_out() -> None:
    floor = CpuSpent.between(CpuMark(None, 1.0), CpuMark(None, 2.0), 10)
    change = CpuSpent.between(CpuMark(None, 2.0), CpuMark(None, 3.0), 10)
    assert floor.server_ms is None and floor.both_ms is None
    assert cpu_figures(floor, change)["both_x_floor"] is None
    assert cpu_line(floor, change) == "CPU per change: unknown (no /proc here)"
    assert CpuSpent.between(CpuMark(1.0, 1.0), CpuMark(2.0, 2.0), 0).server_ms is None


def test_what_the_processes_burn_idle_is_taken_off_each_window() -> None:
    idle = IdleRate.between(CpuMark(1.0, 1.0, at=0.0), CpuMark(1.1, 1.02, at=2.0))
    assert (round(idle.server, 3), round(idle.worker, 3)) == (0.05, 0.01)
    # 10 s of waiting on devices with 1.5 s of server CPU: 0.5 s of it was idling.
    spent = CpuSpent.between(CpuMark(5.0, 5.0, at=100.0), CpuMark(6.5, 5.3, at=110.0), 100, idle)
    assert spent.server_ms is not None and spent.worker_ms is not None
    assert round(spent.server_ms, 6) == 10.0
    assert round(spent.worker_ms, 6) == 2.0
    # Never below nothing (a window shorter than a clock tick).
    assert (
        CpuSpent.between(CpuMark(5.0, 5.0, at=0.0), CpuMark(5.0, 5.0, at=1.0), 1, idle).server_ms
        == 0
    )
