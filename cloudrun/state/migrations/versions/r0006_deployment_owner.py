"""Record who made each deployment (the OS user, or deploy --owner): a team shares one database.

Rows made before this revision keep owner NULL (shown as unknown). Also creates the credit tables where an earlier
release left them missing (its m004 ran in m003's slot; that release created them on the ledger's first use).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cloudrun.state.migrations.versions import r0003_credit_ledger

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.add_column("deployments", sa.Column("owner", sa.Text))
    r0003_credit_ledger.upgrade()  # creates only the tables that are missing
