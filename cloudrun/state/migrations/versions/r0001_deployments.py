"""Create the deployments table: one row per name (the name of a removed deployment may be reused). Was m001."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("name", sa.Text, primary_key=True, nullable=False),
        sa.Column("model_id", sa.Text, nullable=False),
        sa.Column("provider", sa.Text, nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("region", sa.Text, nullable=False),
        sa.Column("instance_type", sa.Text, nullable=False),
        sa.Column("gpu_count", sa.Integer, nullable=False),
        sa.Column("instance_count", sa.Integer, nullable=False),
        sa.Column("tensor_parallel", sa.Integer, nullable=False),
        sa.Column("context", sa.Integer, nullable=False),
        sa.Column("precision", sa.Text, nullable=False),
        sa.Column("spot", sa.Integer, sa.CheckConstraint("spot IN (0, 1)"), nullable=False),
        sa.Column("price_per_hour_usd", sa.Text, nullable=False),
        sa.Column("price_source", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("ref_json", sa.Text),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("ready_at", sa.Text),
        sa.Column("deleted_at", sa.Text),
        sa.Column("failure_reason", sa.Text),
        sa.Column("adopted", sa.Integer, sa.CheckConstraint("adopted IN (0, 1)"), nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
    )
