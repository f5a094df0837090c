"""Builds cloudrun/data/offers.csv from the figures read during research (see docs/catalog.md).

Usage, from the repository root: python scripts/build_catalog_snapshot.py [OUT.csv]
"""

import csv
import sys
from decimal import ROUND_HALF_UP
from decimal import Decimal as D

from cloudrun.catalog import COLUMNS  # noqa: E402 - the header is the catalog module's contract

READ = "2026-11-28"  # date the undated sources were read
rows = []


def add(provider, service, region, itype, gpu, count, mem, vcpus, ram, price, spot, source, as_of):
    rows.append(
        [
            provider,
            service,
            region,
            itype,
            gpu,
            str(count),
            str(mem),
            str(vcpus),
            str(ram),
            str(price),
            "" if spot is None else str(spot),
            source,
            as_of,
        ]
    )


def q4(x):
    return x.quantize(D("0.0001"), rounding=ROUND_HALF_UP)


# ---------------- AWS SageMaker real-time hosting ----------------
SHAPES = {  # instance: (gpu model, count, GB per GPU, vcpus, host GiB)
    "ml.g4dn.xlarge": ("T4", 1, 16, 4, 16),
    "ml.g4dn.12xlarge": ("T4", 4, 16, 48, 192),
    "ml.g5.xlarge": ("A10G", 1, 24, 4, 16),
    "ml.g5.2xlarge": ("A10G", 1, 24, 8, 32),
    "ml.g5.4xlarge": ("A10G", 1, 24, 16, 64),
    "ml.g5.8xlarge": ("A10G", 1, 24, 32, 128),
    "ml.g5.12xlarge": ("A10G", 4, 24, 48, 192),
    "ml.g5.24xlarge": ("A10G", 4, 24, 96, 384),
    "ml.g5.48xlarge": ("A10G", 8, 24, 192, 768),
    "ml.g6.xlarge": ("L4", 1, 24, 4, 16),
    "ml.g6.2xlarge": ("L4", 1, 24, 8, 32),
    "ml.g6.4xlarge": ("L4", 1, 24, 16, 64),
    "ml.g6.8xlarge": ("L4", 1, 24, 32, 128),
    "ml.g6.12xlarge": ("L4", 4, 24, 48, 192),
    "ml.g6.24xlarge": ("L4", 4, 24, 96, 384),
    "ml.g6.48xlarge": ("L4", 8, 24, 192, 768),
    "ml.g6e.xlarge": ("L40S", 1, 48, 4, 32),
    "ml.g6e.2xlarge": ("L40S", 1, 48, 8, 64),
    "ml.g6e.12xlarge": ("L40S", 4, 48, 48, 384),
    "ml.g6e.24xlarge": ("L40S", 4, 48, 96, 768),
    "ml.g6e.48xlarge": ("L40S", 8, 48, 192, 1536),
    "ml.p4d.24xlarge": ("A100", 8, 40, 96, 1152),
    "ml.p4de.24xlarge": ("A100", 8, 80, 96, 1152),
    "ml.p5.48xlarge": ("H100", 8, 80, 192, 2048),
}
LIST_0927 = "aws price list AmazonSageMaker us-east-1 (via public copy: SageMaker analyzer price table 'us-east-1 list prices read on 2026-09-27'; component not stated)"
CF51 = "cloud-facts §5.1 SageMaker hosting us-east-1"
USE1 = {  # instance: (price, source)
    "ml.g4dn.xlarge": (
        "0.7364",
        LIST_0927 + "; same in goerlitz/nlp-classification copy of aws.amazon.com/sagemaker/pricing",
    ),
    "ml.g4dn.12xlarge": ("4.89", LIST_0927 + "; same in public YAML price table (cloud-facts §5.1)"),
    "ml.g5.xlarge": ("1.408", CF51 + " (idx 57136749889 + public YAML price table); 1.41 in " + LIST_0927),
    "ml.g5.2xlarge": (
        "1.515",
        CF51 + " (idx 58724935039, checked 2026-08 against the AmazonSageMaker price list); 1.52 in " + LIST_0927,
    ),
    "ml.g5.4xlarge": ("2.03", LIST_0927 + "; same in us-west-2 price-list copy (idx 67049560902)"),
    "ml.g5.8xlarge": ("3.06", LIST_0927 + "; same in us-west-2 price-list copy (idx 67049560902)"),
    "ml.g5.12xlarge": ("7.09", CF51 + " (>=6 independent files agree); same in " + LIST_0927),
    "ml.g5.24xlarge": ("10.18", LIST_0927 + "; same in public YAML price table"),
    "ml.g5.48xlarge": ("20.36", CF51 + " (>=5 files agree); same in " + LIST_0927),
    "ml.g6.xlarge": ("1.127", CF51 + " (idx 67049560902, 58724935039); same in " + LIST_0927),
    "ml.g6.2xlarge": ("1.222", CF51 + " (idx 67049560902, 58724935039); same in " + LIST_0927),
    "ml.g6.4xlarge": ("1.654", CF51 + " (idx 67049560902, 58724935039); same in " + LIST_0927),
    "ml.g6.8xlarge": ("2.518", LIST_0927 + "; same in us-west-2 price-list copy (idx 67049560902)"),
    "ml.g6.12xlarge": ("5.752", CF51 + " (idx 67049560902); same in " + LIST_0927),
    "ml.g6.24xlarge": ("8.344", CF51 + " (idx 67049560902); same in " + LIST_0927),
    "ml.g6.48xlarge": ("16.688", CF51 + " (idx 67049560902); same in " + LIST_0927),
    "ml.g6e.xlarge": ("2.61", LIST_0927 + "; us-west-2 BatchTransform copy 2.6054 (idx 67049560902)"),
    "ml.g6e.2xlarge": ("2.80", CF51 + " (idx 58724935039); same in " + LIST_0927),
    "ml.g6e.12xlarge": ("13.12", CF51 + " (idx 58724935039); same in " + LIST_0927),
    "ml.g6e.24xlarge": ("18.83", LIST_0927 + "; us-west-2 BatchTransform copy 18.8319875 (idx 67049560902)"),
    "ml.g6e.48xlarge": ("37.66", LIST_0927 + "; us-west-2 BatchTransform copy 37.663975 (idx 67049560902)"),
    "ml.p4d.24xlarge": (
        "25.2513",
        "conflict: 25.2513 vs 37.688; 25.2513 from "
        + LIST_0927
        + "; 37.688 in cloud-facts §5.1 and older copies (before the 2025 P4/P5 price cut: 37.688 x 0.67 = 25.25)",
    ),
    "ml.p4de.24xlarge": ("31.5641", "single source: " + LIST_0927 + "; unverified"),
    "ml.p5.48xlarge": (
        "63.296",
        "conflict: 63.296 vs 113.068 vs 98.32; 63.296 from "
        + LIST_0927
        + "; 113.068 in cloud-facts §5.1 and older copies (pre-cut; 113.068 x EC2 cut 55.04/98.32 = 63.30); 98.32 is the old EC2 p5.48xlarge price mislabelled as SageMaker",
    ),
}
for itype, (price, source) in USE1.items():
    gpu, n, mem, vcpus, ram = SHAPES[itype]
    add("aws", "sagemaker", "us-east-1", itype, gpu, n, mem, vcpus, ram, D(price), None, source, "2026-09-27")

