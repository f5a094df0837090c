"""The credit ledger's tables (migration m003): grants, dated balance observations, and when a --free-only
deployment's credit stops paying. Rows in, LedgerGrant and Observation out; the rules live in credits/ledger.py.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from cloudrun.credits.runway import LedgerGrant, Observation
from cloudrun.errors import Conflict
from cloudrun.state.migrations import m003_credit_ledger
from cloudrun.state.store import StateStore
from cloudrun.timeutil import iso as _iso
from cloudrun.timeutil import parse as _parse


class CreditTables:
    """Reads and writes of the three credit tables of one state store."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        with store.transaction() as conn:  # a file migrated while m003's slot was empty lacks its tables
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'credit_grants'").fetchone():
                m003_credit_ledger(conn)

    def insert_grant(self, grant: LedgerGrant) -> None:
        """Save a grant; raise Conflict if its name is taken."""
        with self.store.transaction() as conn:
            if conn.execute("SELECT 1 FROM credit_grants WHERE name = ?", (grant.name,)).fetchone():
                raise Conflict(f"a credit named {grant.name!r} is already in the ledger", hint="pass another --name")
            conn.execute(
                "INSERT INTO credit_grants VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (grant.id, grant.provider, grant.account, grant.name, str(grant.amount_usd), grant.currency.upper(),
                 _iso(grant.starts_at), _iso(grant.expires_at), json.dumps(list(grant.services)),
                 int(grant.gpu_eligible), grant.source, grant.preset, grant.notes, _iso(grant.created_at)),
            )  # fmt: skip

    def grants(self) -> list[LedgerGrant]:
        """Return every grant, soonest-expiring first."""
        with self.store.transaction() as conn:
            rows = conn.execute("SELECT * FROM credit_grants ORDER BY expires_at, name").fetchall()
        return [_to_grant(dict(row)) for row in rows]

    def delete_grant(self, grant_id: str) -> None:
        """Delete a grant; its observations go with it (ON DELETE CASCADE)."""
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM credit_grants WHERE id = ?", (grant_id,))

    def insert_observation(self, o: Observation) -> None:
        amount = str(o.remaining_usd) if o.remaining_usd is not None else None
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO credit_observations (grant_id, observed_at, remaining_usd, expires_at, source,"
                " stale_reason) VALUES (?, ?, ?, ?, ?, ?)",
                (o.grant_id, _iso(o.observed_at), amount, _iso(o.expires_at), o.source, o.stale_reason),
            )

    def observations(self, grant_id: str | None = None) -> list[Observation]:
        """Return the observations, oldest first, of one grant or all."""
        where, args = ("WHERE grant_id = ?", (grant_id,)) if grant_id else ("", ())
        with self.store.transaction() as conn:
            rows = conn.execute(f"SELECT * FROM credit_observations {where} ORDER BY observed_at, id", args).fetchall()
        return [_to_observation(dict(row)) for row in rows]

    def set_runs_out(self, name: str, runs_out: datetime | None, recorded_at: datetime) -> None:
        """Store when credit stops paying for deployment `name` (None: it never paid, or always will)."""
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO credit_runs_out (name, credit_runs_out_at, recorded_at) VALUES (?, ?, ?)",
                (name, _iso(runs_out), _iso(recorded_at)),
            )

    def runs_out_at(self, name: str) -> datetime | None:
        with self.store.transaction() as conn:
            row = conn.execute("SELECT credit_runs_out_at FROM credit_runs_out WHERE name = ?", (name,)).fetchone()
        return _parse(row[0]) if row else None


def _to_grant(row: dict) -> LedgerGrant:
    row["services"] = tuple(json.loads(row["services"]))
    row["amount_usd"] = Decimal(row["amount_usd"])
    row["gpu_eligible"] = bool(row["gpu_eligible"])
    for key in ("starts_at", "expires_at", "created_at"):
        row[key] = _parse(row[key])
    return LedgerGrant(**row)


def _to_observation(row: dict) -> Observation:
    amount = row["remaining_usd"]
    return Observation(
        grant_id=row["grant_id"], observed_at=_parse(row["observed_at"]),
        remaining_usd=Decimal(amount) if amount is not None else None, source=row["source"],
        expires_at=_parse(row["expires_at"]), stale_reason=row["stale_reason"],
    )  # fmt: skip
