"""Burn and runway: what credit each grant has left now, how fast running deployments burn it, until when.

Pure: grants, observations and deployment records in, balances out. Remaining credit is the last observed
balance (or the original amount) minus the charges estimated since from cloudrun's deployment records
(price at launch x hours running), allocated by the planner's own rule (`cloudrun.credits.burn`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from cloudrun.credits import burn
from cloudrun.models import CreditGrant, Deployment

Source = Literal["manual", "preset", "live"]


class LedgerGrant(BaseModel):
    """One grant as the ledger keeps it: what it was, when it pays, and where the facts came from."""

    model_config = ConfigDict(frozen=True)

    id: str
    provider: str
    account: str = "default"
    name: str
    amount_usd: Decimal  # the original amount
    currency: str = "USD"
    starts_at: datetime
    expires_at: datetime
    services: tuple[str, ...]
    gpu_eligible: bool
    source: Source = "manual"
    preset: str | None = None
    notes: str = ""
    created_at: datetime


@dataclass(frozen=True)
class Observation:
    """A balance read at one moment (None with a stale reason when the read failed)."""

    grant_id: str
    observed_at: datetime
    remaining_usd: Decimal | None
    source: str
    expires_at: datetime | None = None
    stale_reason: str | None = None


@dataclass(frozen=True)
class Balance:
    """A grant's standing now: remaining credit, how fast running deployments burn it, and its runway."""

    grant: LedgerGrant
    expires_at: datetime  # as last observed, else as entered
    remaining_usd: Decimal
    basis: str  # "observed (aws-freetier) at ..." or "estimate from cloudrun's records"
    charges_usd: Decimal  # estimated charges since the basis
    stale_reason: str | None
    burn_usd_per_hour: Decimal
    runway_hours: Decimal | None  # at this burn; None when nothing burns it
    runs_out_at: datetime  # the sooner of expiry and running dry at this burn
    ends_by: Literal["expiry", "burn", "expired", "spent"]
    available_usd: Decimal  # remaining minus what running deployments burn before it expires
    burn_by_owner: dict[str, Decimal] = field(default_factory=dict)  # who runs what it burns (a team's database)


@dataclass(frozen=True)
class _Now:
    """A grant's standing at `now` from the past: remaining, charges since its basis, the basis, expiry."""

    remaining_usd: Decimal
    charges_usd: Decimal
    basis: str
    expires_at: datetime


def balances(
    grants: Sequence[LedgerGrant], observations: Sequence[Observation], deployments: Sequence[Deployment], now: datetime
) -> list[Balance]:
    """Return each grant's Balance at `now` from grants, observations and deployment records."""
    standing = remaining_now(grants, observations, deployments, now)
    outcome = future(grants, standing, deployments, now)
    latest = {o.grant_id: o for o in observations if o.observed_at <= now}  # oldest first: the last one wins
    running = {d.name: d for d in deployments if d.status.running}
    return [_balance(g, standing[g.id], latest.get(g.id), outcome, now, _by_owner(g, outcome, running)) for g in grants]


def _by_owner(grant: LedgerGrant, outcome: burn.Outcome, running: dict[str, Deployment]) -> dict[str, Decimal]:
    """Return the grant's burn now split by who owns the deployments it pays for ("unknown": no owner recorded)."""
    split: dict[str, Decimal] = {}
    for name, payer in outcome.payer_at_start.items():
        if payer == grant.id and name in running:
            owner = running[name].owner or "unknown"
            split[owner] = split.get(owner, Decimal(0)) + running[name].price_per_hour_usd
    return dict(sorted(split.items()))


def _balance(
    grant: LedgerGrant,
    at_now: _Now,
    latest: Observation | None,
    outcome: burn.Outcome,
    now: datetime,
    by_owner: dict[str, Decimal],
) -> Balance:
    amount, expires = at_now.remaining_usd, at_now.expires_at
    burn_rate = outcome.rate_at_start.get(grant.id, Decimal(0))
    runway = amount / burn_rate if burn_rate > 0 else None
    runs_out, ends_by = expires, "expiry"
    if expires <= now:
        ends_by = "expired"
    elif amount <= 0:
        runs_out, ends_by = now, "spent"
    elif runway is not None and now + _hours(runway) < expires:
        runs_out, ends_by = now + _hours(runway), "burn"
    stale = latest.stale_reason if latest is not None else None
    available = outcome.balance.get(grant.id, Decimal(0)) if expires > now else Decimal(0)
    return Balance(grant, expires, amount, at_now.basis, at_now.charges_usd, stale, burn_rate, runway, runs_out,
                   ends_by, available, by_owner)  # fmt: skip


def remaining_now(
    grants: Sequence[LedgerGrant], observations: Sequence[Observation], deployments: Sequence[Deployment], now: datetime
) -> dict[str, _Now]:
    """Return grant id -> its standing at `now`: the last observed balance minus the charges estimated since."""
    seen = [o for o in observations if o.remaining_usd is not None and o.observed_at <= now]
    resets: dict[str, list[tuple[datetime, Decimal]]] = {}
    for o in seen:
        resets.setdefault(o.grant_id, []).append((o.observed_at, o.remaining_usd))
    expiry = {g.id: g.expires_at for g in grants}
    expiry.update({o.grant_id: o.expires_at for o in observations if o.expires_at and o.observed_at <= now})
    as_credit = [credit(g, g.amount_usd, expiry[g.id]) for g in grants]
    start = min((g.starts_at for g in grants), default=now)
    usages = [u for d in deployments if (u := burn.usage_of(d, now)) is not None]
    past = burn.simulate(as_credit, usages, start, now, starts={g.id: g.starts_at for g in grants}, resets=resets)
    last = {o.grant_id: o for o in seen}
    result = {}
    for g in grants:
        o = last.get(g.id)
        basis = f"observed ({o.source}) {o.observed_at:%Y-%m-%d %H:%M}Z" if o else "estimate from cloudrun's records"
        result[g.id] = _Now(past.balance[g.id], past.spent[g.id], basis, expiry[g.id])
    return result


def future(
    grants: Sequence[LedgerGrant], standing: dict[str, _Now], deployments: Sequence[Deployment], now: datetime
) -> burn.Outcome:
    """Return the outcome of the running deployments burning what is left, from now until the last expiry."""
    as_credit = [credit(g, standing[g.id].remaining_usd, standing[g.id].expires_at) for g in grants]
    running = [u for d in deployments if d.status.running and (u := burn.usage_of(d, now)) is not None]
    end = max((c.expires_at for c in as_credit), default=now)
    return burn.simulate(as_credit, running, now, max(end, now), starts={g.id: g.starts_at for g in grants})


def credit(grant: LedgerGrant, amount: Decimal, expires_at: datetime, *, name: str | None = None) -> CreditGrant:
    """Return the planner's CreditGrant for a ledger grant (named by its ledger id unless `name` is given)."""
    return CreditGrant(provider=grant.provider, amount_usd=amount, expires_at=expires_at,
                       gpu_eligible=grant.gpu_eligible, services=grant.services, name=name or grant.id)  # fmt: skip


def _hours(hours: Decimal) -> timedelta:
    return timedelta(seconds=float(hours * 3600))
