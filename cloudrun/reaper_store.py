"""The reaper's writes to the state store: claiming a deletion, giving a failed one back, logging decisions.

Two `cloudrun watch` processes may decide to delete the same endpoint. Each claims it first, in one
BEGIN IMMEDIATE transaction that moves the row to `deleting` only if it is still billable (creating,
in service or failed); SQLite lets one writer in at a time, so exactly one wins and the other skips.
These write the `deployments` and `events` tables of state.py directly, in that module's formats.
"""

from __future__ import annotations

from datetime import datetime, timezone

from cloudrun.models import Deployment, DeploymentStatus
from cloudrun.reaper import BILLABLE, Decision
from cloudrun.state import StateStore

_EVENT = "INSERT INTO events (name, at, kind, detail) VALUES (?, ?, ?, ?)"


def _iso(now: datetime | None) -> str:
    return (now or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat(timespec="microseconds")


def claim(state: StateStore, name: str, reason: str, now: datetime | None = None) -> Deployment | None:
    """Return the row, now `deleting`, if this process won it; None if it is gone or another process has it."""
    at = _iso(now)
    with state.transaction() as conn:
        row = conn.execute("SELECT status FROM deployments WHERE name = ?", (name,)).fetchone()
        if row is None or row["status"] not in {status.value for status in BILLABLE}:
            return None
        conn.execute(
            "UPDATE deployments SET status = ?, updated_at = ? WHERE name = ?",
            (DeploymentStatus.deleting.value, at, name),
        )
        conn.execute(_EVENT, (name, at, "deleting", f"{row['status']} -> deleting: {reason}"))
    return state.get(name)


def release(state: StateStore, name: str, back_to: DeploymentStatus, error: str, now: datetime | None = None) -> None:
    """Put a claimed row whose delete failed back to `back_to`, so the next check tries again (delete is idempotent)."""
    at = _iso(now)
    with state.transaction() as conn:
        changed = conn.execute(
            "UPDATE deployments SET status = ?, updated_at = ? WHERE name = ? AND status = ?",
            (back_to.value, at, name, DeploymentStatus.deleting.value),
        ).rowcount
        if changed:
            detail = f"deleting -> {back_to.value}: delete failed ({error}); the next check tries again"
            conn.execute(_EVENT, (name, at, "delete_failed", detail))


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
