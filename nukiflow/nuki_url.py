"""Where the Nuki API token may travel: a base URL is refused unless it is https, or plain http
to this machine (the fake cloud) or through a network the settings say is trusted."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_nuki_url(url: str, *, allow_http: bool = False) -> None:
    """Refuse a Nuki base URL the token should not travel to: not http(s), no host, or plain
    http beyond loopback unless ``allow_http`` (``RuntimeError`` saying what to set)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        parts, host = None, ""
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise RuntimeError(
            "NUKIFLOW_NUKI_URL is not an http(s) URL with a host (e.g. https://api.nuki.io)"
        )
    if parts.scheme == "http" and not (allow_http or is_loopback(host)):
        raise RuntimeError(
            f"NUKIFLOW_NUKI_URL uses plain http to {host}: the API token would travel in clear "
            "text. Use https://, or set NUKIFLOW_NUKI_ALLOW_HTTP=true if the network in between "
            "is trusted (a TLS-terminating proxy on the same host, say)"
        )
