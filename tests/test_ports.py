"""Ports the embedded stack and the tests pick: free, and out of reach of outgoing connections."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from nukiflow.devtools import ports
from nukiflow.devtools.ports import free_port, port_in_use


def test_free_port_is_below_the_ephemeral_range_and_binds() -> None:
    low = ports._ephemeral_low()
    if low is None or low - ports._LOWEST < 1000:
        pytest.skip("no ephemeral port range to stay below on this system")
    for _ in range(20):
        port = free_port()
        assert ports._LOWEST <= port < low
        with socket.socket() as sock:  # binds without SO_REUSEADDR
            sock.bind(("127.0.0.1", port))


def test_a_taken_port_is_never_picked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A range of two candidate ports, one of them held by a listener.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        taken = held.getsockname()[1]
        fake = tmp_path / "range"
        fake.write_text(f"{taken + 2000}\t60999\n")
        monkeypatch.setattr(ports, "_EPHEMERAL_RANGE", fake)
        monkeypatch.setattr(ports, "_LOWEST", taken)
        monkeypatch.setattr(ports, "_TRIES", 2000)
        assert port_in_use(taken)
        assert {free_port() for _ in range(50)}.isdisjoint({taken})


def test_without_a_known_range_the_os_picks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(ports, "_EPHEMERAL_RANGE", tmp_path / "missing")
    port = free_port()
    assert 0 < port < 65536 and not port_in_use(port)
