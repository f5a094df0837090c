"""Which credit pays for which deployment over time: a pure, piecewise-constant simulation.

The rule is `cloudrun.credits`' own: at every moment each billing deployment is paid by the first grant of
`usable_grants(...)` (right provider and service, GPU-eligible, not expired; soonest-expiring first) that
has started and still has balance. Between two events (a deployment starting or stopping, a grant
starting, expiring or running dry, a balance observed) every rate is constant, so the simulation jumps
from event to event. For one deployment it spends exactly what `credits.spend` computes.
No I/O here: the ledger feeds it grants and deployments, and reads the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from cloudrun.credits import MICRO_USD, usable_grants
from cloudrun.models import CreditGrant, Deployment, DeploymentStatus, Offer

_SECONDS_PER_HOUR = Decimal(3600)


@dataclass(frozen=True)
class Usage:
    """One deployment's billing: `price_per_hour_usd` from `start` until `end` (None: still running)."""

    name: str
    offer: Offer  # what the eligibility rule looks at: provider, service (all offers have GPUs)
    price_per_hour_usd: Decimal
    start: datetime
    end: datetime | None = None


@dataclass
class Outcome:
    """What happened between the simulation's start and end."""

    balance: dict[str, Decimal]  # grant name -> balance at the end
    spent: dict[str, Decimal]  # grant name -> credit spent since its last known balance (or the start)
    exhausted_at: dict[str, datetime] = field(default_factory=dict)  # grant name -> when it ran dry
    uncovered_from: dict[str, datetime] = field(default_factory=dict)  # deployment -> first moment credit missed
    rate_at_start: dict[str, Decimal] = field(default_factory=dict)  # grant name -> $/h it paid at the start
    payer_at_start: dict[str, str] = field(default_factory=dict)  # deployment -> the grant paying for it at the start


def usage_of(deployment: Deployment, now: datetime) -> Usage | None:
    """Return what a recorded deployment bills, or None when it bills nothing (never created, or failed).

    The billed span matches `Deployment.cost_so_far`: from creation until deletion; running ones are open.
    """
    status = deployment.status
    if status in (DeploymentStatus.intent, DeploymentStatus.failed):
        return None
    end = None if status.running else (deployment.deleted_at or now)
    offer = Offer(
        provider=deployment.provider, service=deployment.service, region=deployment.region,
        instance_type=deployment.instance_type, gpu_model="", gpu_count=deployment.gpu_count,
        gpu_memory_gb=Decimal(0), vcpus=0, memory_gb=Decimal(0), price_per_hour_usd=deployment.price_per_hour_usd,
        spot_price_per_hour_usd=None, source=deployment.price_source, as_of="",
    )  # fmt: skip
    return Usage(deployment.name, offer, deployment.price_per_hour_usd, deployment.created_at, end)


def simulate(
    grants: Sequence[CreditGrant],
    usages: Sequence[Usage],
    start: datetime,
    end: datetime,
    *,
    starts: Mapping[str, datetime] | None = None,
    resets: Mapping[str, Sequence[tuple[datetime, Decimal]]] | None = None,
) -> Outcome:
    """Return balances and spending after billing `usages` against `grants` from `start` to `end`.

    `grants` carry their balance at `start` in amount_usd; `starts` says when a grant begins to pay
    (default: always); `resets` are observed balances that replace the simulated one at that moment.
    """
    starts, resets = starts or {}, resets or {}
    balance = {g.name: g.amount_usd for g in grants}
    outcome = Outcome(balance=balance, spent={g.name: Decimal(0) for g in grants})
    pending = sorted(((at, name, amount) for name, seen in resets.items() for at, amount in seen), key=lambda r: r[0])
    events = _events(grants, usages, starts, pending, start, end)
    now = start
    while now < end:
        _observe(pending, now, outcome)
        rates = _rates(grants, usages, starts, balance, now, outcome, outcome.payer_at_start if now == start else None)
        if now == start:
            outcome.rate_at_start = dict(rates)
        next_event = next((at for at in events if at > now), end)
        now = _advance(rates, balance, outcome, now, next_event)
    _observe(pending, end, outcome)
    _rates(grants, usages, starts, balance, end, outcome)  # who is left unpaid at the end (e.g. every grant expired)
    return outcome


def _observe(pending: list[tuple[datetime, str, Decimal]], now: datetime, outcome: Outcome) -> None:
    """Replace simulated balances by those observed up to `now`; charges count again from there."""
    while pending and pending[0][0] <= now:
        _, name, amount = pending.pop(0)
        outcome.balance[name], outcome.spent[name] = amount, Decimal(0)


def _events(grants, usages, starts, pending, start: datetime, end: datetime) -> list[datetime]:  # noqa: ANN001
    moments = {g.expires_at for g in grants} | set(starts.values()) | {at for at, _, _ in pending}
    moments |= {u.start for u in usages} | {u.end for u in usages if u.end is not None}
    return sorted(at for at in moments if start < at < end)


def _rates(
    grants: Sequence[CreditGrant],
    usages: Sequence[Usage],
    starts: Mapping[str, datetime],
    balance: dict[str, Decimal],
    now: datetime,
    outcome: Outcome,
    payers_out: dict[str, str] | None = None,
) -> dict[str, Decimal]:
    """Return grant name -> $/h it pays at `now`; note deployments no credit pays for (and, into `payers_out`,
    which grant pays for each deployment)."""
    live = [g for g in grants if balance[g.name] > 0 and starts.get(g.name, now) <= now]
    rates: dict[str, Decimal] = {}
    for usage in usages:
        if not (usage.start <= now and (usage.end is None or now < usage.end)) or usage.price_per_hour_usd <= 0:
            continue
        payers = usable_grants(live, usage.offer, now)
        if payers:
            rates[payers[0].name] = rates.get(payers[0].name, Decimal(0)) + usage.price_per_hour_usd
            if payers_out is not None:
                payers_out[usage.name] = payers[0].name
        else:
            outcome.uncovered_from.setdefault(usage.name, now)
    return rates


def _advance(
    rates: dict[str, Decimal], balance: dict[str, Decimal], outcome: Outcome, now: datetime, next_event: datetime
) -> datetime:
    """Return the next moment: `next_event`, or sooner when a paying grant runs dry; spend up to it."""
    hours = Decimal((next_event - now).total_seconds()) / _SECONDS_PER_HOUR
    dry_in = {name: balance[name] / rate for name, rate in rates.items()}
    step = min([hours, *dry_in.values()])
    for name, rate in rates.items():
        amount = balance[name] if dry_in[name] <= step else min(balance[name], (rate * step).quantize(MICRO_USD))
        balance[name] -= amount
        outcome.spent[name] += amount
        if balance[name] <= 0:
            outcome.exhausted_at[name] = now + timedelta(seconds=float(step * _SECONDS_PER_HOUR))
    if step >= hours:
        return next_event
    return now + timedelta(seconds=float(step * _SECONDS_PER_HOUR))