USW2_SRC = (
    "aws price list AmazonSageMaker us-west-2 BatchTransform component (via public copy idx 67049560902, "
    "fine-tuning price map; undated, read {read}); real-time hosting assumed equal (equal for g5 in us-east-1)"
)
USW2 = {
    "ml.g5.xlarge": "1.408",
    "ml.g5.2xlarge": "1.515",
    "ml.g5.4xlarge": "2.03",
    "ml.g5.8xlarge": "3.06",
    "ml.g5.12xlarge": "7.09",
    "ml.g5.24xlarge": "10.18",
    "ml.g5.48xlarge": "20.36",
    "ml.g6.xlarge": "1.1267",
    "ml.g6.2xlarge": "1.222",
    "ml.g6.4xlarge": "1.654",
    "ml.g6.8xlarge": "2.518",
    "ml.g6.12xlarge": "5.752",
    "ml.g6.24xlarge": "8.344",
    "ml.g6.48xlarge": "16.688",
    "ml.g6e.xlarge": "2.6054",
    "ml.g6e.2xlarge": "2.8026",
    "ml.g6e.12xlarge": "13.1158",
    "ml.g6e.24xlarge": "18.8319875",
    "ml.g6e.48xlarge": "37.663975",
}
for itype, price in USW2.items():
    gpu, n, mem, vcpus, ram = SHAPES[itype]
    add(
        "aws",
        "sagemaker",
        "us-west-2",
        itype,
        gpu,
        n,
        mem,
        vcpus,
        ram,
        D(price),
        None,
        USW2_SRC.format(read=READ),
        READ,
    )

