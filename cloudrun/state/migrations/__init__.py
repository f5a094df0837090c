"""The state database's migrations, run by Alembic: one small named revision per change, never edited once shipped.

REVISIONS lists them in order (tests/test_state_schema.py checks it against Alembic's own chain), so the store can
tell whether a database is current without importing Alembic. Revisions 0001-0005 are the hand-written migrations
m001-m005 of earlier releases: a SQLite file of theirs (PRAGMA user_version N, no alembic_version table) is stamped
at revision N and upgraded in place. SQLite's user_version keeps counting the revisions applied, so an older
cloudrun refuses a newer file instead of misreading it.
"""

from __future__ import annotations

from pathlib import Path

REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008")
HEAD = REVISIONS[-1]
LOCATION = Path(__file__).parent  # Alembic's script_location: env.py and versions/
