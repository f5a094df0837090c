"""Create the deletion requests and their claims: one row per deployment asked to go. Was m005."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("deletions"):
        return
    op.create_table(
        "deletions",
        sa.Column("name", sa.Text, primary_key=True, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("requested_at", sa.Text, nullable=False),
        sa.Column("back_to", sa.Text, nullable=False),
        sa.Column("owner", sa.Text),
        sa.Column("claimed_at", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
    )
