"""The state database's schema and its migrations (cloudrun/state/migrations/, run by Alembic), on SQLite and
PostgreSQL: the revisions Alembic finds are the ones the store knows, migrating an empty database gives exactly the
schema a new one gets, and a SQLite file made by the release before Alembic (tests/data/state/v5.db, user_version
5) is upgraded in place with every row kept."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from cloudrun.credits.ledger import Ledger
from cloudrun.models import DeploymentStatus
from cloudrun.state import StateError, StateStore, deletions, limits
from cloudrun.state.migrations import HEAD, LOCATION, REVISIONS
from cloudrun.state.schema import metadata
from tests.factories import NOW
from tests.test_state import intent

V5 = Path(__file__).parent / "data" / "state" / "v5.db"


def alembic_config(conn: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(LOCATION))
    config.attributes["connection"] = conn
    return config


def raw_engine(url: str) -> sa.Engine:
    """Return a plain engine on the database, not the store's (a SQLite file's folder is made first)."""
    if url.startswith("sqlite"):
        Path(url.partition(":///")[2]).parent.mkdir(parents=True, exist_ok=True)
    return sa.create_engine(url)


def shape(url: str) -> dict[str, object]:
    """Return what a database's tables are made of, as both databases report it, for comparing two schemas."""
    engine = raw_engine(url)
    try:
        inspector = sa.inspect(engine)
        found: dict[str, object] = {}
        for table in sorted(inspector.get_table_names()):
            key = inspector.get_pk_constraint(table)["constrained_columns"]
            # a key column is never NULL whatever it says: m002's `id INTEGER PRIMARY KEY AUTOINCREMENT` (the rowid)
            # did not say NOT NULL, which SQLite then reports as nullable
            columns = [(c["name"], str(c["type"]).split("(")[0], c["nullable"] and c["name"] not in key)
                       for c in inspector.get_columns(table)]  # fmt: skip
            found[table] = {
                "columns": sorted(columns),
                "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
                "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                                  for i in inspector.get_indexes(table)),  # fmt: skip
                "unique": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
                "foreign keys": sorted(
                    (tuple(f["constrained_columns"]), f["referred_table"], f["options"].get("ondelete"))
                    for f in inspector.get_foreign_keys(table)
                ),
                "checks": sorted(" ".join(c["sqltext"].split()) for c in inspector.get_check_constraints(table)),
            }
        return found
    finally:
        engine.dispose()


def test_alembic_finds_exactly_the_revisions_the_store_knows() -> None:
    script = ScriptDirectory(str(LOCATION))
    assert script.get_heads() == [HEAD]
    chain = [revision.revision for revision in script.walk_revisions()]
    assert chain[::-1] == list(REVISIONS)


def test_migrating_an_empty_database_gives_the_schema_a_new_one_gets(
    database_url: str, postgres_or_sqlite_second: str
) -> None:
    engine = raw_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), HEAD)
    engine.dispose()
    with StateStore(url=postgres_or_sqlite_second):
        pass
    migrated, created = shape(database_url), shape(postgres_or_sqlite_second)
    assert set(migrated) == {*metadata.tables, "alembic_version"}
    assert migrated == created


@pytest.fixture
def postgres_or_sqlite_second(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A second empty database of the same kind as `database_url`."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'second.db'}"
    return request.getfixturevalue("postgres_server").database()


@pytest.fixture
def v5(tmp_path: Path) -> Path:
    """A copy of the state file the release before Alembic made (its script: tests/data/state/make_v5.py.txt)."""
    copy = tmp_path / "state.db"
    shutil.copy(V5, copy)
    return copy


def test_a_file_of_the_release_before_alembic_is_upgraded_in_place(v5: Path) -> None:
    inode = v5.stat().st_ino
    with StateStore(v5) as store:
        rows = {d.name: d for d in store.list(include_deleted=True)}
        assert {name: d.status for name, d in rows.items()} == {
            "running": DeploymentStatus.in_service, "gone": DeploymentStatus.deleted,
            "stuck": DeploymentStatus.creating,
        }  # fmt: skip
        assert rows["running"].price_per_hour_usd == Decimal("20.3600") and rows["running"].owner is None
        old_events = store.events()
        assert len(old_events) == 11
        assert limits.limits(store, "running").idle_timeout == timedelta(minutes=30)
        request = deletions.pending(store)["stuck"]
        assert (request.reason, request.attempts, request.last_error) == ("ttl 1h", 1, "throttled")
        ledger = Ledger(store)
        assert [g.name for g in ledger.grants()] == ["activate"]
        assert [o.remaining_usd for o in ledger.observations()] == [Decimal("900.5")]
        assert ledger.credit_runs_out_at("running") == NOW + timedelta(hours=40)
        intent(store, "new")  # and it goes on: the new column, the event ids after the old ones
        assert store.get("new").owner
        assert store.events()[-1]["id"] > old_events[-1]["id"]
    assert v5.stat().st_ino == inode  # the same file, not a recreated one
    with sqlite3.connect(v5) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (len(REVISIONS),)  # an older cloudrun refuses it
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]
    conn.close()


def test_an_older_file_and_one_missing_the_ledger_tables_are_completed(v5: Path) -> None:
    """user_version 3 without the limits and deletions tables; and (a file whose m004 ran in m003's slot) no ledger."""
    with sqlite3.connect(v5) as conn:
        for table in ("deletions", "deployment_limits", "credit_observations", "credit_runs_out", "credit_grants"):
            conn.execute(f"DROP TABLE {table}")
        conn.execute("PRAGMA user_version = 3")
    conn.close()
    with StateStore(v5) as store:
        assert Ledger(store).grants() == [] and deletions.pending(store) == {}
        assert limits.limits(store, "running").idle_timeout is None
        assert len(store.list()) == 2
    assert shape(f"sqlite:///{v5}") == shape_of_new(v5.parent / "new.db")


def shape_of_new(path: Path) -> dict[str, object]:
    with StateStore(path):
        pass
    return shape(f"sqlite:///{path}")


def test_a_newer_revision_is_refused_and_left_as_it_is(database_url: str) -> None:
    with StateStore(url=database_url) as store:
        intent(store)
        with store.transaction() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
    with pytest.raises(StateError, match="written by a newer cloudrun \\(schema 0099, this version knows"):
        StateStore(url=database_url)
    engine = raw_engine(database_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0099"
        assert conn.exec_driver_sql("SELECT count(*) FROM deployments").scalar() == 1
    engine.dispose()


def test_another_programs_deployments_table_is_refused(database_url: str) -> None:
    engine = raw_engine(database_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE deployments (id INTEGER)")
    engine.dispose()
    with pytest.raises(StateError, match="another program's tables; it was left untouched"):
        StateStore(url=database_url)


def test_opening_a_current_database_imports_no_alembic(tmp_path: Path) -> None:
    with StateStore(tmp_path / "state.db"):
        pass
    probe = (f"import sys; from cloudrun.state import StateStore; StateStore({str(tmp_path / 'state.db')!r}).close();"
             " print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'mako'}))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_the_cli_imports_no_sqlalchemy_until_a_store_is_opened() -> None:
    probe = "import sys, cloudrun.cli; print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy','alembic'}))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
