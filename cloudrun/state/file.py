"""Opening the state file safely: created 0600, checked before use (never recreated), WAL, busy waits."""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from cloudrun import paths
from cloudrun.errors import CloudrunError


class StateError(CloudrunError):
    """The state file cannot be used as it is (newer schema, not a database, busy); it was left untouched."""

    exit_code = 1


def open_file(path: Path, timeout: float) -> sqlite3.Connection:
    """Return a connection to the file, which is first created with mode 0600 if it does not exist."""
    try:
        paths.private_dir(path.parent)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise StateError(
            f"state file {path} cannot be opened ({exc}); it was left untouched: check its permissions,"
            " or move it aside to start fresh"
        ) from exc
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def check_usable(conn: sqlite3.Connection, path: Path, known: int) -> int:
    """Return the file's schema version, found by reading only; raise StateError if cloudrun cannot use it."""
    try:
        # one statement, so one snapshot: a racing process may be migrating the file right now
        version, has_tables = conn.execute(
            "SELECT (SELECT user_version FROM pragma_user_version), EXISTS (SELECT 1 FROM sqlite_master)"
        ).fetchone()
    except sqlite3.DatabaseError as exc:
        if "locked" in str(exc):
            raise
        raise StateError(
            f"state file {path} is not a cloudrun state database ({exc}); it was left untouched:"
            " move it aside to start fresh"
        ) from exc
    if version == 0 and has_tables:
        raise StateError(
            f"state file {path} is the SQLite database of another program; it was left untouched:"
            " move it aside to start fresh"
        )
    if version > known:
        raise StateError(
            f"state file {path} was written by a newer cloudrun (schema {version}, this version knows"
            f" {known}): upgrade cloudrun or set CLOUDRUN_HOME to another folder"
        )
    return version


def use_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Switch the file to write-ahead logging, so that readers never wait for the writer; a no-op once it is.

    Two processes switching a new file at once would deadlock, so SQLite fails one at once instead of
    waiting out the busy timeout: retry it, with jitter, until the timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(random.uniform(0.005, 0.05))


def make_private(path: Path) -> None:
    """Set mode 0600 on the database and on its -wal and -shm files where they exist."""
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):  # another process may just have removed its -wal
            file.chmod(0o600)


@contextlib.contextmanager
def waiting_for_lock(path: Path) -> Iterator[None]:
    """Yield; turn SQLite's "database is locked" (the busy timeout ran out) into a StateError."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        raise StateError(
            f"state file {path} stayed locked by another cloudrun process: try again when it is done"
        ) from exc
