"""Where cloudrun keeps its own files, overridable with the CLOUDRUN_HOME environment variable.

The state (what runs, what it cost, the credit ledger) lives in the platform's user data folder; what can be
fetched again (the refreshed price cache) in its user cache folder. With CLOUDRUN_HOME set, both live under it, so
tests and the sandbox (which sets its own CLOUDRUN_HOME) never touch the user's folders.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import platformdirs

from cloudrun.errors import InvalidInput


def home() -> Path:
    """Return cloudrun's folder: $CLOUDRUN_HOME if set, else the platform's user data folder.

    A folder cloudrun creates is made private (mode 0700); an existing one keeps its permissions, since
    CLOUDRUN_HOME may point at a folder the user already owns for other things.
    """
    configured = os.environ.get("CLOUDRUN_HOME")
    folder = Path(configured).expanduser() if configured else Path(platformdirs.user_data_dir("cloudrun"))
    with contextlib.suppress(FileExistsError, NotADirectoryError):  # a file in the way: refused just below
        private_dir(folder)
    if not folder.is_dir():
        raise InvalidInput(f"cloudrun's folder {folder} is not a folder: set CLOUDRUN_HOME to a folder path")
    return folder


def cache_home() -> Path:
    """Return the folder for files cloudrun can fetch again: $CLOUDRUN_HOME if set, else the platform's user cache
    folder (e.g. ~/.cache/cloudrun). Not created here: only a write creates it (with `private_dir`)."""
    if os.environ.get("CLOUDRUN_HOME"):
        return home()
    return Path(platformdirs.user_cache_dir("cloudrun"))


def legacy_cache_home() -> Path | None:
    """Where earlier releases kept the price cache when CLOUDRUN_HOME was not set (the data folder); None when set."""
    if os.environ.get("CLOUDRUN_HOME"):
        return None
    return Path(platformdirs.user_data_dir("cloudrun"))


def private_dir(folder: Path) -> Path:
    """Return `folder` after creating it and any missing parent with mode 0700, whatever the umask.

    `Path.mkdir(parents=True)` gives parents the default mode (0777 under `umask 000`) and filters `mode` through
    the umask; each missing component is made and chmod-ed here instead. An existing folder keeps its mode.
    """
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for component in reversed(missing):
        try:
            component.mkdir(mode=0o700)
        except FileExistsError:  # made by a racing process a moment ago: it is theirs to set
            continue
        component.chmod(0o700)
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(folder)
    return folder


def state_path() -> Path:
    """Return the path of the state database (home()/state.db); the file itself is created by the store."""
    return home() / "state.db"
