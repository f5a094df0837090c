"""Google Vertex AI online prediction rows: Compute Engine machine + GPUs x the Vertex premium, cross-checked.

Each row starts from the Compute Engine table of 2026-08-20 (compute_engine.PRICING_YML) times the documented
premium. Where a second, reference figure of the same machine is stored (compute_engine.CURRENT, undated), the row
is cross-checked against it (cloudrun.pricing.crosscheck): a premium outside 1.0-1.5x flags the row `conflict:`,
names both, and keeps the better-sourced one (the dated figure). Machines the table lacks (a3-ultragpu-8g) are
priced from the reference figure alone.
"""

from __future__ import annotations

from decimal import Decimal as D

from cloudrun.pricing import crosscheck

from . import compute_engine
from .rows import UNDATED, Row, q4

PREMIUM = D("1.15")
PREMIUM_SOURCE = (
    "Vertex premium over Compute Engine from cloud.google.com/vertex-ai/pricing against "
    "cloud.google.com/compute/all-pricing (Vertex n1-standard-4 0.21849885/h vs Compute Engine 0.19/h, a copy of the "
    "page of 2026-10-07); spot premium assumed equal"
)
PYML, PYML_DATE = compute_engine.PYML, compute_engine.PYML_DATE
REGIONS = ("us-central1", "us-east4", "europe-west4")
# Vertex AI serves on a3-ultragpu-8g (8 x H200): GoogleCloudPlatform/vertex-ai-samples notebooks/community/
# model_garden/model_garden_pytorch_deepseek_deployment.ipynb deploys DeepSeek-R1 on "1 host of 8 x H200
# (a3-ultragpu-8g)", and gcloud's serving quota CustomModelServingH200GPUsPerProjectPerRegion exists for it.
H200_OFFERED = (
    "a3-ultragpu-8g serves Vertex AI endpoints: GoogleCloudPlatform/vertex-ai-samples "
    "model_garden_pytorch_deepseek_deployment.ipynb ('1 host of 8 x H200 (a3-ultragpu-8g)'); no spot (no H200 spot "
    "serving quota, same notebook)"
)


def rows() -> list[Row]:
    """Return the Vertex rows of the snapshot, each cross-checked where a second Compute Engine figure exists."""
    found = []
    for machine, shape in compute_engine.SHAPES.items():
        for region in REGIONS:
            figure = figure_for(machine, region)
            if figure is not None:
                found.append(Row("gcp", "vertex", region, machine, shape, figure.price_per_hour_usd,
                                 figure.spot_price_per_hour_usd, figure.source, figure.as_of))  # fmt: skip
    return found


def figure_for(machine: str, region: str) -> crosscheck.Figure | None:
    """Return the Vertex figure of a machine in a region, or None when no source prices it."""
    old = compute_engine.PRICING_YML.get((machine, region))
    now = _current(machine, region)
    if old is None:
        return _from_current(now) if now is not None else None
    hour, spot = D(old[0]), D(old[1])
    base = f"Compute Engine {machine} {region} {q4(hour)}/h, spot {q4(spot)}/h (machine + GPUs) in {PYML}"
    candidate = crosscheck.Figure(q4(hour * PREMIUM), q4(spot * PREMIUM), f"{base} x {PREMIUM}", PYML_DATE)
    if now is None:
        unchecked = "not cross-checked: no second Compute Engine figure of this machine is stored; unverified"
        return _with_source(candidate, f"derived: {base} x {PREMIUM} ({PREMIUM_SOURCE}); {unchecked}")
    resolved = crosscheck.resolve(candidate, now, PREMIUM, PREMIUM_SOURCE)
    if resolved is not candidate:
        return resolved
    ratio = crosscheck.premium(candidate.price_per_hour_usd, now.price_per_hour_usd)
    return _with_source(candidate, f"derived: {base} x {PREMIUM} ({PREMIUM_SOURCE}); cross-checked: {ratio}x a "
                                   f"second Compute Engine figure {now.price_per_hour_usd} ({now.source})")  # fmt: skip


def reference(machine: str, region: str) -> crosscheck.Figure | None:
    """Return the second Compute Engine figure a Vertex row of this machine is checked against, if stored."""
    return _current(machine, region)


def _current(machine: str, region: str) -> crosscheck.Figure | None:
    found = compute_engine.current(machine, region)
    if found is None:
        return None
    price, spot = found
    return crosscheck.Figure(q4(price), None if spot is None else q4(spot),
                             compute_engine.current_source(machine, region), UNDATED)  # fmt: skip


def _from_current(now: crosscheck.Figure) -> crosscheck.Figure:
    spot = now.spot_price_per_hour_usd
    extra = f"; {H200_OFFERED}" if now.source.startswith("a3-ultragpu") else ""
    source = f"derived: Compute Engine {now.price_per_hour_usd} ({now.source}) x {PREMIUM} ({PREMIUM_SOURCE}){extra}"
    return crosscheck.Figure(q4(now.price_per_hour_usd * PREMIUM), None if spot is None else q4(spot * PREMIUM),
                             source, now.as_of)  # fmt: skip


def _with_source(figure: crosscheck.Figure, source: str) -> crosscheck.Figure:
    return crosscheck.Figure(figure.price_per_hour_usd, figure.spot_price_per_hour_usd, source, figure.as_of)
