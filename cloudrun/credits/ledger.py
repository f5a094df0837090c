"""The credit ledger: the grants a user holds, dated balance observations, and what credit is left.

Charges are never stored: they are estimated each time from cloudrun's own deployment records (price at
launch x hours running, like `Deployment.cost_so_far`), allocated to grants by the planner's own rule
(`cloudrun.credits.burn`). So running `credits sync` twice cannot count a charge twice: an observation only moves
the point from which charges are estimated. Its tables are read and written by cloudrun/state/credits.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from cloudrun import inputs
from cloudrun.credits import runway
from cloudrun.credits.rules import check_terms, credit_amount
from cloudrun.credits.runway import Balance, LedgerGrant, Observation
from cloudrun.errors import InvalidInput, NotFound
from cloudrun.models import CreditGrant, PlanOption
from cloudrun.state import StateStore
from cloudrun.state import database as state_database
from cloudrun.state.credits import CreditTables
from cloudrun.timeutil import utc as _utc

__all__ = ["Balance", "Ledger", "LedgerGrant", "Observation", "credit_runs_out_at", "grants_for_planning"]


def validate(grant: LedgerGrant) -> LedgerGrant:
    """Return the grant if its name, amount, currency, dates and services make sense; raise InvalidInput otherwise.

    The rule is `rules.check_terms`, the same a `--credits FILE` grant meets.
    """
    where = f"credit {grant.name!r}"
    inputs.label(grant.name, "a credit's name (--name)")
    inputs.label(grant.account, f"{where}, its account (--account)")
    check_terms(where, provider=grant.provider, amount_usd=grant.amount_usd, currency=grant.currency,
                services=grant.services, starts_at=grant.starts_at, expires_at=grant.expires_at)  # fmt: skip
    return grant


def to_amount(value: object, what: str = "--amount") -> Decimal:
    """Return a USD credit amount (0 to the money cap) as a Decimal, or raise InvalidInput."""
    return credit_amount(value, what)


class Ledger:
    """The grants and observations in a state store, and the balances they add up to."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.tables = CreditTables(store)

    # --- grants -------------------------------------------------------------------------------------

    def add(self, grant: LedgerGrant) -> LedgerGrant:
        """Return the grant after saving it; raise Conflict if its name is taken."""
        self.tables.insert_grant(validate(grant))
        return grant

    def grants(self) -> list[LedgerGrant]:
        """Return every grant, soonest-expiring first."""
        return self.tables.grants()

    def find(self, name_or_id: str) -> LedgerGrant:
        """Return the grant with that name or id; raise NotFound."""
        for grant in self.grants():
            if name_or_id in (grant.name, grant.id):
                return grant
        raise NotFound(f"no credit named {name_or_id!r} in the ledger", hint="`cloudrun credits` lists them")

    def remove(self, name_or_id: str) -> LedgerGrant:
        """Return the removed grant; its observations go with it."""
        grant = self.find(name_or_id)
        self.tables.delete_grant(grant.id)
        return grant

    # --- observations -------------------------------------------------------------------------------

    def observe(self, observation: Observation) -> Observation:
        """Return the observation after saving it."""
        self.tables.insert_observation(observation)
        return observation

    def observations(self, grant_id: str | None = None) -> list[Observation]:
        """Return the observations, oldest first, of one grant or all."""
        return self.tables.observations(grant_id)

    # --- balances -----------------------------------------------------------------------------------

    def balances(self, now: datetime) -> list[Balance]:
        """Return every grant's balance, burn and runway at `now`."""
        return runway.balances(self.grants(), self.observations(), self.store.list(include_deleted=True), _utc(now))

    def grants_for_planning(self, now: datetime) -> list[CreditGrant]:
        """Return the grants for `scheduler.rank`: what is left after running deployments burn until expiry."""
        return [
            runway.credit(b.grant, b.available_usd, b.expires_at, name=b.grant.name)
            for b in self.balances(now)
            if b.available_usd > 0
        ]

    # --- free-only deployments ----------------------------------------------------------------------

    def record_credit_runs_out(self, name: str, now: datetime) -> datetime | None:
        """Return and store when credit stops paying for deployment `name` (None: it never paid, or always will).

        Computed with every running deployment burning the ledger together, so call it once `name` is recorded.
        """
        now = _utc(now)
        grants, observations = self.grants(), self.observations()
        deployments = self.store.list(include_deleted=True)
        future = runway.future(grants, runway.remaining_now(grants, observations, deployments, now), deployments, now)
        runs_out = future.uncovered_from.get(name)
        self.tables.set_runs_out(name, runs_out, now)
        return runs_out

    def store_credit_runs_out(self, name: str, runs_out: datetime | None, now: datetime) -> None:
        """Store when credit stops paying for deployment `name` (as its deploy computed it from the plan's grants)."""
        self.tables.set_runs_out(name, runs_out, _utc(now))

    def credit_runs_out_at(self, name: str) -> datetime | None:
        """Return the stored moment credit stops paying for deployment `name`, or None when none is stored."""
        return self.tables.runs_out_at(name)


def new_id() -> str:
    return uuid.uuid4().hex[:8]


def grants_for_planning(now: datetime, store: StateStore | None = None) -> list[CreditGrant]:
    """Return the ledger's grants for the planner; none when cloudrun has no state file yet (it is not created)."""
    if store is not None:
        return Ledger(store).grants_for_planning(now)
    if not state_database.exists():
        return []
    with StateStore() as own:
        return Ledger(own).grants_for_planning(now)


def credit_runs_out_at(name: str, store: StateStore | None = None) -> datetime | None:
    """Return when credit stops paying for deployment `name`, as recorded by `deploy --free-only`, or None."""
    if store is not None:
        return Ledger(store).credit_runs_out_at(name)
    with StateStore() as own:
        return Ledger(own).credit_runs_out_at(name)


def free_placements(options: Sequence[PlanOption]) -> list[PlanOption]:
    """Return the placements credit pays for in full over the asked hours; raise InvalidInput when none is."""
    free = [o for o in options if o.out_of_pocket_usd.quantize(Decimal("0.000001")) <= 0]
    if not free:
        cheapest = min((o.out_of_pocket_usd for o in options), default=Decimal(0))
        raise InvalidInput(
            f"--free-only: every placement costs you money for these hours (the cheapest ${cheapest:,.2f})",
            hint="ask for fewer --hours, add credit with `cloudrun credits add`, or drop --free-only",
        )
    return free
