"""Create the staged weights: one row per model copy `cloudrun stage` wrote (its manifest's URI); see staged.py."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table(
        "staged_weights",
        sa.Column("uri", sa.Text, primary_key=True, nullable=False),
        sa.Column("provider", sa.Text, nullable=False),
        sa.Column("region", sa.Text, nullable=False),
        sa.Column("model_id", sa.Text, nullable=False),
        sa.Column("revision", sa.Text, nullable=False),
        sa.Column("total_bytes", sa.BigInteger, nullable=False),
        sa.Column("files", sa.Integer, nullable=False),
        sa.Column("staged_at", sa.Text, nullable=False),
        sa.Column("removed_at", sa.Text),
    )
