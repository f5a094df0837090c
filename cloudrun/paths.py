"""Where cloudrun keeps its own files: one folder, overridable with the CLOUDRUN_HOME environment variable."""

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
