"""Per-deployment auto-teardown limits, set at deploy time and enforced by `cloudrun watch`.

`deploy --idle-timeout 30m --ttl 8h --max-spend 20` stores one row in the `deployment_limits` table
(revision 0004, cloudrun/state/migrations/); the row outlives the deployment, like its events, and a reused name gets
the limits of its new deploy.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING

from cloudrun import inputs
from cloudrun.models import DeploymentStatus, Limits
from cloudrun.state import StateStore
from cloudrun.state.sql import upsert
from cloudrun.state.store import log_event

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


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
    from cloudrun.state.schema import deployment_limits

    with state.transaction() as conn:
        _lock_deployment(conn, name)
        at = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat(timespec="microseconds")
        values = dict(idle_timeout_s=_seconds(idle_timeout), ttl_s=_seconds(ttl),
                      max_spend_usd=None if max_spend is None else str(max_spend), updated_at=at)  # fmt: skip
        upsert(conn, deployment_limits, {"name": name, **values})
        log_event(conn, name, datetime.fromisoformat(at), "limits", limits.describe())
    return limits


def drop(state: StateStore, name: str, why: str) -> None:
    """Remove the limits stored for `name` unless a live deployment has that name; the drop is logged as an event.

    For a deploy that created nothing: its limits must not outlive it (a later deploy of the name sets its own).
    """
    from cloudrun.state.schema import deployment_limits

    with state.transaction() as conn:
        live = _lock_deployment(conn, name)
        if live is not None and not DeploymentStatus(live).gone:
            return
        if conn.execute(deployment_limits.delete().where(deployment_limits.c.name == name)).rowcount:
            log_event(conn, name, datetime.now(timezone.utc), "limits", f"dropped: {why}")


def limits(state: StateStore, name: str) -> Limits:
    """Return the limits stored for `name`; no row means no limits."""
    return all_limits(state).get(name, Limits())


def all_limits(state: StateStore) -> dict[str, Limits]:
    """Return every stored deployment's limits, by name."""
    import sqlalchemy as sa

    from cloudrun.state.schema import deployment_limits

    with state.reading() as conn:
        rows = conn.execute(sa.select(deployment_limits)).mappings().all()
    return {
        row["name"]: Limits(
            idle_timeout=_duration(row["idle_timeout_s"]),
            ttl=_duration(row["ttl_s"]),
            max_spend_usd=Decimal(row["max_spend_usd"]) if row["max_spend_usd"] is not None else None,
        )
        for row in rows
    }


def _lock_deployment(conn: Connection, name: str) -> str | None:
    """Return the status of the deployment `name` (None: no row), its row locked until the transaction ends."""
    import sqlalchemy as sa

    from cloudrun.state.schema import deployments

    query = sa.select(deployments.c.status).where(deployments.c.name == name).with_for_update()
    return conn.execute(query).scalar()


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


def _duration(seconds: int | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)
