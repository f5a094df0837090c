"""Statements the state modules share that SQLite and PostgreSQL spell differently (SQLAlchemy imported lazily)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection


def upsert(conn: Connection, table: Table, row: dict[str, Any]) -> None:
    """Insert the row, or replace the values of the row with the same primary key, in one atomic statement."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    keys = [column.name for column in table.primary_key.columns]
    statement = insert(table).values(row)
    changes = {name: statement.excluded[name] for name in row if name not in keys}
    conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=changes))
