"""The state store's schema, as an append-only list of small named migrations.

`PRAGMA user_version` counts the ones applied. Never edit one that has shipped: add the next m00N instead.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


def m001_deployments(conn: sqlite3.Connection) -> None:
    """Create the deployments table: one row per name (the name of a removed deployment may be reused)."""
    conn.execute(
        """CREATE TABLE deployments (
            name TEXT PRIMARY KEY NOT NULL, model_id TEXT NOT NULL, provider TEXT NOT NULL,
            service TEXT NOT NULL, region TEXT NOT NULL, instance_type TEXT NOT NULL,
            gpu_count INTEGER NOT NULL, instance_count INTEGER NOT NULL, tensor_parallel INTEGER NOT NULL,
            context INTEGER NOT NULL, precision TEXT NOT NULL, spot INTEGER NOT NULL CHECK (spot IN (0, 1)),
            price_per_hour_usd TEXT NOT NULL, price_source TEXT NOT NULL, status TEXT NOT NULL, ref_json TEXT,
            created_at TEXT NOT NULL, ready_at TEXT, deleted_at TEXT, failure_reason TEXT,
            adopted INTEGER NOT NULL CHECK (adopted IN (0, 1)), updated_at TEXT NOT NULL)"""
    )


def m002_events(conn: sqlite3.Connection) -> None:
    """Create the append-only event log; no foreign key, so history outlives a forgotten or reused name."""
    conn.execute(
        """CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, at TEXT NOT NULL,
            kind TEXT NOT NULL, detail TEXT NOT NULL)"""
    )
    conn.execute("CREATE INDEX events_by_name ON events (name, id)")


def m003_credit_ledger(conn: sqlite3.Connection) -> None:
    """Create the credit ledger: grants, dated balance observations, per-deployment credit run-out; see ledger.py."""
    # IF NOT EXISTS: a file that ran m004 while this slot was still empty may run it later, out of order.
    conn.execute(
        """CREATE TABLE IF NOT EXISTS credit_grants (id TEXT PRIMARY KEY NOT NULL, provider TEXT NOT NULL,
            account TEXT NOT NULL, name TEXT NOT NULL UNIQUE, amount_usd TEXT NOT NULL,
            currency TEXT NOT NULL CHECK (currency = 'USD'), starts_at TEXT NOT NULL, expires_at TEXT NOT NULL,
            services TEXT NOT NULL, gpu_eligible INTEGER NOT NULL CHECK (gpu_eligible IN (0, 1)),
            source TEXT NOT NULL CHECK (source IN ('manual', 'preset', 'live')), preset TEXT,
            notes TEXT NOT NULL, created_at TEXT NOT NULL)"""
    )
    conn.execute(
        """CREATE TABLE IF NOT EXISTS credit_observations (id INTEGER PRIMARY KEY AUTOINCREMENT,
            grant_id TEXT NOT NULL REFERENCES credit_grants (id) ON DELETE CASCADE, observed_at TEXT NOT NULL,
            remaining_usd TEXT, expires_at TEXT, source TEXT NOT NULL, stale_reason TEXT)"""
    )
    conn.execute("CREATE INDEX IF NOT EXISTS credit_observations_by_grant ON credit_observations (grant_id, id)")
    conn.execute(
        """CREATE TABLE IF NOT EXISTS credit_runs_out (name TEXT PRIMARY KEY NOT NULL, credit_runs_out_at TEXT,
            recorded_at TEXT NOT NULL)"""
    )


def m004_deployment_limits(conn: sqlite3.Connection) -> None:
    """Create the per-deployment auto-teardown limits (deploy --idle-timeout/--ttl/--max-spend); see limits.py."""
    # IF NOT EXISTS: its own table, so running it again (after m003 lands before it) is harmless.
    conn.execute(
        """CREATE TABLE IF NOT EXISTS deployment_limits (name TEXT PRIMARY KEY NOT NULL,
            idle_timeout_s INTEGER, ttl_s INTEGER, max_spend_usd TEXT, updated_at TEXT NOT NULL)"""
    )


def m005_deletions(conn: sqlite3.Connection) -> None:
    """Create the deletion requests and their claims: one row per deployment asked to go; see claims.py."""
    conn.execute(
        """CREATE TABLE IF NOT EXISTS deletions (name TEXT PRIMARY KEY NOT NULL, reason TEXT NOT NULL,
            requested_at TEXT NOT NULL, back_to TEXT NOT NULL, owner TEXT, claimed_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT)"""
    )


def m006_staged_weights(conn: sqlite3.Connection) -> None:
    """Create the staged weights: one row per model copy `cloudrun stage` wrote (its manifest's URI); see staged.py."""
    conn.execute(
        """CREATE TABLE IF NOT EXISTS staged_weights (uri TEXT PRIMARY KEY NOT NULL, provider TEXT NOT NULL,
            region TEXT NOT NULL, model_id TEXT NOT NULL, revision TEXT NOT NULL, total_bytes INTEGER NOT NULL,
            files INTEGER NOT NULL, staged_at TEXT NOT NULL, removed_at TEXT)"""
    )


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    m001_deployments,
    m002_events,
    m003_credit_ledger,
    m004_deployment_limits,
    m005_deletions,
    m006_staged_weights,
)
