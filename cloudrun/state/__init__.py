"""The state room: cloudrun's one SQLite file and every statement that reads or writes it.

store (deployments and their events, the intent log), file (opening, locking, the schema version), migrations,
deletions (who is deleting what, since when), limits (auto-teardown limits), decisions (the reaper's verdicts),
credits (the ledger's grants, observations and run-out times). No other module writes SQL.
"""

from cloudrun.state.store import StateError as StateError
from cloudrun.state.store import StateStore as StateStore
