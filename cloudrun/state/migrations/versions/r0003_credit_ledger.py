"""Create the credit ledger: grants, dated balance observations, per-deployment credit run-out. Was m003.

Each table only where it is missing: a file of an earlier release may have run m004 while this slot was empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "credit_grants" not in existing:
        op.create_table(
            "credit_grants",
            sa.Column("id", sa.Text, primary_key=True, nullable=False),
            sa.Column("provider", sa.Text, nullable=False),
            sa.Column("account", sa.Text, nullable=False),
            sa.Column("name", sa.Text, nullable=False, unique=True),
            sa.Column("amount_usd", sa.Text, nullable=False),
            sa.Column("currency", sa.Text, sa.CheckConstraint("currency = 'USD'"), nullable=False),
            sa.Column("starts_at", sa.Text, nullable=False),
            sa.Column("expires_at", sa.Text, nullable=False),
            sa.Column("services", sa.Text, nullable=False),
            sa.Column("gpu_eligible", sa.Integer, sa.CheckConstraint("gpu_eligible IN (0, 1)"), nullable=False),
            sa.Column("source", sa.Text, sa.CheckConstraint("source IN ('manual', 'preset', 'live')"), nullable=False),
            sa.Column("preset", sa.Text),
            sa.Column("notes", sa.Text, nullable=False),
            sa.Column("created_at", sa.Text, nullable=False),
        )
    if "credit_observations" not in existing:
        op.create_table(
            "credit_observations",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("grant_id", sa.Text, sa.ForeignKey("credit_grants.id", ondelete="CASCADE"), nullable=False),
            sa.Column("observed_at", sa.Text, nullable=False),
            sa.Column("remaining_usd", sa.Text),
            sa.Column("expires_at", sa.Text),
            sa.Column("source", sa.Text, nullable=False),
            sa.Column("stale_reason", sa.Text),
            sqlite_autoincrement=True,
        )
        op.create_index("credit_observations_by_grant", "credit_observations", ["grant_id", "id"])
    if "credit_runs_out" not in existing:
        op.create_table(
            "credit_runs_out",
            sa.Column("name", sa.Text, primary_key=True, nullable=False),
            sa.Column("credit_runs_out_at", sa.Text),
            sa.Column("recorded_at", sa.Text, nullable=False),
        )
