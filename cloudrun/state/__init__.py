"""The state room: cloudrun's one database (a SQLite file, or a team's PostgreSQL) and every statement on it.

store (deployments and their events, the intent log), database (which database, its engine, how writes lock),
schema and migrations/ (the tables, Alembic's revisions), upgrade (the version check), adopted (rows for endpoints
found in the cloud), deletions (who is deleting what, since when), limits (auto-teardown limits), decisions (the
reaper's verdicts), credits (the ledger's grants, observations and run-out times), leases (the `watch` leader),
sql (what the two databases spell differently). No other module writes SQL.
"""

from cloudrun.state.store import StateError as StateError
from cloudrun.state.store import StateStore as StateStore
