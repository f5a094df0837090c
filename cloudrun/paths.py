"""Where cloudrun keeps its own files: one folder, overridable with the CLOUDRUN_HOME environment variable."""

from __future__ import annotations

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
    try:
        folder.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    else:
        folder.chmod(0o700)  # mkdir's mode is filtered by the umask
    if not folder.is_dir():
        raise InvalidInput(f"cloudrun's folder {folder} is not a folder: set CLOUDRUN_HOME to a folder path")
    return folder


def state_path() -> Path:
    """Return the path of the state database (home()/state.db); the file itself is created by the store."""
    return home() / "state.db"
