"""How many managed-online-endpoint instances Azure ML's per-family vCPU quota allows. Pure: no SDK.

Managed online deployments draw on the subscription's Azure ML dedicated vCPU quota per VM family and
region (shared with compute clusters), read through `MLClient.compute.list_usage(location=...)`, i.e.
GET /subscriptions/{s}/providers/Microsoft.MachineLearningServices/locations/{loc}/usages. Azure reserves
20 % extra for upgrades (10 instances need quota for 12) except on the SKUs marked "Skip 20% Reservation":
NC A100 v4, NC H100 v5, ND A100 v4, ND H100 v5 (how-to-manage-quotas.md, reference-managed-online-
endpoints-vm-sku-list.md; cloud-facts §1.3). GPU families default to 0 cores on new subscriptions, and
Free Trial subscriptions cannot get any increase until upgraded to pay-as-you-go.

Family names are the `name.value` of the usage rows (as `az vm list-usage` shows them); compared
case-insensitively because Azure's own casing varies (standardNCADSA100v4Family / StandardNCADSA100v4Family).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

RESERVE = 1.2


@dataclass(frozen=True)
class Family:
    name: str
    exempt: bool  # "Skip 20% Reservation"


NC_A100_V4 = Family("standardNCADSA100v4Family", exempt=True)
NC_H100_V5 = Family("standardNCadsH100v5Family", exempt=True)
ND_A100_V4 = Family("standardNDASv4_A100Family", exempt=True)
ND_A100_V4_80GB = Family("standardNDAMSv4_A100Family", exempt=True)
ND_H100_V5 = Family("standardNDSH100v5Family", exempt=True)
NC_T4_V3 = Family("standardNCASv3_T4Family", exempt=False)
NC_V3 = Family("standardNCSv3Family", exempt=False)
NV_A10_V5 = Family("standardNVADSA10v5Family", exempt=False)

# instance type -> (quota family, vCPUs per instance); vCPUs agree with cloudrun/data/offers.csv.
INSTANCE_TYPES: dict[str, tuple[Family, int]] = {
    "Standard_NC24ads_A100_v4": (NC_A100_V4, 24),
    "Standard_NC48ads_A100_v4": (NC_A100_V4, 48),
    "Standard_NC96ads_A100_v4": (NC_A100_V4, 96),
    "Standard_NC40ads_H100_v5": (NC_H100_V5, 40),
    "Standard_NC80adis_H100_v5": (NC_H100_V5, 80),
    "Standard_ND96asr_v4": (ND_A100_V4, 96),
    "Standard_ND96amsr_A100_v4": (ND_A100_V4_80GB, 96),
    "Standard_ND96isr_H100_v5": (ND_H100_V5, 96),
    "Standard_NC4as_T4_v3": (NC_T4_V3, 4),
    "Standard_NC8as_T4_v3": (NC_T4_V3, 8),
    "Standard_NC16as_T4_v3": (NC_T4_V3, 16),
    "Standard_NC64as_T4_v3": (NC_T4_V3, 64),
    "Standard_NC6s_v3": (NC_V3, 6),
    "Standard_NC12s_v3": (NC_V3, 12),
    "Standard_NC24s_v3": (NC_V3, 24),
    "Standard_NV36ads_A10_v5": (NV_A10_V5, 36),
    "Standard_NV72ads_A10_v5": (NV_A10_V5, 72),
}


@dataclass(frozen=True)
class Usage:
    """One usage row: a quota family's vCPUs in use and its limit."""

    name: str
    current: int
    limit: int


def instances_allowed(instance_type: str, usages: Iterable[Usage]) -> int | None:
    """Return how many more instances of this type fit the family's free vCPUs (with the 20 % reserve where
    it applies); None for an unknown instance type or a family missing from the usage rows."""
    known = INSTANCE_TYPES.get(instance_type)
    if known is None:
        return None
    family, vcpus = known
    row = next((u for u in usages if u.name.lower() == family.name.lower()), None)
    if row is None:
        return None
    per_instance = vcpus * (1.0 if family.exempt else RESERVE)
    return max(0, math.floor((row.limit - row.current) / per_instance + 1e-9))
