"""Point this process at a running sandbox: its emulated clouds, and its own state folder.

`cloudrun sandbox start` writes `<CLOUDRUN_HOME>/sandbox/server.json`; `--sandbox` on a command reads it,
checks every endpoint is on this machine, and swaps in fake credentials so nothing can reach a real cloud.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cloudrun import paths
from cloudrun.errors import InvalidInput
from cloudrun.sandbox import clouds

SERVER_FILE = "server.json"


def sandbox_home(real_home: Path | None = None) -> Path:
    """Return the sandbox's own CLOUDRUN_HOME: a folder inside the real one, so states never mix."""
    return paths.private_dir((real_home or paths.home()) / "sandbox")


def server_info(home: Path) -> dict[str, str] | None:
    """Return what `cloudrun sandbox start` recorded (urls, pid), or None when no sandbox was started."""
    try:
        return json.loads((home / SERVER_FILE).read_text())
    except (OSError, ValueError):
        return None


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 80), timeout=2):
            return True
    except OSError:
        return False


def enter() -> Path:
    """Switch this process to the running sandbox; return the sandbox home. Raise if none is running."""
    home = sandbox_home()
    info = server_info(home)
    if info:
        clouds.require_local(info)  # before any connection: a tampered server.json never reaches another host
    if not info or not _reachable(info["aws"]):
        raise InvalidInput("no sandbox is running", hint="start one with `cloudrun sandbox start`")
    use(home, info)
    return home


def use(home: Path, info: dict[str, Any]) -> None:
    """Point CLOUDRUN_HOME at `home` and every cloud SDK at the sandbox's fakes in `info` (loopback only)."""
    clouds.activate(info)
    os.environ["CLOUDRUN_HOME"] = str(home)
