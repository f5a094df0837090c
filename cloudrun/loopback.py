"""Loopback checks: the sandbox only ever talks to this machine, and adapters aimed at a sandbox verify it."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from cloudrun.errors import InvalidInput


def is_loopback(url: str) -> bool:
    """Return whether a URL's host is a loopback address (127.0.0.0/8, ::1) or localhost."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_loopback(url: str) -> None:
    """Raise InvalidInput unless `url` points at this machine."""
    if not is_loopback(url):
        raise InvalidInput(f"sandbox endpoint {url} is not on this machine", hint="use 127.0.0.1 or localhost")
