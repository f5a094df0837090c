"""The credit ledger's tables (revision 0003): grants, dated balance observations, and when a --free-only
deployment's credit stops paying. Rows in, LedgerGrant and Observation out; the rules live in credits/ledger.py.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from cloudrun.credits.runway import LedgerGrant, Observation
from cloudrun.errors import Conflict
from cloudrun.state.sql import upsert
from cloudrun.state.store import StateStore
from cloudrun.timeutil import iso as _iso
from cloudrun.timeutil import parse as _parse


class CreditTables:
    """Reads and writes of the three credit tables of one state store."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def insert_grant(self, grant: LedgerGrant) -> None:
        """Save a grant; raise Conflict if its name is taken (by this process or, at the same moment, another)."""
        import sqlalchemy as sa
        from sqlalchemy import exc

        from cloudrun.state.schema import credit_grants

        taken = Conflict(f"a credit named {grant.name!r} is already in the ledger", hint="pass another --name")
        try:
            with self.store.transaction() as conn:
                if conn.execute(sa.select(credit_grants.c.id).where(credit_grants.c.name == grant.name)).first():
                    raise taken
                conn.execute(credit_grants.insert().values(
                    id=grant.id, provider=grant.provider, account=grant.account, name=grant.name,
                    amount_usd=str(grant.amount_usd), currency=grant.currency.upper(), starts_at=_iso(grant.starts_at),
                    expires_at=_iso(grant.expires_at), services=json.dumps(list(grant.services)),
                    gpu_eligible=int(grant.gpu_eligible), source=grant.source, preset=grant.preset, notes=grant.notes,
                    created_at=_iso(grant.created_at),
                ))  # fmt: skip
        except exc.IntegrityError as error:  # the unique name, claimed by a racing process between check and insert
            raise taken from error

    def grants(self) -> list[LedgerGrant]:
        """Return every grant, soonest-expiring first."""
        import sqlalchemy as sa

        from cloudrun.state.schema import credit_grants

        with self.store.reading() as conn:
            query = sa.select(credit_grants).order_by(credit_grants.c.expires_at, credit_grants.c.name)
            rows = conn.execute(query).mappings().all()
        return [_to_grant(dict(row)) for row in rows]

    def delete_grant(self, grant_id: str) -> None:
        """Delete a grant; its observations go with it (ON DELETE CASCADE)."""
        from cloudrun.state.schema import credit_grants

        with self.store.transaction() as conn:
            conn.execute(credit_grants.delete().where(credit_grants.c.id == grant_id))

    def insert_observation(self, o: Observation) -> None:
        from cloudrun.state.schema import credit_observations

        amount = str(o.remaining_usd) if o.remaining_usd is not None else None
        with self.store.transaction() as conn:
            conn.execute(credit_observations.insert().values(
                grant_id=o.grant_id, observed_at=_iso(o.observed_at), remaining_usd=amount,
                expires_at=_iso(o.expires_at), source=o.source, stale_reason=o.stale_reason,
            ))  # fmt: skip

    def observations(self, grant_id: str | None = None) -> list[Observation]:
        """Return the observations, oldest first, of one grant or all."""
        import sqlalchemy as sa

        from cloudrun.state.schema import credit_observations as table

        query = sa.select(table).order_by(table.c.observed_at, table.c.id)
        if grant_id:
            query = query.where(table.c.grant_id == grant_id)
        with self.store.reading() as conn:
            rows = conn.execute(query).mappings().all()
        return [_to_observation(dict(row)) for row in rows]

    def set_runs_out(self, name: str, runs_out: datetime | None, recorded_at: datetime) -> None:
        """Store when credit stops paying for deployment `name` (None: it never paid, or always will)."""
        from cloudrun.state.schema import credit_runs_out

        with self.store.transaction() as conn:
            upsert(conn, credit_runs_out,
                   {"name": name, "credit_runs_out_at": _iso(runs_out), "recorded_at": _iso(recorded_at)})  # fmt: skip

    def runs_out_at(self, name: str) -> datetime | None:
        import sqlalchemy as sa

        from cloudrun.state.schema import credit_runs_out as table

        with self.store.reading() as conn:
            found = conn.execute(sa.select(table.c.credit_runs_out_at).where(table.c.name == name)).first()
        return _parse(found[0]) if found else None


def _to_grant(row: dict[str, Any]) -> LedgerGrant:
    row["services"] = tuple(json.loads(row["services"]))
    row["amount_usd"] = Decimal(row["amount_usd"])
    row["gpu_eligible"] = bool(row["gpu_eligible"])
    for key in ("starts_at", "expires_at", "created_at"):
        row[key] = _parse(row[key])
    return LedgerGrant(**row)


def _to_observation(row: dict[str, Any]) -> Observation:
    amount = row["remaining_usd"]
    return Observation(
        grant_id=row["grant_id"], observed_at=_parse(row["observed_at"]),
        remaining_usd=Decimal(amount) if amount is not None else None, source=row["source"],
        expires_at=_parse(row["expires_at"]), stale_reason=row["stale_reason"],
    )  # fmt: skip
