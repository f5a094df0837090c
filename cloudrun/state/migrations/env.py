"""Alembic's environment: migrate the connection the state store hands over, inside the transaction it holds."""

from __future__ import annotations

from alembic import context

from cloudrun.state.schema import metadata

context.configure(connection=context.config.attributes["connection"], target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
