"""Credit grants: reading them from a file, which offers each can pay for, and how much it pays.

The rule (tests and users rely on it; the planner and the credit ledger share it): a grant pays for an
offer only if it is for the offer's provider, lists the offer's service, is GPU-eligible (every offer here
has GPUs) and has not expired; it pays only for usage before its expiry; grants are spent
soonest-expiring first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cloudrun.errors import InvalidInput
from cloudrun.models import PROVIDERS, CreditGrant, CreditUse, Offer

_SECONDS_PER_HOUR = Decimal(3600)
MICRO_USD = Decimal("0.000001")
_FIELDS = ("provider", "amount_usd", "expires_at", "gpu_eligible", "services")


def load_grants(path: Path | str) -> list[CreditGrant]:
    """Return the grants in a credits JSON file: a list of {provider, amount_usd, expires_at, ...}."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise InvalidInput(f"cannot read credits file {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"credits file {path} is not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    if not isinstance(data, list):
        raise InvalidInput(f"credits file {path} must hold a JSON list of grants")
    return [_grant(item, f"{path.name} grant {i}") for i, item in enumerate(data, start=1)]


def _grant(item: Any, where: str) -> CreditGrant:
    if not isinstance(item, dict):
        raise InvalidInput(f"{where}: expected an object with fields {', '.join(_FIELDS)}")
    missing = [f for f in _FIELDS if f not in item]
    if missing:
        raise InvalidInput(f"{where}: missing field {', '.join(missing)}")
    provider = item["provider"]
    if provider not in PROVIDERS:
        raise InvalidInput(f"{where}, field provider: {provider!r} is not one of {', '.join(PROVIDERS)}")
    services = item["services"]
    if not isinstance(services, list) or not all(isinstance(s, str) for s in services):
        raise InvalidInput(f'{where}, field services: expected a list of service names, e.g. ["vertex"]')
    if not isinstance(item["gpu_eligible"], bool):
        raise InvalidInput(f"{where}, field gpu_eligible: expected true or false")
    return CreditGrant(
        provider=provider,
        amount_usd=_amount(item["amount_usd"], where),
        expires_at=parse_time(item["expires_at"], f"{where}, field expires_at"),
        gpu_eligible=item["gpu_eligible"],
        services=tuple(services),
        name=str(item.get("name") or f"{provider} credit {where.rsplit(' ', 1)[-1]}"),
    )


def _amount(value: Any, where: str) -> Decimal:
    try:
        amount = Decimal(str(value)) if not isinstance(value, bool) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise InvalidInput(f"{where}, field amount_usd: {value!r} is not a number")
    if amount < 0:
        raise InvalidInput(f"{where}, field amount_usd: {value} is negative; credit amounts are >= 0")
    return amount


def parse_time(value: Any, where: str) -> datetime:
    """Return an aware UTC datetime from an ISO 8601 string; a date alone means midnight UTC."""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"{where}: {value!r} is not an ISO 8601 date, e.g. 2026-12-31T00:00:00Z") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def ineligible_reason(grant: CreditGrant, offer: Offer, now: datetime) -> str | None:
    """Return why a grant cannot pay for an offer, or None when it can."""
    if grant.provider != offer.provider:
        return "other provider"
    if offer.service not in grant.services:
        return f"does not list {offer.service}"
    if not grant.gpu_eligible:
        return "not eligible for GPU instances"
    if grant.expires_at <= now:
        return "expired"
    return None


def usable_grants(grants: Sequence[CreditGrant], offer: Offer, now: datetime) -> list[CreditGrant]:
    """Return the grants that can pay for `offer`, soonest-expiring first (the order they are spent in)."""
    return sorted(
        (g for g in grants if ineligible_reason(g, offer, now) is None),
        key=lambda g: (g.expires_at, g.name),
    )


def apply_credits(
    price_per_hour: Decimal, hours: Decimal, grants: Sequence[CreditGrant], offer: Offer, now: datetime
) -> tuple[Decimal, tuple[CreditUse, ...]]:
    """Return the credit applied to `hours` of `offer` at `price_per_hour` starting now, and per grant."""
    return spend(price_per_hour, hours, usable_grants(grants, offer, now), now)


def spend(
    price_per_hour: Decimal, hours: Decimal, ordered: Sequence[CreditGrant], now: datetime
) -> tuple[Decimal, tuple[CreditUse, ...]]:
    """Return the credit that `ordered` (usable grants, soonest-expiring first) applies to a run.

    Usage is paid in time order by the soonest-expiring grant that still has balance; a grant covers
    usage only up to its expiry. Because grants are taken in expiry order, the covered time only moves
    forward and this greedy order spends the most credit that can be spent.
    """
    if price_per_hour <= 0 or not ordered:
        return Decimal(0), ()
    covered = Decimal(0)  # hours of the run already paid for by credit
    uses: list[CreditUse] = []
    for grant in ordered:
        until_expiry = Decimal((grant.expires_at - now).total_seconds()) / _SECONDS_PER_HOUR
        payable_hours = min(hours, until_expiry) - covered
        if payable_hours <= 0 or grant.amount_usd <= 0:
            continue
        amount = min(grant.amount_usd, (price_per_hour * payable_hours).quantize(MICRO_USD))
        paid_hours = payable_hours if amount < grant.amount_usd else amount / price_per_hour
        uses.append(CreditUse(grant=grant.name, amount_usd=amount, hours=paid_hours))
        covered += paid_hours
        if covered >= hours:
            break
    return sum((u.amount_usd for u in uses), Decimal(0)), tuple(uses)


def paid_until(price_per_hour: Decimal, grants: Sequence[CreditGrant], offer: Offer, start: datetime) -> datetime:
    """Return when credit stops paying for `offer` at this price from `start`: `start` if no grant pays for it.

    The same rule and the same grants as the plan (soonest-expiring first, each until it is spent or expires).
    """
    ordered = usable_grants(grants, offer, start)
    if price_per_hour <= 0 or not ordered:
        return start
    horizon = Decimal((max(g.expires_at for g in ordered) - start).total_seconds()) / _SECONDS_PER_HOUR
    _, uses = spend(price_per_hour, horizon, ordered, start)
    covered = sum((use.hours for use in uses), Decimal(0))
    return start + timedelta(seconds=float(covered * _SECONDS_PER_HOUR))
