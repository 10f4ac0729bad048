"""Internal: ports for the embedded stack (and the tests): a free one, and whether one is taken."""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

# Linux hands the local port of every outgoing connection out of this range. A port picked
# there and bound a moment later can meanwhile become the local end of someone's connection
# (any client on the machine), and the bind then fails with "Address already in use". Ports
# below the range are never handed out that way, so only a listener can take them.
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# The ports picked: above the well-known and the usual registered service ports, below
# Kubernetes' NodePort range (30000-32767), which kube-proxy serves on loopback without
# binding it (a bind test cannot see it taken).
_LOWEST = 20000
_HIGHEST = 30000
_TRIES = 200
# Its own generator: a test runner that seeds ``random`` alike in parallel processes would
# otherwise have them all pick the same ports in the same order.
_RANDOM = random.SystemRandom()
# Ports this process handed out: a caller may ask for several before it binds any.
_HANDED_OUT: set[int] = set()


def _ephemeral_low() -> int | None:
    try:
        low, _high = _EPHEMERAL_RANGE.read_text().split()
        return int(low)
    except (OSError, ValueError):
        return None


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now, chosen where outgoing connections do not land.

    Below the kernel's ephemeral range when the range is known and leaves room (Linux), and
    never one this process handed out before; otherwise the OS picks one, as on any other
    system.
    """
    low = _ephemeral_low()
    if low is not None:
        high = min(low, _HIGHEST)
        if high - _LOWEST >= 1000:
            for port in _RANDOM.sample(range(_LOWEST, high), min(_TRIES, high - _LOWEST)):
                if port not in _HANDED_OUT and not _taken(port, host):
                    _HANDED_OUT.add(port)
                    return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _taken(port: int, host: str) -> bool:
    # Without SO_REUSEADDR: a port with connections in TIME_WAIT is skipped too, so whoever
    # binds it next does not depend on its own socket options.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something listens on ``port`` (connections in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        if os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def accepts_connections(host: str, port: int) -> bool:
    """Whether something accepts a TCP connection on ``port`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0
