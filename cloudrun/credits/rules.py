"""Credit grants: reading them from a file, which offers each can pay for, and how much it pays.

The rule (tests and users rely on it; the planner and the credit ledger share it): a grant pays for an
offer only if it is for the offer's provider, lists the offer's service, is GPU-eligible (every offer here
has GPUs) and has not expired; it pays only for usage before its expiry; grants are spent
soonest-expiring first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from cloudrun import inputs
from cloudrun.credits import curve
from cloudrun.errors import InvalidInput
from cloudrun.inputs import bounds, files
from cloudrun.inputs.values import as_decimal
from cloudrun.plain import PROVIDERS, CreditGrant, CreditUse, Offer

_SECONDS_PER_HOUR = Decimal(3600)
MICRO_USD = curve.MICRO_USD
_FIELDS = ("provider", "amount_usd", "expires_at", "gpu_eligible", "services")
_OPTIONAL = ("name", "starts_at", "currency")
_HINT = "see docs/planning.md, the credits file"


class Terms(NamedTuple):
    """A credit's terms once checked: its provider, amount and the services it pays for."""

    provider: str
    amount_usd: Decimal
    services: tuple[str, ...]


def check_terms(
    where: str,
    *,
    provider: object,
    amount_usd: object,
    currency: object,
    services: object,
    starts_at: datetime | None,
    expires_at: datetime,
) -> Terms:
    """Return a credit's terms if they make sense, else raise InvalidInput naming the field: the one rule for a
    `--credits FILE` grant and a `credits add` (ledger) grant alike."""
    if not isinstance(provider, str) or provider not in PROVIDERS:
        raise InvalidInput(f"{where}, field provider: {provider!r} is not one of {', '.join(PROVIDERS)}")
    if not isinstance(currency, str) or currency.upper() != "USD":
        raise InvalidInput(
            f"{where}: currency {currency} is not supported yet; cloudrun keeps credit in USD only",
            hint="convert the amount to USD at your billing rate and pass --currency USD",
        )
    amount = credit_amount(amount_usd, f"{where}, field amount_usd")
    for field, moment in (("starts_at", starts_at), ("expires_at", expires_at)):
        if moment is not None and not bounds.EARLIEST <= moment < bounds.LATEST:
            raise InvalidInput(f"{where}, field {field}: {moment:%Y-%m-%d} is not between 2000 and 2100")
    if starts_at is not None and expires_at <= starts_at:
        raise InvalidInput(f"{where}: expires {expires_at:%Y-%m-%d} must be after it starts ({starts_at:%Y-%m-%d})")
    return Terms(provider, amount, inputs.services(provider, services, f"{where}, field services"))


def credit_amount(value: object, where: str) -> Decimal:
    """Return a credit amount in USD: a number from 0 to the money cap; raise InvalidInput naming `where`."""
    amount = as_decimal(value)
    if amount is None:
        raise InvalidInput(f"{where}: {value!r} is not a number")
    if amount < 0:
        raise InvalidInput(f"{where}: {value} is negative; a credit must be a number >= 0 (credit is never negative)")
    if amount > bounds.MAX_USD:
        raise InvalidInput(f"{where}: {value} is more than the ${bounds.MAX_USD:,} cloudrun accepts for one credit",
                           hint="check the amount for a typo")  # fmt: skip
    return amount


def load_grants(path: Path | str) -> list[CreditGrant]:
    """Return the grants in a credits JSON file: a list of {provider, amount_usd, expires_at, ...}, each checked by
    the rule `credits add` keeps (check_terms); the file is read up to a size cap and refused past it."""
    path = Path(path)
    data = files.read_bounded(path, "credits file", bounds.MAX_CREDITS_BYTES, _HINT)
    grants = files.parse_json(data, f"credits file {path}", _HINT)
    if not isinstance(grants, list):
        raise InvalidInput(f"credits file {path} must hold a JSON list of grants", hint=_HINT)
    if len(grants) > bounds.MAX_GRANTS:
        raise InvalidInput(f"credits file {path} lists {len(grants):,} grants; cloudrun reads at most "
                           f"{bounds.MAX_GRANTS:,}")  # fmt: skip
    return [_grant(item, f"{path.name} grant {i}") for i, item in enumerate(grants, start=1)]


def _grant(item: Any, where: str) -> CreditGrant:
    if not isinstance(item, dict):
        raise InvalidInput(f"{where}: expected an object with fields {', '.join(_FIELDS)}")
    missing = [f for f in _FIELDS if f not in item]
    if missing:
        raise InvalidInput(f"{where}: missing field {', '.join(missing)}")
    unknown = sorted(key for key in item if key not in _FIELDS + _OPTIONAL)
    if unknown:
        raise InvalidInput(f"{where}: unknown field {unknown[0][:40]!r}", hint=f"the fields are "
                           f"{', '.join(_FIELDS + _OPTIONAL)}")  # fmt: skip
    if not isinstance(item["gpu_eligible"], bool):
        raise InvalidInput(f"{where}, field gpu_eligible: expected true or false")
    starts, expires = item.get("starts_at"), inputs.moment(item["expires_at"], f"{where}, field expires_at")
    terms = check_terms(
        where, provider=item["provider"], amount_usd=item["amount_usd"], currency=item.get("currency", "USD"),
        services=item["services"], expires_at=expires,
        starts_at=None if starts is None else inputs.moment(starts, f"{where}, field starts_at"),
    )  # fmt: skip
    name = item.get("name")
    return CreditGrant(
        provider=terms.provider,
        amount_usd=terms.amount_usd,
        expires_at=expires,
        gpu_eligible=item["gpu_eligible"],
        services=terms.services,
        name=f"{terms.provider} credit {where.rsplit(' ', 1)[-1]}" if name is None else
        inputs.label(name, f"{where}, field name"),
    )  # fmt: skip


def parse_time(value: Any, where: str) -> datetime:
    """Return an aware UTC datetime from ISO 8601 text; a date alone means midnight UTC (cloudrun.inputs.moment)."""
    return inputs.moment(value, where)


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
    """Return the credit that `ordered` (usable grants, soonest-expiring first) applies to a run, and per grant.

    Usage is paid in time order by the soonest-expiring grant that still has balance; a grant covers usage only up
    to its expiry (curve.walk). The total is worked out exactly and rounded to the micro-dollar once, so it is the
    figure the planner's credit curve gives for the same grants; each grant's share is rounded for showing.
    """
    if price_per_hour <= 0 or not ordered:
        return Decimal(0), ()
    exact = curve.walk(price_per_hour, hours, ordered, now)
    total = sum((u.amount_usd for u in exact), Decimal(0)).quantize(MICRO_USD)
    return total, curve.rounded(exact)


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
