"""Compute Engine prices of the machines Vertex AI serves on: the 2026-08-20 table and the reference figures.

A Vertex row is priced from Compute Engine (machine + its GPUs) times the Vertex premium, and cross-checked
against a second figure of the same machine read on 2026-11-28 from the SkyPilot catalog (CURRENT: undated, no
licence file, so a reference, never a shipped figure where the dated table has one; cloudrun/pricing/crosscheck.py).
"""

from __future__ import annotations

from decimal import Decimal as D

from .rows import READ, Shape

# machine: GPU model, GPUs, GB per GPU, vCPUs, GB (cloud.google.com/compute/docs/accelerator-optimized-machines)
SHAPES = {
    "g2-standard-4": Shape("L4", 1, 24, 4, 16),
    "g2-standard-8": Shape("L4", 1, 24, 8, 32),
    "g2-standard-12": Shape("L4", 1, 24, 12, 48),
    "g2-standard-16": Shape("L4", 1, 24, 16, 64),
    "g2-standard-24": Shape("L4", 2, 24, 24, 96),
    "g2-standard-32": Shape("L4", 1, 24, 32, 128),
    "g2-standard-48": Shape("L4", 4, 24, 48, 192),
    "g2-standard-96": Shape("L4", 8, 24, 96, 384),
    "a2-highgpu-1g": Shape("A100", 1, 40, 12, 85),
    "a2-highgpu-2g": Shape("A100", 2, 40, 24, 170),
    "a2-highgpu-4g": Shape("A100", 4, 40, 48, 340),
    "a2-highgpu-8g": Shape("A100", 8, 40, 96, 680),
    "a2-ultragpu-1g": Shape("A100", 1, 80, 12, 170),
    "a2-ultragpu-2g": Shape("A100", 2, 80, 24, 340),
    "a2-ultragpu-4g": Shape("A100", 4, 80, 48, 680),
    "a2-ultragpu-8g": Shape("A100", 8, 80, 96, 1360),
    "a3-highgpu-1g": Shape("H100", 1, 80, 26, 234),
    "a3-highgpu-4g": Shape("H100", 4, 80, 104, 936),
    "a3-highgpu-8g": Shape("H100", 8, 80, 208, 1872),
    "a3-ultragpu-8g": Shape("H200", 8, 141, 224, 2952),
}

