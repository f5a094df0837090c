"""Azure ML managed online endpoint rows: the Linux pay-as-you-go VM meter, eastus, and two derived US regions.

Azure ML managed online endpoints bill the VM's own meter (azure.microsoft.com/pricing/details/machine-learning/;
an ML surcharge is not confirmed), so the price is the Linux pay-as-you-go price of the VM size
(azure.microsoft.com/pricing/details/virtual-machines/linux/, the same meters as the Azure Retail Prices API
prices.azure.com/api/retail/prices). The sizes are those Azure ML lists for managed online endpoints
(MicrosoftDocs/azure-ai-docs articles/machine-learning/reference-managed-online-endpoints-vm-sku-list.md).
"""

from __future__ import annotations

from decimal import Decimal as D

from .rows import READ, UNDATED, Row, Shape

SHAPES = {  # size: GPU model, GPUs, GB per GPU, vCPUs, GiB (learn.microsoft.com/azure/virtual-machines/sizes)
    "Standard_NC4as_T4_v3": Shape("T4", 1, 16, 4, 28),
    "Standard_NC8as_T4_v3": Shape("T4", 1, 16, 8, 56),
    "Standard_NC16as_T4_v3": Shape("T4", 1, 16, 16, 110),
    "Standard_NC64as_T4_v3": Shape("T4", 4, 16, 64, 440),
    "Standard_NC6s_v3": Shape("V100", 1, 16, 6, 112),
    "Standard_NC12s_v3": Shape("V100", 2, 16, 12, 224),
    "Standard_NC24s_v3": Shape("V100", 4, 16, 24, 448),
    "Standard_NV36ads_A10_v5": Shape("A10", 1, 24, 36, 440),
    "Standard_NC24ads_A100_v4": Shape("A100", 1, 80, 24, 220),
    "Standard_NC48ads_A100_v4": Shape("A100", 2, 80, 48, 440),
    "Standard_NC96ads_A100_v4": Shape("A100", 4, 80, 96, 880),
    "Standard_ND96asr_v4": Shape("A100", 8, 40, 96, 900),
    "Standard_ND96amsr_A100_v4": Shape("A100", 8, 80, 96, 1900),
    "Standard_NC40ads_H100_v5": Shape("H100 NVL", 1, 94, 40, 320),
    "Standard_NC80adis_H100_v5": Shape("H100 NVL", 2, 94, 80, 640),
    "Standard_ND96isr_H100_v5": Shape("H100", 8, 80, 96, 1900),
}

PAGE = "azure.microsoft.com/pricing/details/virtual-machines/linux/ pay-as-you-go eastus"
COPIES = PAGE + " as quoted by {n} public code copies (undated, read " + READ + ")"
SKYPILOT = "skypilot-org/skypilot-catalog catalogs/v6/azure/vms.csv @098741e7 (undated)"
SAME_IN_SKYPILOT = "; the same figure in " + SKYPILOT
EASTUS = {
    "Standard_NC4as_T4_v3": ("0.526", COPIES.format(n=">=4")),
    "Standard_NC8as_T4_v3": ("0.752", COPIES.format(n=">=3") + "; one further file says 1.052 (a linear guess)"),
    "Standard_NC16as_T4_v3": ("1.204", COPIES.format(n=">=3")),
    "Standard_NC64as_T4_v3": ("4.352", COPIES.format(n=">=3")),
    "Standard_NC6s_v3": ("3.06", COPIES.format(n=">=5")),
    "Standard_NC12s_v3": ("6.12", COPIES.format(n=">=4")),
    "Standard_NC24s_v3": ("12.24", COPIES.format(n=">=4")),
    "Standard_NV36ads_A10_v5": ("3.20", "conflict: 3.20 vs 1.10; two public copies of " + PAGE + " disagree, neither "
                                "verified; the higher figure is kept"),
    "Standard_NC24ads_A100_v4": ("3.673", COPIES.format(n=">=5") + " (3.67-3.6741)" + SAME_IN_SKYPILOT),
    "Standard_NC48ads_A100_v4": ("7.346", COPIES.format(n=">=2") + SAME_IN_SKYPILOT),
    "Standard_NC96ads_A100_v4": ("14.692", COPIES.format(n=">=2") + SAME_IN_SKYPILOT + "; one file says 36.00 "
                                 "(an outlier, ignored)"),
    "Standard_ND96asr_v4": ("27.197", COPIES.format(n=">=3") + SAME_IN_SKYPILOT),
    "Standard_ND96amsr_A100_v4": ("32.768", COPIES.format(n=">=3") + " (one outlier 6.12 ignored); 32.77 in "
                                  + SKYPILOT),
    "Standard_NC40ads_H100_v5": ("6.98", "conflict: 6.98 vs 7.35; 6.98 in >=3 public GPU comparison tables quoting "
                                 + PAGE + SAME_IN_SKYPILOT + "; 7.35 in a single public file"),
    "Standard_NC80adis_H100_v5": ("13.96", "derived: 2 x Standard_NC40ads_H100_v5 6.98 (NC H100 v5 is priced per "
                                  "GPU)" + SAME_IN_SKYPILOT + "; unverified"),
    "Standard_ND96isr_H100_v5": ("98.32", "conflict: 98.32 vs 88.49; 98.32 in " + SKYPILOT + " and a public GPU-spend "
                                 "connector table; 88.49 in a deploybase.ai comparison that gives the same figure for "
                                 "GCP a3-highgpu-8g (likely a copy error)"),
}  # fmt: skip

SAME_AS_EASTUS = {  # region: sizes whose on-demand price equals eastus's in the SkyPilot Azure catalog
    "eastus2": ["Standard_NC24ads_A100_v4", "Standard_NC48ads_A100_v4", "Standard_NC96ads_A100_v4",
                "Standard_ND96amsr_A100_v4", "Standard_NC40ads_H100_v5", "Standard_NC80adis_H100_v5",
                "Standard_ND96isr_H100_v5"],
    "westus3": ["Standard_NC24ads_A100_v4", "Standard_NC48ads_A100_v4", "Standard_NC96ads_A100_v4",
                "Standard_NC40ads_H100_v5", "Standard_NC80adis_H100_v5"],
}  # fmt: skip


def rows() -> list[Row]:
    """Return the Azure ML rows of the snapshot (all undated: no source states a date)."""
    found = [Row("azure", "azureml", "eastus", sku, SHAPES[sku], D(price), None, source, UNDATED)
             for sku, (price, source) in EASTUS.items()]  # fmt: skip
    for region, skus in SAME_AS_EASTUS.items():
        for sku in skus:
            price = EASTUS[sku][0]
            source = (f"derived: the eastus figure {price}; {region} lists the same on-demand price for this size in "
                      f"{SKYPILOT}, read {READ}; unverified")  # fmt: skip
            found.append(Row("azure", "azureml", region, sku, SHAPES[sku], D(price), None, source, UNDATED))
    return found
