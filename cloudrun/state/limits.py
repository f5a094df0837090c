"""Per-deployment auto-teardown limits, set at deploy time and enforced by `cloudrun watch`.

`deploy --idle-timeout 30m --ttl 8h --max-spend 20` stores one row in the `deployment_limits` table
(migration m004 in state.py); the row outlives the deployment, like its events, and a reused name gets
the limits of its new deploy.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from cloudrun import inputs
from cloudrun.models import DeploymentStatus, Limits
from cloudrun.state import StateStore


def set_limits(
    state: StateStore,
    name: str,
    *,
    idle_timeout: timedelta | None = None,
    ttl: timedelta | None = None,
    max_spend: Decimal | None = None,
    now: datetime | None = None,
) -> Limits:
    """Return the limits stored for `name` (replacing any before); the change is logged as an event."""
    limits = Limits(idle_timeout=idle_timeout, ttl=ttl, max_spend_usd=max_spend)
    inputs.check_limits(limits)
    with state.transaction() as conn:
        at = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat(timespec="microseconds")
        conn.execute(
            "INSERT OR REPLACE INTO deployment_limits (name, idle_timeout_s, ttl_s, max_spend_usd, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (name, _seconds(idle_timeout), _seconds(ttl), None if max_spend is None else str(max_spend), at),
        )
        conn.execute(
            "INSERT INTO events (name, at, kind, detail) VALUES (?, ?, 'limits', ?)", (name, at, limits.describe())
        )
    return limits


def drop(state: StateStore, name: str, why: str) -> None:
    """Remove the limits stored for `name` unless a live deployment has that name; the drop is logged as an event.

    For a deploy that created nothing: its limits must not outlive it (a later deploy of the name sets its own).
    """
    with state.transaction() as conn:
        live = conn.execute("SELECT status FROM deployments WHERE name = ?", (name,)).fetchone()
        if live is not None and not DeploymentStatus(live["status"]).gone:
            return
        if conn.execute("DELETE FROM deployment_limits WHERE name = ?", (name,)).rowcount:
            at = datetime.now(timezone.utc).isoformat(timespec="microseconds")
            conn.execute("INSERT INTO events (name, at, kind, detail) VALUES (?, ?, 'limits', ?)",
                         (name, at, f"dropped: {why}"))  # fmt: skip


def limits(state: StateStore, name: str) -> Limits:
    """Return the limits stored for `name`; no row means no limits."""
    return all_limits(state).get(name, Limits())


def all_limits(state: StateStore) -> dict[str, Limits]:
    """Return every stored deployment's limits, by name."""
    with state.transaction() as conn:
        rows = conn.execute("SELECT name, idle_timeout_s, ttl_s, max_spend_usd FROM deployment_limits").fetchall()
    return {
        row["name"]: Limits(
            idle_timeout=_duration(row["idle_timeout_s"]),
            ttl=_duration(row["ttl_s"]),
            max_spend_usd=Decimal(row["max_spend_usd"]) if row["max_spend_usd"] is not None else None,
        )
        for row in rows
    }


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


def _duration(seconds: int | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)