EUW1 = D("18.18233") / D("16.288")  # EC2 g5.48xlarge eu-west-1 / us-east-1
for itype in ("ml.g5.xlarge", "ml.g5.2xlarge", "ml.g5.12xlarge", "ml.g5.48xlarge"):
    gpu, n, mem, vcpus, ram = SHAPES[itype]
    base = D(USE1[itype][0])
    src = (
        f"derived: us-east-1 SageMaker {base} x {EUW1.quantize(D('0.0001'))} (EC2 g5.48xlarge eu-west-1 18.18233 / "
        f"us-east-1 16.288, SkyPilot reference catalog copied 2026-11-28); unverified"
    )
    add("aws", "sagemaker", "eu-west-1", itype, gpu, n, mem, vcpus, ram, q4(base * EUW1), None, src, READ)

# ---------------- GCP Vertex AI online prediction ----------------
GCE = {  # machine: (gpu, count, GB/GPU, vcpus, GB ram, {region: (hour, hour_spot)})
    "g2-standard-4": (
        "L4",
        1,
        24,
        4,
        16,
        {
            "us-central1": ("0.706832255", "0.279932"),
            "us-east4": ("0.704517808", "0.281812"),
            "europe-west4": ("0.742916046", "0.253236"),
        },
    ),
    "g2-standard-8": (
        "L4",
        1,
        24,
        8,
        32,
        {
            "us-central1": ("0.853624271", "0.336764"),
            "us-east4": ("0.850829156", "0.340324"),
            "europe-west4": ("0.897201806", "0.314972"),
        },
    ),
    "g2-standard-12": (
        "L4",
        1,
        24,
        12,
        48,
        {
            "us-central1": ("1.000416287", "0.393596"),
            "us-east4": ("0.997140504", "0.398836"),
            "europe-west4": ("1.051487566", "0.376708"),
        },
    ),
    "g2-standard-16": (
        "L4",
        1,
        24,
        16,
        64,
        {
            "us-central1": ("1.147208303", "0.450428"),
            "us-east4": ("1.143451852", "0.457348"),
            "europe-west4": ("1.205773326", "0.438444"),
        },
    ),
    "g2-standard-24": (
        "L4",
        2,
        24,
        24,
        96,
        {
            "us-central1": ("2.000832574", "0.787192"),
            "us-east4": ("1.994281008", "0.797672"),
            "europe-west4": ("2.102975132", "0.753416"),
        },
    ),
    "g2-standard-32": (
        "L4",
        1,
        24,
        32,
        128,
        {
            "us-central1": ("1.734376367", "0.677756"),
            "us-east4": ("1.728697244", "0.691396"),
            "europe-west4": ("1.822916366", "0.685388"),
        },
    ),
    "g2-standard-48": (
        "L4",
        4,
        24,
        48,
        192,
        {
            "us-central1": ("4.001665148", "1.574384"),
            "us-east4": ("3.988562016", "1.595344"),
            "europe-west4": ("4.205950264", "1.506832"),
        },
    ),
    "g2-standard-96": (
        "L4",
        8,
        24,
        96,
        384,
        {
            "us-central1": ("8.003330296", "3.148768"),
            "us-east4": ("7.977124032", "3.190688"),
            "europe-west4": ("8.411900528", "3.013664"),
        },
    ),
    "a2-highgpu-1g": (
        "A100",
        1,
        40,
        12,
        85,
        {
            "us-central1": ("3.673385", "1.293355"),
            "us-east4": ("3.934354926", "1.2132324"),
            "europe-west4": ("3.747972", "1.44587"),
        },
    ),
    "a2-highgpu-2g": (
        "A100",
        2,
        40,
        24,
        170,
        {
            "us-central1": ("7.34677", "2.58671"),
            "us-east4": ("7.868709852", "2.4264648"),
            "europe-west4": ("7.495944", "2.89174"),
        },
    ),
    "a2-highgpu-4g": (
        "A100",
        4,
        40,
        48,
        340,
        {
            "us-central1": ("14.69354", "5.17342"),
            "us-east4": ("15.737419704", "4.8529296"),
            "europe-west4": ("14.991888", "5.78348"),
        },
    ),
    "a2-highgpu-8g": (
        "A100",
        8,
        40,
        96,
        680,
        {
            "us-central1": ("29.38708", "10.34684"),
            "us-east4": ("31.474839408", "9.7058592"),
            "europe-west4": ("29.983776", "11.56696"),
        },
    ),
    "a2-ultragpu-1g": (
        "A100",
        1,
        80,
        12,
        170,
        {
            "us-central1": ("5.06879789041096", "2.02746835616438"),
            "us-east4": ("5.70773247945206", "2.29658383561644"),
            "europe-west4": ("5.58091847945206", "1.81105531506849"),
        },
    ),
    "a2-ultragpu-2g": (
        "A100",
        2,
        80,
        24,
        340,
        {
            "us-central1": ("10.1375957808219", "4.05493671232877"),
            "us-east4": ("11.4154649589041", "4.59316767123288"),
            "europe-west4": ("11.1618369589041", "3.62211063013699"),
        },
    ),
    "a2-ultragpu-4g": (
        "A100",
        4,
        80,
        48,
        680,
        {
            "us-central1": ("20.2751915616438", "8.10987342465753"),
            "us-east4": ("22.8309299178082", "9.18633534246576"),
            "europe-west4": ("22.3236739178082", "7.24422126027397"),
        },
    ),
    "a2-ultragpu-8g": (
        "A100",
        8,
        80,
        96,
        1360,
        {
            "us-central1": ("40.5503831232877", "16.2197468493151"),
            "us-east4": ("45.6618598356164", "18.3726706849315"),
            "europe-west4": ("44.6473478356164", "14.4884425205479"),
        },
    ),
    "a3-highgpu-1g": (
        "H100",
        1,
        80,
        26,
        234,
        {
            "us-central1": ("11.0612499878219", "4.42446871232877"),
            "us-east4": ("11.0694695189041", "4.45487967123288"),
            "europe-west4": ("14.0675598969041", "3.96990063013699"),
        },
    ),
    "a3-highgpu-4g": (
        "H100",
        4,
        80,
        104,
        936,
        {
            "us-central1": ("44.2449999512877", "17.6978748493151"),
            "us-east4": ("44.2778780756164", "17.8195186849315"),
            "europe-west4": ("56.2702395876164", "15.8796025205479"),
        },
    ),
    "a3-highgpu-8g": (
        "H100",
        8,
        80,
        208,
        1872,
        {
            "us-central1": ("88.4899999025753", "35.3957496986301"),
            "us-east4": ("88.5557561512329", "35.639037369863"),
            "europe-west4": ("112.540479175233", "31.7592050410959"),
        },
    ),
}
PREMIUM = D("1.15")
for machine, (gpu, n, mem, vcpus, ram, regions) in GCE.items():
    for region, (hour, spot) in regions.items():
        src = (
            f"derived: Compute Engine {machine} {region} {q4(D(hour))}/h, spot {q4(D(spot))}/h (machine+GPU; "
            f"Cyclenerd/google-cloud-pricing-cost-calculator pricing.yml generated 2025-03-06, Apache-2.0) x 1.15 "
            f"Vertex prediction premium (Vertex n1-standard-4 0.21849885 vs GCE 0.19, harvest of cloud.google.com/vertex-ai/pricing 2026-10-07; "
            f"g2-standard-4/8 0.81/0.98 vs 0.71/0.85, cloud-facts §5.2); spot premium assumed equal; unverified"
        )
        if machine == "a3-highgpu-8g" and region == "us-central1":
            src = "conflict: GCE 88.49 vs 98.26-101.22 (cloud-facts §5.2); " + src
        add(
            "gcp",
            "vertex",
            region,
            machine,
            gpu,
            n,
            mem,
            vcpus,
            ram,
            q4(D(hour) * PREMIUM),
            q4(D(spot) * PREMIUM),
            src,
            "2025-03-06",
        )

