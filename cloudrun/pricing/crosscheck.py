"""Cross-checks a Vertex AI prediction price against the Compute Engine price of the same machine and GPUs.

Vertex AI bills a deployed model per node-hour at a premium over the Compute Engine machine it runs on
(cloud.google.com/vertex-ai/pricing, "custom-trained models", against cloud.google.com/compute/gpus-pricing).
The premium documented there is about 1.15; one outside 1.0-1.5 means one of the two figures is wrong
(a stale copy, a mislabelled SKU). Such a row is kept, flagged `conflict:` with both figures named, and
carries the better-sourced one (`better_sourced`): a figure with a publication date over one without (the
day an undated copy was read is not its date, so it cannot show it is the newer), else the newer; when
neither says more, the Compute Engine figure times the documented premium.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from cloudrun.catalog_rows import UNDATED

# The plausible Vertex-over-Compute-Engine premium (issue 18): below 1.0 Vertex would be cheaper than the VM it
# runs on; above 1.5 is three times the documented ~15 % premium.
PREMIUM_LOW = Decimal("1.0")
PREMIUM_HIGH = Decimal("1.5")
CONFLICT = "conflict:"


@dataclass(frozen=True, slots=True)
class Figure:
    """One hourly price with its spot price, where it comes from and the date it was published (or 'undated')."""

    price_per_hour_usd: Decimal
    spot_price_per_hour_usd: Decimal | None
    source: str
    as_of: str


def premium(vertex_price: Decimal, compute_engine_price: Decimal) -> Decimal:
    """Return the Vertex price as a multiple of the Compute Engine price of the same machine (4 decimals)."""
    return (vertex_price / compute_engine_price).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def problem(vertex_price: Decimal, compute_engine_price: Decimal) -> str | None:
    """Return why this Vertex price cannot be right next to that Compute Engine price, or None when plausible."""
    ratio = premium(vertex_price, compute_engine_price)
    if PREMIUM_LOW <= ratio <= PREMIUM_HIGH:
        return None
    return (
        f"Vertex {vertex_price} is {ratio}x the Compute Engine price {compute_engine_price} of the same machine "
        f"(a premium outside {PREMIUM_LOW}-{PREMIUM_HIGH}x)"
    )


def better_sourced(candidate: Figure, compute_engine: Figure) -> bool:
    """True when the candidate's source says more than the Compute Engine figure's: dated against undated, or the
    newer of two dates. Two undated figures, or the same date: the Compute Engine figure is preferred."""
    if candidate.as_of == UNDATED:
        return False
    return compute_engine.as_of == UNDATED or candidate.as_of > compute_engine.as_of


def resolve(candidate: Figure, compute_engine: Figure, documented_premium: Decimal, premium_source: str) -> Figure:
    """Return the figure the catalog should carry for a Vertex row: the candidate when its premium over the
    Compute Engine figure is plausible; else the better-sourced of the candidate and the Compute Engine figure
    times the documented premium, flagged `conflict:` and naming both figures and both sources."""
    why = problem(candidate.price_per_hour_usd, compute_engine.price_per_hour_usd)
    if why is None:
        return candidate
    price = _q4(compute_engine.price_per_hour_usd * documented_premium)
    spot = compute_engine.spot_price_per_hour_usd
    spot = _q4(spot * documented_premium) if spot is not None else None
    if spot is not None and spot > price:
        spot = None  # a spot figure above on-demand is a data error, not a price
    reference = (f"Compute Engine {compute_engine.price_per_hour_usd} ({compute_engine.source}) x {documented_premium} "
                 f"({premium_source})")  # fmt: skip
    if better_sourced(candidate, compute_engine):
        source = (
            f"{CONFLICT} {candidate.price_per_hour_usd} vs {price}; {why}; used: {candidate.price_per_hour_usd} "
            f"({candidate.source}, as of {candidate.as_of}: dated, against an undated or older figure); "
            f"not used: {price} = {reference}"
        )
        return Figure(candidate.price_per_hour_usd, candidate.spot_price_per_hour_usd, source, candidate.as_of)
    source = (
        f"{CONFLICT} {price} vs {candidate.price_per_hour_usd}; {why}; used: {reference}; "
        f"not used: {candidate.price_per_hour_usd} ({candidate.source}, as of {candidate.as_of})"
    )
    return Figure(price, spot, source, compute_engine.as_of)


def _q4(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
