"""Checks every fetched price before it can reach the cache; a rejected row comes back with its reason.

The rules answer the faults seen in public price data (shared/catalogs/skypilot, "Data quirks"): zero
prices, the 700.0 placeholder, spot above on-demand, a GPU count that disagrees with the machine (12 GPUs
on an 8-GPU VM), regions nobody has heard of, and instance types whose shape we do not know.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from cloudrun.catalog_rows import SPOT_SERVICES, UNDATED
from cloudrun.inputs.bounds import MAX_USD_PER_GPU_HOUR as MAX_USD_PER_GPU_HOUR  # the catalog's rule too
from cloudrun.models import SERVICES, Offer
from cloudrun.pricing.shapes import Shape
from cloudrun.regions import REGIONS as REGIONS  # the lists moved to cloudrun/regions.py; read here too

# Prices that mean "no price": a catalog filler, not a figure anybody pays.
PLACEHOLDER_PRICES = frozenset({Decimal("700"), Decimal("9999"), Decimal("99999")})


@dataclass(frozen=True, slots=True)
class PriceRow:
    """One price as a fetcher read it, before validation; `reported_gpu_count` when the API states one."""

    provider: str
    region: str
    instance_type: str
    price_per_hour_usd: Decimal | None
    source: str
    as_of: str  # the figure's publication date, YYYY-MM-DD, or "undated" (never the day it was read, as if it were)
    spot_price_per_hour_usd: Decimal | None = None
    reported_gpu_count: int | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A fetched row that did not become an offer, and why."""

    provider: str
    instance_type: str
    region: str
    reason: str

    def __str__(self) -> str:
        return f"{self.provider} {self.instance_type} {self.region or '-'}: {self.reason}"


@dataclass
class FetchResult:
    """What one fetcher returns: the offers that passed validation and the rows that did not."""

    offers: list[Offer] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    skipped: int = 0  # rows that are not GPU instances at all (e.g. ml.m5.large): neither kept nor reported


def check(rows: Iterable[PriceRow], shapes: Mapping[str, Shape]) -> FetchResult:
    """Return the rows that pass every rule as offers (shape from the table), and the others with reasons."""
    result = FetchResult()
    seen: set[tuple[str, str]] = set()
    for row in rows:
        reason = problem(row, shapes.get(row.instance_type))
        if reason is None and (row.region, row.instance_type) in seen:
            reason = "listed twice in the API answer (kept the first)"
        if reason is not None:
            result.rejected.append(Rejection(row.provider, row.instance_type, row.region, reason))
            continue
        seen.add((row.region, row.instance_type))
        result.offers.append(to_offer(row, shapes[row.instance_type]))
    return result


def problem(row: PriceRow, shape: Shape | None) -> str | None:
    """Return why this row cannot be trusted, or None when it passes every rule."""
    if shape is None:
        return "unknown instance type: no GPU shape in templates/gpu_shapes.csv (add a row to price it)"
    if row.region not in REGIONS.get(row.provider, frozenset()):
        return f"unknown region {row.region!r} for {row.provider}"
    if not _dated_or_undated(row.as_of):
        return f"as_of {row.as_of[:40]!r} is neither a YYYY-MM-DD date nor {UNDATED!r}"
    if row.reported_gpu_count is not None and row.reported_gpu_count != shape.gpu_count:
        return f"the API says {row.reported_gpu_count} GPUs, the shape table {shape.gpu_count} {shape.gpu_model}"
    price_problem = _price_problem("price", row.price_per_hour_usd, shape)
    if price_problem:
        return price_problem
    return _spot_problem(row, shape)


def _dated_or_undated(as_of: str) -> bool:
    if as_of in ("", UNDATED):  # an empty date is an undated figure, as in a catalog file
        return True
    try:
        return len(as_of) == 10 and date.fromisoformat(as_of) is not None
    except ValueError:
        return False


def _price_problem(what: str, price: Decimal | None, shape: Shape) -> str | None:
    if price is None or not price.is_finite() or price <= 0:
        return f"{what} {price} is zero or missing"
    if price in PLACEHOLDER_PRICES:
        return f"{what} {price} is a placeholder, not a price"
    if price / shape.gpu_count > MAX_USD_PER_GPU_HOUR:
        return f"{what} {price} is over ${MAX_USD_PER_GPU_HOUR}/h per GPU (absurd)"
    return None


def _spot_problem(row: PriceRow, shape: Shape) -> str | None:
    spot = row.spot_price_per_hour_usd
    if spot is None:
        return None
    if SERVICES[row.provider] not in SPOT_SERVICES:
        return f"{SERVICES[row.provider]} endpoints have no spot capacity, yet a spot price was read"
    spot_problem = _price_problem("spot price", spot, shape)
    if spot_problem:
        return spot_problem
    assert row.price_per_hour_usd is not None  # checked before the spot price
    if spot > row.price_per_hour_usd:
        return f"spot price {spot} is above the on-demand price {row.price_per_hour_usd}"
    return None


def to_offer(row: PriceRow, shape: Shape) -> Offer:
    """Return the offer a validated row stands for, its GPUs and memory taken from the shape table."""
    assert row.price_per_hour_usd is not None
    return Offer(
        provider=row.provider,
        service=SERVICES[row.provider],
        region=row.region,
        instance_type=row.instance_type,
        gpu_model=shape.gpu_model,
        gpu_count=shape.gpu_count,
        gpu_memory_gb=shape.gpu_memory_gb,
        vcpus=shape.vcpus,
        memory_gb=shape.memory_gb,
        price_per_hour_usd=row.price_per_hour_usd,
        spot_price_per_hour_usd=row.spot_price_per_hour_usd,
        source=row.source,
        as_of=row.as_of or UNDATED,
    )
