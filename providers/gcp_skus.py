"""Reads Cloud Billing Catalog SKUs into the parts a Vertex AI prediction node is priced from.

Vertex AI prices a node in parts, per region: the machine (per vCPU-hour "... Instance Core" and per
GiB-hour "... Instance Ram", by machine family) plus each accelerator (per GPU-hour). On-demand parts
are Vertex AI SKUs described "Vertex AI: Online/Batch Prediction Nvidia L4 GPU running in Iowa". Spot
nodes are billed as Compute Engine spot SKUs ("Spot Preemptible G2 Instance Core running in Americas",
"Nvidia L4 GPU attached to Spot Preemptible VMs running in ...") plus Vertex AI management-fee SKUs
("Vertex AI: Online/Batch Prediction management fee on A3 Instance Core in Iowa"); Vertex SKUs with
usage type Preemptible, if the catalog has them, are read as spot parts directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ON_DEMAND, SPOT, FEE, SPOT_VM = "on-demand", "spot", "management fee", "spot VM"
UNITS = {"gpu": "h", "core": "h", "ram": "GiBy.h"}

# "A3 Ultra Instance Core" names the a3-ultragpu (H200) family's parts, as Cloud Billing exports show it (e.g.
# "DWS Defined Duration A3 Ultra Instance Core" in public billing-export mappings).
_MACHINE = re.compile(r"^(?P<family>[A-Z]\d+[A-Z]?(?: Ultra)?)(?: Predefined)? Instance (?P<kind>Core|Ram|RAM)$")
_GPU = re.compile(r"^(?P<accelerator>.+?) GPU$")
_VERTEX = re.compile(r"^Vertex AI: Online/Batch Prediction (?P<what>.+?) running in (?P<where>.+)$")
_VERTEX_FEE = re.compile(r"^Vertex AI: Online/Batch Prediction management fee on (?P<what>.+?) in (?P<where>.+)$")
_CE_SPOT_MACHINE = re.compile(r"^Spot Preemptible (?P<what>.+?) running in (?P<where>.+)$")
_CE_SPOT_GPU = re.compile(r"^(?P<what>.+? GPU) attached to Spot Preemptible VMs running in (?P<where>.+)$")


@dataclass(frozen=True, slots=True)
class Part:
    """One priced part of a node: a GPU, a vCPU or a GiB of RAM, in some regions, at one tariff."""

    tariff: str  # ON_DEMAND, SPOT (Vertex preemptible), FEE (Vertex management fee) or SPOT_VM (Compute Engine)
    kind: str  # "gpu", "core" or "ram"
    name: str  # normalised accelerator ("nvidia l4") or machine family ("g2")
    unit: str  # the SKU's usage unit: "h" or "GiBy.h"
    price: Decimal
    sku_id: str
    description: str
    regions: tuple[str, ...]


def normalise(name: str) -> str:
    """Return an accelerator or family name as compared: lower case, single spaces ("Nvidia A100 80gb")."""
    return " ".join(name.lower().split())


def vertex_part(sku: Any) -> Part | None:
    """Return the part a Vertex AI SKU prices, or None when it is not an online prediction node part."""
    description = sku.description
    match = _VERTEX_FEE.match(description)
    if match:
        return _part(sku, FEE, match["what"])
    match = _VERTEX.match(description)
    if match:
        tariff = SPOT if sku.category.usage_type == "Preemptible" else ON_DEMAND
        return _part(sku, tariff, match["what"])
    return None


def compute_spot_part(sku: Any) -> Part | None:
    """Return the part a Compute Engine spot SKU prices, or None for any other Compute Engine SKU."""
    if sku.category.usage_type != "Preemptible":
        return None
    match = _CE_SPOT_GPU.match(sku.description) or _CE_SPOT_MACHINE.match(sku.description)
    return _part(sku, SPOT_VM, match["what"]) if match else None


def _part(sku: Any, tariff: str, what: str) -> Part | None:
    machine = _MACHINE.match(what)
    gpu = _GPU.match(what)
    if machine:
        kind, name = machine["kind"].lower(), machine["family"]
    elif gpu:
        kind, name = "gpu", gpu["accelerator"]
    elif tariff == FEE:  # the fee names the GPU without the word "GPU": "management fee on NVIDIA H100 80GB"
        kind, name = "gpu", what
    else:
        return None
    price, unit = unit_price(sku)
    return Part(tariff, kind, normalise(name), unit, price, sku.sku_id, sku.description, tuple(sku.service_regions))


def unit_price(sku: Any) -> tuple[Decimal, str]:
    """Return the SKU's current price per usage unit (its first tier) in USD, and the unit ("h", "GiBy.h")."""
    if not sku.pricing_info:
        return Decimal(0), ""
    expression = sku.pricing_info[0].pricing_expression
    tiers = sorted(expression.tiered_rates, key=lambda tier: tier.start_usage_amount)
    if not tiers:
        return Decimal(0), expression.usage_unit
    money = tiers[0].unit_price
    return Decimal(money.units) + Decimal(money.nanos) / Decimal(1_000_000_000), expression.usage_unit