# ---------------- Azure ML managed online endpoints (VM meter) ----------------
AZ = {  # sku: (gpu, count, GB/GPU, vcpus, GiB ram)
    "Standard_NC4as_T4_v3": ("T4", 1, 16, 4, 28),
    "Standard_NC8as_T4_v3": ("T4", 1, 16, 8, 56),
    "Standard_NC16as_T4_v3": ("T4", 1, 16, 16, 110),
    "Standard_NC64as_T4_v3": ("T4", 4, 16, 64, 440),
    "Standard_NC6s_v3": ("V100", 1, 16, 6, 112),
    "Standard_NC12s_v3": ("V100", 2, 16, 12, 224),
    "Standard_NC24s_v3": ("V100", 4, 16, 24, 448),
    "Standard_NV36ads_A10_v5": ("A10", 1, 24, 36, 440),
    "Standard_NC24ads_A100_v4": ("A100", 1, 80, 24, 220),
    "Standard_NC48ads_A100_v4": ("A100", 2, 80, 48, 440),
    "Standard_NC96ads_A100_v4": ("A100", 4, 80, 96, 880),
    "Standard_ND96asr_v4": ("A100", 8, 40, 96, 900),
    "Standard_ND96amsr_A100_v4": ("A100", 8, 80, 96, 1900),
    "Standard_NC40ads_H100_v5": ("H100 NVL", 1, 94, 40, 320),
    "Standard_NC80adis_H100_v5": ("H100 NVL", 2, 94, 80, 640),
    "Standard_ND96isr_H100_v5": ("H100", 8, 80, 96, 1900),
}
COPIES = (
    "azure.microsoft.com Linux pay-as-you-go eastus (via public code copies: {n} files agree, undated, read "
    + READ
    + "); Azure ML managed online endpoints bill the VM meter"
)
EASTUS = {
    "Standard_NC4as_T4_v3": ("0.526", COPIES.format(n=">=4")),
    "Standard_NC8as_T4_v3": ("0.752", COPIES.format(n=">=3") + "; one further file says 1.052 (linear guess)"),
    "Standard_NC16as_T4_v3": ("1.204", COPIES.format(n=">=3")),
    "Standard_NC64as_T4_v3": ("4.352", COPIES.format(n=">=3")),
    "Standard_NC6s_v3": ("3.06", COPIES.format(n=">=5")),
    "Standard_NC12s_v3": ("6.12", COPIES.format(n=">=4")),
    "Standard_NC24s_v3": ("12.24", COPIES.format(n=">=4")),
    "Standard_NV36ads_A10_v5": (
        "3.20",
        "conflict: 3.20 vs 1.10 (cloud-facts §5.3, both unverified); the higher figure is kept; Linux pay-as-you-go eastus, Azure ML bills the VM meter",
    ),
    "Standard_NC24ads_A100_v4": ("3.673", "cloud-facts §5.3 (>=5 files agree 3.67-3.6741); " + COPIES.format(n=">=3")),
    "Standard_NC48ads_A100_v4": ("7.346", "cloud-facts §5.3; " + COPIES.format(n=">=2")),
    "Standard_NC96ads_A100_v4": (
        "14.692",
        "cloud-facts §5.3; " + COPIES.format(n=">=2") + "; one file says 36.00 (outlier, ignored)",
    ),
    "Standard_ND96asr_v4": ("27.197", "cloud-facts §5.3; " + COPIES.format(n=">=3")),
    "Standard_ND96amsr_A100_v4": ("32.768", "cloud-facts §5.3 (one outlier 6.12 ignored); " + COPIES.format(n=">=3")),
    "Standard_NC40ads_H100_v5": (
        "6.98",
        "conflict: 6.98 vs 7.35; 6.98 in >=3 public notes (GPU comparison tables) and the SkyPilot reference catalog; 7.35 single file (cloud-facts §5.3); Linux pay-as-you-go eastus, Azure ML bills the VM meter",
    ),
    "Standard_NC80adis_H100_v5": (
        "13.96",
        "derived: 2 x Standard_NC40ads_H100_v5 6.98 (NC H100 v5 is priced per GPU; SkyPilot reference catalog also shows 13.96); unverified",
    ),
    "Standard_ND96isr_H100_v5": (
        "98.32",
        "conflict: 98.32 vs 88.49; 98.32 in cloud-facts §5.3 and a public GPU-spend connector table; 88.49 in a deploybase.ai comparison that gives the same figure for GCP a3-highgpu-8g (likely copy error)",
    ),
}
for sku, (price, src) in EASTUS.items():
    gpu, n, mem, vcpus, ram = AZ[sku]
    add("azure", "azureml", "eastus", sku, gpu, n, mem, vcpus, ram, D(price), None, src, READ)