# (machine, region): (USD/h, spot USD/h), machine + GPUs, copied verbatim from Cyclenerd/google-cloud-pricing-cost-
# calculator pricing.yml at commit dac31281 ("generated: Thu Aug 20 04:22:20 2026"; Apache-2.0; its figures are the
# Cloud Billing Catalog API's Compute Engine SKUs summed per machine type). Its on-demand figures of these machines
# equal those of its 2025-03-06 edition; the spot figures changed. The file has no a3-ultragpu-8g.
PYML = "Cyclenerd/google-cloud-pricing-cost-calculator pricing.yml @dac31281 generated 2026-08-20 (Apache-2.0)"
PYML_DATE = "2026-08-20"
PRICING_YML = {
    ("g2-standard-4", "us-central1"): ("0.706832255", "0.423956"),
    ("g2-standard-4", "us-east4"): ("0.704517808", "0.34166"),
    ("g2-standard-4", "europe-west4"): ("0.742916046", "0.445776"),
    ("g2-standard-8", "us-central1"): ("0.853624271", "0.512012"),
    ("g2-standard-8", "us-east4"): ("0.850829156", "0.41262"),
    ("g2-standard-8", "europe-west4"): ("0.897201806", "0.538352"),
    ("g2-standard-12", "us-central1"): ("1.000416287", "0.600068"),
    ("g2-standard-12", "us-east4"): ("0.997140504", "0.48358"),
    ("g2-standard-12", "europe-west4"): ("1.051487566", "0.630928"),
    ("g2-standard-16", "us-central1"): ("1.147208303", "0.688124"),
    ("g2-standard-16", "us-east4"): ("1.143451852", "0.55454"),
    ("g2-standard-16", "europe-west4"): ("1.205773326", "0.723504"),
    ("g2-standard-24", "us-central1"): ("2.000832574", "1.200136"),
    ("g2-standard-24", "us-east4"): ("1.994281008", "0.96716"),
    ("g2-standard-24", "europe-west4"): ("2.102975132", "1.261856"),
    ("g2-standard-32", "us-central1"): ("1.734376367", "1.040348"),
    ("g2-standard-32", "us-east4"): ("1.728697244", "0.83838"),
    ("g2-standard-32", "europe-west4"): ("1.822916366", "1.093808"),
    ("g2-standard-48", "us-central1"): ("4.001665148", "2.400272"),
    ("g2-standard-48", "us-east4"): ("3.988562016", "1.93432"),
    ("g2-standard-48", "europe-west4"): ("4.205950264", "2.523712"),
    ("g2-standard-96", "us-central1"): ("8.003330296", "4.800544"),
    ("g2-standard-96", "us-east4"): ("7.977124032", "3.86864"),
    ("g2-standard-96", "europe-west4"): ("8.411900528", "5.047424"),
    ("a2-highgpu-1g", "us-central1"): ("3.673385", "2.12081"),
    ("a2-highgpu-1g", "us-east4"): ("3.934354926", "2.360575"),
    ("a2-highgpu-1g", "europe-west4"): ("3.747972", "2.24787"),
    ("a2-highgpu-2g", "us-central1"): ("7.34677", "4.24162"),
    ("a2-highgpu-2g", "us-east4"): ("7.868709852", "4.72115"),
    ("a2-highgpu-2g", "europe-west4"): ("7.495944", "4.49574"),
    ("a2-highgpu-4g", "us-central1"): ("14.69354", "8.48324"),
    ("a2-highgpu-4g", "us-east4"): ("15.737419704", "9.4423"),
    ("a2-highgpu-4g", "europe-west4"): ("14.991888", "8.99148"),
    ("a2-highgpu-8g", "us-central1"): ("29.38708", "16.96648"),
    ("a2-highgpu-8g", "us-east4"): ("31.474839408", "18.8846"),
    ("a2-highgpu-8g", "europe-west4"): ("29.983776", "17.98296"),
    ("a2-ultragpu-1g", "us-central1"): ("5.06879789041096", "2.92787753424658"),
    ("a2-ultragpu-1g", "us-east4"): ("5.70773247945206", "2.44715328767123"),
    ("a2-ultragpu-1g", "europe-west4"): ("5.58091847945206", "2.89492328767123"),
    ("a2-ultragpu-2g", "us-central1"): ("10.1375957808219", "5.85575506849315"),
    ("a2-ultragpu-2g", "us-east4"): ("11.4154649589041", "4.89430657534247"),
    ("a2-ultragpu-2g", "europe-west4"): ("11.1618369589041", "5.78984657534247"),
    ("a2-ultragpu-4g", "us-central1"): ("20.2751915616438", "11.7115101369863"),
    ("a2-ultragpu-4g", "us-east4"): ("22.8309299178082", "9.78861315068493"),
    ("a2-ultragpu-4g", "europe-west4"): ("22.3236739178082", "11.5796931506849"),
    ("a2-ultragpu-8g", "us-central1"): ("40.5503831232877", "23.4230202739726"),
    ("a2-ultragpu-8g", "us-east4"): ("45.6618598356164", "19.5772263013699"),
    ("a2-ultragpu-8g", "europe-west4"): ("44.6473478356164", "23.1593863013699"),
    ("a3-highgpu-1g", "us-central1"): ("11.0612499878219", "6.63670306849315"),
    ("a3-highgpu-1g", "us-east4"): ("11.0694695189041", "5.49442657534247"),
    ("a3-highgpu-1g", "europe-west4"): ("14.0675598969041", "6.68091657534247"),
    ("a3-highgpu-4g", "us-central1"): ("44.2449999512877", "26.5468122739726"),
    ("a3-highgpu-4g", "us-east4"): ("44.2778780756164", "21.9777063013699"),
    ("a3-highgpu-4g", "europe-west4"): ("56.2702395876164", "26.7236663013699"),
    ("a3-highgpu-8g", "us-central1"): ("88.4899999025753", "53.0936245479452"),
    ("a3-highgpu-8g", "us-east4"): ("88.5557561512329", "43.9554126027397"),
    ("a3-highgpu-8g", "europe-west4"): ("112.540479175233", "53.4473326027397"),
}

