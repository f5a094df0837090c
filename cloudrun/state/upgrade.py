"""Opening a state database safely: check it is cloudrun's at a schema this release knows, then bring it to HEAD.

Read first, write only what is needed. A database this release cannot use (a newer schema, another program's, not
a database at all) is reported and left untouched, never recreated. An empty one gets the newest schema at once
(schema.py) and is stamped at HEAD; one at an older revision is upgraded by Alembic, in one transaction that a
racing process waits for; a SQLite file of a release before Alembic (PRAGMA user_version N) is stamped at revision
N first. Alembic is imported only then: opening a current database costs no migration machinery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cloudrun.state.database import Database, StateError
from cloudrun.state.migrations import HEAD, LOCATION, REVISIONS

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

_MIGRATION_LOCK = 0x636C6F7564  # pg_advisory_xact_lock key: two processes never migrate one PostgreSQL at once


@dataclass(frozen=True)
class Found:
    """What a database holds: Alembic's revision (None: not stamped), SQLite's user_version, whether it has tables."""

    revision: str | None
    user_version: int
    has_tables: bool

    @property
    def empty(self) -> bool:
        return self.revision is None and self.user_version == 0 and not self.has_tables


def prepare(db: Database) -> None:
    """Leave the database usable at HEAD; raise StateError (having written nothing) if cloudrun cannot use it."""
    with db.read() as conn:
        found = _found(conn, db)
    _check(found, db)
    if db.target.is_sqlite:
        db.use_wal()
    if found.revision != HEAD:
        with db.write() as conn:
            if db.dialect == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            found = _found(conn, db)  # again, under the lock: another process may have migrated it meanwhile
            _check(found, db)
            if found.revision != HEAD:
                _bring_to_head(conn, found)
            if db.target.is_sqlite:  # an older cloudrun reads this, and refuses a file newer than it knows
                conn.exec_driver_sql(f"PRAGMA user_version = {len(REVISIONS)}")
    db.make_private()


def revision(db: Database) -> str | None:
    """Return the database's Alembic revision (None when it has none)."""
    with db.read() as conn:
        return _found(conn, db).revision


def _bring_to_head(conn: Connection, found: Found) -> None:
    """Create the newest schema in an empty database, or run the migrations it lacks."""
    if found.empty:
        from cloudrun.state.schema import metadata

        metadata.create_all(conn)
        _version_table(conn)
        conn.exec_driver_sql(f"INSERT INTO alembic_version (version_num) VALUES ('{HEAD}')")
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(LOCATION))
    config.attributes["connection"] = conn
    if found.revision is None:  # a file of a release before Alembic: user_version counts its m00N migrations
        command.stamp(config, REVISIONS[found.user_version - 1])
    command.upgrade(config, HEAD)


def _version_table(conn: Connection) -> None:
    """Create Alembic's own version table, as Alembic creates it, so that Alembic reads the stamp."""
    conn.exec_driver_sql(
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL,"
        " CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
    )


def _found(conn: Connection, db: Database) -> Found:
    """Return what the database holds, by reading only; raise StateError if it is not a database at all."""
    from sqlalchemy import exc

    try:
        if db.dialect == "sqlite":
            user_version, has_tables, stamped = conn.exec_driver_sql(
                "SELECT (SELECT user_version FROM pragma_user_version), EXISTS (SELECT 1 FROM sqlite_master),"
                " EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'alembic_version')"
            ).one()
        else:
            user_version = 0
            stamped, has_tables = conn.exec_driver_sql(
                "SELECT to_regclass('alembic_version') IS NOT NULL, to_regclass('deployments') IS NOT NULL"
            ).one()
        found = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() if stamped else None
    except exc.DatabaseError as error:
        if not db.target.is_sqlite or "locked" in str(error.orig) or "unable to open" in str(error.orig):
            raise
        raise StateError(
            f"state file {db.target.shown} is not a cloudrun state database ({error.orig}); it was left untouched:"
            " move it aside to start fresh"
        ) from error
    return Found(found, int(user_version), bool(has_tables))


def _check(found: Found, db: Database) -> None:
    """Raise StateError if this release cannot use what the database holds."""
    where = db.target.shown
    known = len(REVISIONS)
    unknown_revision = found.revision is not None and found.revision not in REVISIONS
    if unknown_revision or found.user_version > known:
        schema = found.revision if unknown_revision else found.user_version
        raise StateError(
            f"state database {where} was written by a newer cloudrun (schema {schema}, this version knows {HEAD}):"
            " upgrade cloudrun, or set CLOUDRUN_HOME or CLOUDRUN_DATABASE_URL to another database"
        )
    if found.revision is None and found.user_version == 0 and found.has_tables:
        raise StateError(
            f"state database {where} holds another program's tables; it was left untouched: move it aside to start"
            " fresh, or point CLOUDRUN_DATABASE_URL at a database of cloudrun's own"
        )
