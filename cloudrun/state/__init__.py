"""The state room: cloudrun's one database (a SQLite file, or a team's PostgreSQL) and every statement on it.

store (deployments and their events, the intent log), database (which database, its engine, how writes lock),
schema and migrations/ (the tables, Alembic's revisions), upgrade (the version check), adopted (rows for endpoints
found in the cloud), deletions (who is deleting what, since when), limits (auto-teardown limits), decisions (the
reaper's verdicts), credits (the ledger's grants, observations and run-out times), leases (the `watch` leader),
sql (what the two databases spell differently). No other module writes SQL.
"""


from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cloudrun.state.store import StateError as StateError
    from cloudrun.state.store import StateStore as StateStore


def __getattr__(name: str) -> Any:
    """StateStore and StateError, imported when first asked for: `database.exists()` (whether there is state to
    read) stays light for `plan`, which must not load the store, pydantic's records or SQLAlchemy to learn it."""
    if name in ("StateStore", "StateError"):
        from cloudrun.state import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
