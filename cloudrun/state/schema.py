"""The state database's tables at the newest migration, as SQLAlchemy Core: one schema for SQLite and PostgreSQL.

Every column is a portable type: times are fixed-width ISO 8601 text (timeutil.iso, so text order is time order),
money is Decimal as text (never a float), booleans are 0/1 integers with a CHECK. The migrations under
`migrations/versions/` build exactly this; tests/test_state_schema.py compares the two on both databases.
Imported only by the state room, and only when a store is opened: SQLAlchemy stays off `cloudrun --help`.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index, Integer, MetaData, Table, Text

metadata = MetaData()

deployments = Table(
    "deployments",
    metadata,
    Column("name", Text, primary_key=True, nullable=False),
    Column("model_id", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("region", Text, nullable=False),
    Column("instance_type", Text, nullable=False),
    Column("gpu_count", Integer, nullable=False),
    Column("instance_count", Integer, nullable=False),
    Column("tensor_parallel", Integer, nullable=False),
    Column("context", Integer, nullable=False),
    Column("precision", Text, nullable=False),
    Column("spot", Integer, CheckConstraint("spot IN (0, 1)"), nullable=False),
    Column("price_per_hour_usd", Text, nullable=False),
    Column("price_source", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("ref_json", Text),
    Column("created_at", Text, nullable=False),
    Column("ready_at", Text),
    Column("deleted_at", Text),
    Column("failure_reason", Text),
    Column("adopted", Integer, CheckConstraint("adopted IN (0, 1)"), nullable=False),
    Column("updated_at", Text, nullable=False),
    Column("owner", Text),  # who deployed it (OS user or deploy --owner); None on rows older than migration 0006
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("at", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Index("events_by_name", "name", "id"),
    sqlite_autoincrement=True,
)

credit_grants = Table(
    "credit_grants",
    metadata,
    Column("id", Text, primary_key=True, nullable=False),
    Column("provider", Text, nullable=False),
    Column("account", Text, nullable=False),
    Column("name", Text, nullable=False, unique=True),
    Column("amount_usd", Text, nullable=False),
    Column("currency", Text, CheckConstraint("currency = 'USD'"), nullable=False),
    Column("starts_at", Text, nullable=False),
    Column("expires_at", Text, nullable=False),
    Column("services", Text, nullable=False),
    Column("gpu_eligible", Integer, CheckConstraint("gpu_eligible IN (0, 1)"), nullable=False),
    Column("source", Text, CheckConstraint("source IN ('manual', 'preset', 'live')"), nullable=False),
    Column("preset", Text),
    Column("notes", Text, nullable=False),
    Column("created_at", Text, nullable=False),
)

credit_observations = Table(
    "credit_observations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("grant_id", Text, ForeignKey("credit_grants.id", ondelete="CASCADE"), nullable=False),
    Column("observed_at", Text, nullable=False),
    Column("remaining_usd", Text),
    Column("expires_at", Text),
    Column("source", Text, nullable=False),
    Column("stale_reason", Text),
    Index("credit_observations_by_grant", "grant_id", "id"),
    sqlite_autoincrement=True,
)

credit_runs_out = Table(
    "credit_runs_out",
    metadata,
    Column("name", Text, primary_key=True, nullable=False),
    Column("credit_runs_out_at", Text),
    Column("recorded_at", Text, nullable=False),
)

deployment_limits = Table(
    "deployment_limits",
    metadata,
    Column("name", Text, primary_key=True, nullable=False),
    Column("idle_timeout_s", Integer),
    Column("ttl_s", Integer),
    Column("max_spend_usd", Text),
    Column("updated_at", Text, nullable=False),
)

deletions = Table(
    "deletions",
    metadata,
    Column("name", Text, primary_key=True, nullable=False),
    Column("reason", Text, nullable=False),
    Column("requested_at", Text, nullable=False),
    Column("back_to", Text, nullable=False),
    Column("owner", Text),
    Column("claimed_at", Text),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
)

leases = Table(
    "leases",
    metadata,
    Column("name", Text, primary_key=True, nullable=False),  # the role, e.g. "watch"
    Column("holder", Text, nullable=False),  # host:pid of the process holding it
    Column("acquired_at", Text, nullable=False),  # when this holder took it (renewals keep it)
    Column("expires_at", Text, nullable=False),  # free for another once past, unless renewed
)

staged_weights = Table(
    "staged_weights",
    metadata,
    Column("uri", Text, primary_key=True, nullable=False),  # the copy's manifest URI: one row per copy
    Column("provider", Text, nullable=False),
    Column("region", Text, nullable=False),
    Column("model_id", Text, nullable=False),
    Column("revision", Text, nullable=False),  # the Hub commit copied
    Column("total_bytes", BigInteger, nullable=False),  # a 67B's 135 GB: past a 32-bit integer
    Column("files", Integer, nullable=False),
    Column("staged_at", Text, nullable=False),
    Column("removed_at", Text),  # kept after `stage rm`, so a month's storage bill can be counted
)
