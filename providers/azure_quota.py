"""How many managed-online-endpoint instances Azure ML's per-family vCPU quota allows. Pure: no SDK.

Managed online deployments draw on the subscription's Azure ML dedicated vCPU quota per VM family and
region (shared with compute clusters), read through `MLClient.compute.list_usage(location=...)`, i.e.
GET /subscriptions/{s}/providers/Microsoft.MachineLearningServices/locations/{loc}/usages. Azure reserves
20 % extra for upgrades (10 instances need quota for 12) except on the SKUs marked "Skip 20% Reservation":
NC A100 v4, NC H100 v5, ND A100 v4, ND H100 v5 (how-to-manage-quotas.md, reference-managed-online-
endpoints-vm-sku-list.md). GPU families default to 0 cores on new subscriptions, and Free Trial
subscriptions cannot get any increase until upgraded to pay-as-you-go.

Family names: the "Family Name" column of reference-managed-online-endpoints-vm-sku-list.md, verbatim, whose
spacing and casing vary ("standard NCASv3_T4 Family", "standardNCSv3Family", "standard NDAMSv4_A100Family"). The
usage rows name a family as "<family> Family Cluster Dedicated vCPUs" (azure-rest-api-specs 2024-04-01
Usage/list.json), and public code that reads them sees other spellings (ND H100 v5 as standardNDSH100v5Family).
So a row matches a family when, with spaces, '_' and case ignored, its value or localized value contains the
family's key; only rows of type .../vmFamily/usages count (workspace and compute rows repeat the same names).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

RESERVE = 1.2


@dataclass(frozen=True)
class Family:
    names: tuple[str, ...]  # as Microsoft's docs spell it (first) and other spellings seen in usage rows
    exempt: bool  # "Skip 20% Reservation"

    @property
    def name(self) -> str:
        return self.names[0]

    def matches(self, usage: Usage) -> bool:
        """Return whether a usage row counts this family's vCPUs (spaces, '_' and case ignored)."""
        if usage.type and not usage.type.lower().endswith("vmfamily/usages"):
            return False
        row = {squash(usage.name), squash(usage.localized)}
        return any(squash(name).removesuffix("family") in text for name in self.names for text in row if text)


def squash(text: str) -> str:
    return text.replace(" ", "").replace("_", "").lower()


NC_A100_V4 = Family(("standardNCADSA100v4Family",), exempt=True)
NC_H100_V5 = Family(("standardNCADSH100v5Family",), exempt=True)
ND_A100_V4 = Family(("standard NDASv4_A100 Family",), exempt=True)
ND_A100_V4_80GB = Family(("standard NDAMSv4_A100Family",), exempt=True)
ND_H100_V5 = Family(("standardNDv5H100Family", "standardNDSH100v5Family"), exempt=True)
NC_T4_V3 = Family(("standard NCASv3_T4 Family",), exempt=False)
NC_V3 = Family(("standardNCSv3Family",), exempt=False)
NV_A10_V5 = Family(("standardNVADSA10v5Family",), exempt=False)

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
    """One usage row: a quota's name (value and localized), its type, the vCPUs in use and its limit."""

    name: str
    current: int
    limit: int
    localized: str = ""
    type: str = ""


def instances_allowed(instance_type: str, usages: Iterable[Usage]) -> int | None:
    """Return how many more instances of this type fit the family's free vCPUs (with the 20 % reserve where
    it applies); None for an unknown instance type or a family missing from the usage rows."""
    known = INSTANCE_TYPES.get(instance_type)
    if known is None:
        return None
    family, vcpus = known
    row = next((u for u in usages if family.matches(u)), None)
    if row is None or row.limit < 0:  # -1: no limit reported for this row
        return None
    per_instance = vcpus * (1.0 if family.exempt else RESERVE)
    return max(0, math.floor((row.limit - row.current) / per_instance + 1e-9))
