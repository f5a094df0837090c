"""Per-deployment auto-teardown limits, set at deploy time and enforced by `cloudrun watch`.

`deploy --idle-timeout 30m --ttl 8h --max-spend 20` stores one row in the `deployment_limits` table
(migration m004 in state.py); the row outlives the deployment, like its events, and a reused name gets
the limits of its new deploy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from cloudrun import inputs
from cloudrun.errors import InvalidInput
from cloudrun.state import StateStore


@dataclass(frozen=True)
class Limits:
    """When to tear one deployment down by itself: idle for, older than, or costing more than."""

    idle_timeout: timedelta | None = None
    ttl: timedelta | None = None
    max_spend_usd: Decimal | None = None

    def __bool__(self) -> bool:
        return any(value is not None for value in (self.idle_timeout, self.ttl, self.max_spend_usd))

    def describe(self) -> str:
        """Return the limits as the flags that set them, e.g. '--idle-timeout 0:30:00 --ttl 8:00:00'."""
        parts = [(flag, value) for flag, value in (("--idle-timeout", self.idle_timeout), ("--ttl", self.ttl),
                 ("--max-spend", self.max_spend_usd)) if value is not None]  # fmt: skip
        return " ".join(f"{flag} {value}" for flag, value in parts) or "none"


def from_flags(
    idle_timeout: str | timedelta | None = None,
    ttl: str | timedelta | None = None,
    max_spend: str | float | Decimal | None = None,
) -> Limits:
    """Return the limits of deploy's --idle-timeout/--ttl/--max-spend (text like 30m, 8h, 20), validated."""
    limits = Limits(inputs.duration(idle_timeout), inputs.duration(ttl), inputs.usd(max_spend, "--max-spend"))
    _check(limits)
    return limits


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
    _check(limits)
    at = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat(timespec="microseconds")
    with state.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO deployment_limits (name, idle_timeout_s, ttl_s, max_spend_usd, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (name, _seconds(idle_timeout), _seconds(ttl), None if max_spend is None else str(max_spend), at),
        )
        conn.execute(
            "INSERT INTO events (name, at, kind, detail) VALUES (?, ?, 'limits', ?)", (name, at, limits.describe())
        )
    return limits


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


def _check(limits: Limits) -> None:
    for flag, value in (("--idle-timeout", limits.idle_timeout), ("--ttl", limits.ttl)):
        if value is not None and value <= timedelta(0):
            raise InvalidInput(f"{flag} must be a positive duration, not {value}", hint="e.g. 30m, 8h or 2d")
    if limits.max_spend_usd is not None and (not limits.max_spend_usd.is_finite() or limits.max_spend_usd <= 0):
        raise InvalidInput(f"--max-spend must be a positive number of USD, not {limits.max_spend_usd}")


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


def _duration(seconds: int | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)
