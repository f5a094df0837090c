"""The reaper's own writes to the state store: its decisions, logged once per change of verdict.

(Claiming a deletion and giving a failed one back live in deletions.py, shared by every delete path.)
"""

from __future__ import annotations

from datetime import datetime, timezone

from cloudrun.state import StateStore
from cloudrun.teardown.idle import Decision


def log_decision(state: StateStore, decision: Decision, now: datetime | None = None) -> bool:
    """Log a decision as a `reaper` event unless the last one for that name had the same action and rule.

    So a watch loop logs each change of verdict once, not every check. Returns whether it logged.
    """
    import sqlalchemy as sa

    from cloudrun.state.schema import deployments, events
    from cloudrun.state.store import log_event

    head = f"{decision.action} [{decision.rule}]"
    with state.transaction() as conn:
        # the deployment's row, locked: two watchers on one database log a change of verdict once
        conn.execute(sa.select(deployments.c.name).where(deployments.c.name == decision.name).with_for_update())
        last = conn.execute(
            sa.select(events.c.detail)
            .where(events.c.name == decision.name, events.c.kind == "reaper")
            .order_by(events.c.id.desc())
            .limit(1)
        ).scalar()
        if last is not None and last.startswith(head + ":"):
            return False
        log_event(conn, decision.name, now or datetime.now(timezone.utc), "reaper", f"{head}: {decision.reason}")
    return True
