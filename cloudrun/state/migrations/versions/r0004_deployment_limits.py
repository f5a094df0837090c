"""Create the per-deployment auto-teardown limits (deploy --idle-timeout/--ttl/--max-spend). Was m004."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("deployment_limits"):  # m004 may have run in m003's slot before
        return
    op.create_table(
        "deployment_limits",
        sa.Column("name", sa.Text, primary_key=True, nullable=False),
        sa.Column("idle_timeout_s", sa.Integer),
        sa.Column("ttl_s", sa.Integer),
        sa.Column("max_spend_usd", sa.Text),
        sa.Column("updated_at", sa.Text, nullable=False),
    )
