"""Where the state lives and how to talk to it: a SQLite file (the default) or a PostgreSQL database, by URL.

The URL: CLOUDRUN_DATABASE_URL, else `database_url` in config.toml, else the SQLite file state.db under
CLOUDRUN_HOME (no setup). SQLAlchemy Core is imported only when a store is opened, never by `cloudrun --help`.

Writes serialise in the database itself, never in this process: on SQLite every write transaction is
`BEGIN IMMEDIATE` (the file's one write lock; a second process waits out the busy timeout); on PostgreSQL a write
locks the rows it reads before changing them (`SELECT ... FOR UPDATE`, which SQLAlchemy leaves out on SQLite,
where the file lock already holds) and a new name is claimed by its primary key. Waiting longer than the timeout
is a StateError, on both.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cloudrun import paths
from cloudrun.errors import CloudrunError, InvalidInput

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

URL_ENV = "CLOUDRUN_DATABASE_URL"
_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE when lock_timeout runs out (its Appendix A, "Error Codes")


class StateError(CloudrunError):
    """The state database cannot be used as it is (newer schema, not cloudrun's, busy, unreachable); left untouched."""

    exit_code = 1


@dataclass(frozen=True)
class Target:
    """The database a store opens: its URL, the SQLite file behind it (None for PostgreSQL), how errors name it."""

    url: str
    path: Path | None
    shown: str  # for messages: the file's path, or the URL without its password

    @property
    def is_sqlite(self) -> bool:
        return self.path is not None


def configured_url() -> str | None:
    """Return the database URL set by CLOUDRUN_DATABASE_URL or config.toml's database_url; None means the default."""
    from cloudrun import config, inputs

    if os.environ.get(URL_ENV):
        return inputs.urls.database_url(os.environ[URL_ENV], URL_ENV)
    value = config.load().get("database_url")
    return inputs.urls.database_url(value) if value else None


def target(path: Path | None = None, url: str | None = None) -> Target:
    """Return what to open: `path` (a SQLite file), else `url`, else the configured URL, else paths.state_path()."""
    if path is None:
        url = url if url is not None else configured_url()
        if url is None:
            path = paths.state_path()
        elif url.startswith("sqlite"):
            path = Path(url.partition(":///")[2]).expanduser()
    if path is not None:
        return Target(f"sqlite:///{Path(path)}", Path(path), str(path))
    assert url is not None
    return Target(url, None, _redacted(url))


def exists() -> bool:
    """Return whether there is state to read: a database URL is configured, or the default file exists."""
    place = target()
    return place.path is None or place.path.exists()


class Database:
    """An engine over one target, with the two kinds of transaction the state room uses and its errors translated."""

    def __init__(self, place: Target, timeout: float) -> None:
        self.target, self.timeout = place, timeout
        if place.path is not None:
            _create_private(place.path)
        self.engine = _engine(place, timeout)
        self.dialect: str = self.engine.dialect.name  # "sqlite" or "postgresql"

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """Yield a connection in one write transaction: committed on success, rolled back on any error."""
        with self.translated(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """Yield a connection in one read transaction (one snapshot; on SQLite it takes no write lock)."""
        with self.translated(), self.engine.connect().execution_options(cloudrun_read=True) as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def translated(self) -> Iterator[None]:
        """Yield; turn a lock held too long, or a database out of reach, into a StateError naming the target."""
        from sqlalchemy import exc

        try:
            yield
        except exc.OperationalError as error:
            code = getattr(error.orig, "sqlstate", None)
            if "locked" in str(error.orig) or code == _LOCK_NOT_AVAILABLE:
                raise StateError(
                    f"state database {self.target.shown} stayed locked by another cloudrun process:"
                    " try again when it is done"
                ) from error
            if self.target.is_sqlite and "unable to open" in str(error.orig):
                raise StateError(
                    f"state file {self.target.shown} cannot be opened ({error.orig}); it was left untouched: check"
                    " its permissions, or move it aside to start fresh"
                ) from error
            if not self.target.is_sqlite and (code is None or code.startswith("08")):  # 08: connection exception
                first = (str(error.orig).strip().splitlines() or [type(error.orig).__name__])[0]
                raise StateError(
                    f"state database {self.target.shown} cannot be reached ({first}): check {URL_ENV} or"
                    " `cloudrun config get database_url`, and that the server is up"
                ) from error
            raise

    def use_wal(self) -> None:
        """Switch a SQLite file to write-ahead logging (readers never wait for the writer); a no-op once it is.

        Two processes switching a new file at once would deadlock, so SQLite fails one at once instead of
        waiting out the busy timeout: retry it, with jitter, until the timeout.
        """
        import sqlite3  # here, not at the top: `plan` asks this module whether there is state, never for SQLite

        deadline = time.monotonic() + self.timeout
        raw = self.engine.raw_connection()
        try:
            while True:
                try:
                    raw.driver_connection.execute("PRAGMA journal_mode = WAL")
                    return
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                time.sleep(random.uniform(0.005, 0.05))
        finally:
            raw.close()

    def make_private(self) -> None:
        """Set mode 0600 on a SQLite database and on its -wal and -shm files where they exist."""
        path = self.target.path
        if path is None:
            return
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            with contextlib.suppress(FileNotFoundError):  # another process may just have removed its -wal
                file.chmod(0o600)


def _engine(place: Target, timeout: float) -> Engine:
    """Return an engine whose transactions lock the way the module docstring says, on either database."""
    import sqlalchemy as sa
    from sqlalchemy import event

    if place.is_sqlite:
        engine = sa.create_engine(place.url, connect_args={"timeout": timeout})

        @event.listens_for(engine, "connect")
        def _connected(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # transactions are begun below, not by the driver
            dbapi_connection.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            dbapi_connection.execute("PRAGMA foreign_keys = ON")

        @event.listens_for(engine, "begin")
        def _begun(conn: Connection) -> None:
            # BEGIN IMMEDIATE takes the write lock now, waiting up to the busy timeout, so a write never fails
            # halfway with "database is locked"; a read takes no lock (WAL gives it a snapshot).
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("cloudrun_read") else "BEGIN IMMEDIATE")

        return engine
    try:
        import psycopg  # noqa: F401 - the driver SQLAlchemy's postgresql+psycopg dialect loads
    except ImportError as exc:
        raise InvalidInput(
            f"the state database {place.shown} is PostgreSQL, and its driver (psycopg) is not installed",
            hint="pip install 'cloudrun-llm[postgres]'",
        ) from exc
    milliseconds = int(timeout * 1000)
    return sa.create_engine(
        place.url,
        pool_pre_ping=True,  # `watch` runs for days: a connection the server dropped is replaced, not failed on
        connect_args={"connect_timeout": max(1, int(timeout)), "application_name": "cloudrun",
                      "options": f"-c lock_timeout={milliseconds} -c idle_in_transaction_session_timeout=600000"},
    )  # fmt: skip


def _create_private(path: Path) -> None:
    """Create the SQLite file with mode 0600 (and its folder 0700) if it does not exist; raise StateError if not."""
    try:
        paths.private_dir(path.parent)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise StateError(
            f"state file {path} cannot be opened ({exc}); it was left untouched: check its permissions,"
            " or move it aside to start fresh"
        ) from exc


def _redacted(url: str) -> str:
    """Return the URL without its password, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://", 1))
    if parts.password is None:
        return urlunsplit(parts)
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
