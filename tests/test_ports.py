"""Ports the embedded stack and the tests pick: free, and out of reach of outgoing connections."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from nukiflow.devtools import ports
from nukiflow.devtools.ports import free_port, port_in_use


def test_free_port_is_below_the_ephemeral_range_and_binds() -> None:
    low = ports._ephemeral_low()
    if low is None or min(low, ports._HIGHEST) - ports._LOWEST < 1000:
        pytest.skip("no ephemeral port range to stay below on this system")
    picked = [free_port() for _ in range(20)]
    assert len(set(picked)) == len(picked), "a port handed out twice"
    for port in picked:
        assert ports._LOWEST <= port < min(low, ports._HIGHEST)
        with socket.socket() as sock:  # binds without SO_REUSEADDR
            sock.bind(("127.0.0.1", port))


def test_a_taken_port_is_never_picked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        assert port_in_use(taken)
        # A range around the held port, which is tried first.
        fake = tmp_path / "range"
        fake.write_text(f"{taken + 1}\t65535\n")
        monkeypatch.setattr(ports, "_EPHEMERAL_RANGE", fake)
        monkeypatch.setattr(ports, "_LOWEST", taken - 1000)
        monkeypatch.setattr(ports, "_HIGHEST", taken + 1)
        tried: list[int] = []

        def held_first(population: range, k: int) -> list[int]:
            order = [taken, *(p for p in population if p != taken)][:k]
            tried.extend(order)
            return order

        monkeypatch.setattr(ports._RANDOM, "sample", held_first)
        port = free_port()
        assert tried[0] == taken and port != taken
        assert ports._LOWEST <= port <= taken


def test_without_a_known_range_the_os_picks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(ports, "_EPHEMERAL_RANGE", tmp_path / "missing")
    port = free_port()
    assert 0 < port < 65536 and not port_in_use(port)