SKYPILOT = (
    "skypilot-org/skypilot-catalog catalogs/v8/gcp/vms.csv @006059e0 (Compute Engine list prices the catalog reads "
    f"from the Cloud Billing Catalog API; undated, read {READ})"
)
# The reference figures. Where they disagree with the dated table by more than the premium allows, the table wins
# (crosscheck.resolve): on-demand, they differ only for A100 80 GB (all three regions, 1.72x) and H100 in us-central1
# (2.05x), while the H100 rows of us-east4 and europe-west4 agree within 1 %; the copy's own notes list that
# H100 spread across regions among its data quirks (shared/catalogs/skypilot/README.md, "Data quirks").
# (machine, region): host USD/h, host spot, GPUs USD/h, GPUs spot: the SkyPilot catalog's host row (machine only)
# and accelerator row (its GPUs), which add up to the machine's price (SkyPilot Resources._get_hourly_cost). Rows
# marked "per GPU" take the accelerator row of a larger machine divided by its GPUs (Compute Engine prices GPUs
# per GPU: cloud.google.com/compute/gpus-pricing), the host row of the full file.
CURRENT = {
    ("a2-ultragpu-1g", "us-central1"): ("1.09962", "0.54978", "1.8462", "1.964"),  # per GPU: A100-80GB:2 / 2
    ("a2-ultragpu-1g", "us-east4"): ("1.23833", "0.49613", "2.079375", "1.7697"),  # per GPU
    ("a2-ultragpu-1g", "europe-west4"): ("1.2105", "0.47328", "2.03285", "2.1626"),  # per GPU
    ("a2-ultragpu-2g", "us-central1"): ("2.19924", "1.09956", "3.6924", "3.928"),
    ("a2-ultragpu-2g", "us-east4"): ("2.47666", "0.99226", "4.15875", "3.5394"),
    ("a2-ultragpu-2g", "europe-west4"): ("2.42101", "0.94656", "4.0657", "4.3252"),
    ("a2-ultragpu-4g", "us-central1"): ("4.39849", "2.19912", "7.38479", "7.856"),
    ("a2-ultragpu-4g", "us-east4"): ("4.95332", "1.98452", "8.31749", "7.0788"),
    ("a2-ultragpu-4g", "europe-west4"): ("4.84202", "1.89312", "8.13139", "8.6504"),
    ("a2-ultragpu-8g", "us-central1"): ("8.79698", "4.39824", "14.76958", "15.712"),
    ("a2-ultragpu-8g", "us-east4"): ("9.90664", "3.96904", "16.63498", "14.1576"),
    ("a2-ultragpu-8g", "europe-west4"): ("9.68403", "3.78624", "16.26278", "17.3008"),
    ("a3-highgpu-1g", "us-central1"): ("1.18251", "0.36117", "4.20076", "2.9926"),  # per GPU: H100:4 / 4
    ("a3-highgpu-1g", "us-east4"): ("1.18251", "0.26996", "9.79655", "2.2356"),  # per GPU
    ("a3-highgpu-1g", "europe-west4"): ("1.24163", "0.28434", "12.735515", "2.9112"),  # per GPU
    ("a3-highgpu-4g", "us-central1"): ("4.73003", "1.44466", "16.80304", "11.9704"),
    ("a3-highgpu-4g", "us-east4"): ("4.73003", "1.07983", "39.1862", "8.9424"),
    ("a3-highgpu-4g", "europe-west4"): ("4.96653", "1.13734", "50.94206", "11.6448"),
    ("a3-highgpu-8g", "us-central1"): ("9.46006", "2.88933", "33.60609", "23.9408"),
    ("a3-highgpu-8g", "us-east4"): ("9.46006", "2.15966", "78.37241", "17.8848"),
    ("a3-highgpu-8g", "europe-west4"): ("9.93306", "2.27469", "101.88413", "23.2896"),
    # H200: no spot (Vertex has no spot serving quota for H200: GoogleCloudPlatform/vertex-ai-samples
    # model_garden_pytorch_deepseek_deployment.ipynb). europe-west4 is left out: its H200:8 row is half the US
    # figure with a spot price above on-demand, a data error (shared/catalogs/skypilot README, "Data quirks").
    ("a3-ultragpu-8g", "us-central1"): ("12.266", "", "74.49392", ""),
    ("a3-ultragpu-8g", "us-east4"): ("12.266", "", "74.49392", ""),
}


def current(machine: str, region: str) -> tuple[D, D | None] | None:
    """Return the current Compute Engine (price, spot price) of the machine with its GPUs, or None if not stored."""
    parts = CURRENT.get((machine, region))
    if parts is None:
        return None
    host, host_spot, gpus, gpus_spot = parts
    # A GPU spot price above its on-demand price is a data error in the copy (shared/catalogs/skypilot README, "Data
    # quirks": A100-80GB rows in us-central1 and europe-west4), so such a machine gets no spot price.
    usable = host_spot and gpus_spot and D(gpus_spot) <= D(gpus)
    return D(host) + D(gpus), D(host_spot) + D(gpus_spot) if usable else None


def current_source(machine: str, region: str) -> str:
    """Return where the current figure of this machine comes from (per-GPU rows say how they were derived)."""
    derived = machine in {"a2-ultragpu-1g", "a3-highgpu-1g"}
    how = "host row + 1/n of the accelerator row of a larger size (GPUs are priced per GPU)" if derived else (
        "host row + accelerator row")
    return f"{machine} {region} in {SKYPILOT}: {how}"
