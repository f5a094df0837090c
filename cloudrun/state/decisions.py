"""The reaper's own writes to the state store: its decisions, logged once per change of verdict.

(Claiming a deletion and giving a failed one back live in claims.py, shared by every delete path.)
"""

from __future__ import annotations

from datetime import datetime, timezone

from cloudrun.state import StateStore
from cloudrun.teardown.idle import Decision

_EVENT = "INSERT INTO events (name, at, kind, detail) VALUES (?, ?, ?, ?)"


def _iso(now: datetime | None) -> str:
    return (now or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat(timespec="microseconds")


def log_decision(state: StateStore, decision: Decision, now: datetime | None = None) -> bool:
    """Log a decision as a `reaper` event unless the last one for that name had the same action and rule.

    So a watch loop logs each change of verdict once, not every check. Returns whether it logged.
    """
    head = f"{decision.action} [{decision.rule}]"
    with state.transaction() as conn:
        last = conn.execute(
            "SELECT detail FROM events WHERE name = ? AND kind = 'reaper' ORDER BY id DESC LIMIT 1", (decision.name,)
        ).fetchone()
        if last is not None and last["detail"].startswith(head + ":"):
            return False
        conn.execute(_EVENT, (decision.name, _iso(now), "reaper", f"{head}: {decision.reason}"))
    return True