SAME_AS_EASTUS = {
    "eastus2": [
        "Standard_NC24ads_A100_v4",
        "Standard_NC48ads_A100_v4",
        "Standard_NC96ads_A100_v4",
        "Standard_ND96amsr_A100_v4",
        "Standard_NC40ads_H100_v5",
        "Standard_NC80adis_H100_v5",
        "Standard_ND96isr_H100_v5",
    ],
    "westus3": [
        "Standard_NC24ads_A100_v4",
        "Standard_NC48ads_A100_v4",
        "Standard_NC96ads_A100_v4",
        "Standard_NC40ads_H100_v5",
        "Standard_NC80adis_H100_v5",
    ],
}
for region, skus in SAME_AS_EASTUS.items():
    for sku in skus:
        gpu, n, mem, vcpus, ram = AZ[sku]
        price = EASTUS[sku][0]
        src = (
            f"derived: eastus figure {price}; {region} lists the same on-demand price for this size in the SkyPilot "
            f"Azure v6 reference catalog (copied 2026-11-28); unverified"
        )
        add("azure", "azureml", region, sku, gpu, n, mem, vcpus, ram, D(price), None, src, READ)

OUT = sys.argv[1] if len(sys.argv) > 1 else "cloudrun/data/offers.csv"  # run from the repo root
with open(OUT, "w", newline="", encoding="utf-8") as fh:
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
print(len(rows), "rows")
