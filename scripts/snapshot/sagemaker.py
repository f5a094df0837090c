"""AWS SageMaker real-time inference rows: us-east-1 (dated), us-west-2 (undated), eu-west-1 (derived)."""

from __future__ import annotations

from decimal import Decimal as D

from .rows import READ, UNDATED, Row, Shape, q4

SHAPES = {  # instance: GPU model, GPUs, GB per GPU, vCPUs, host GiB (aws.amazon.com/sagemaker/pricing instance table)
    "ml.g4dn.xlarge": Shape("T4", 1, 16, 4, 16),
    "ml.g4dn.12xlarge": Shape("T4", 4, 16, 48, 192),
    "ml.g5.xlarge": Shape("A10G", 1, 24, 4, 16),
    "ml.g5.2xlarge": Shape("A10G", 1, 24, 8, 32),
    "ml.g5.4xlarge": Shape("A10G", 1, 24, 16, 64),
    "ml.g5.8xlarge": Shape("A10G", 1, 24, 32, 128),
    "ml.g5.12xlarge": Shape("A10G", 4, 24, 48, 192),
    "ml.g5.24xlarge": Shape("A10G", 4, 24, 96, 384),
    "ml.g5.48xlarge": Shape("A10G", 8, 24, 192, 768),
    "ml.g6.xlarge": Shape("L4", 1, 24, 4, 16),
    "ml.g6.2xlarge": Shape("L4", 1, 24, 8, 32),
    "ml.g6.4xlarge": Shape("L4", 1, 24, 16, 64),
    "ml.g6.8xlarge": Shape("L4", 1, 24, 32, 128),
    "ml.g6.12xlarge": Shape("L4", 4, 24, 48, 192),
    "ml.g6.24xlarge": Shape("L4", 4, 24, 96, 384),
    "ml.g6.48xlarge": Shape("L4", 8, 24, 192, 768),
    "ml.g6e.xlarge": Shape("L40S", 1, 48, 4, 32),
    "ml.g6e.2xlarge": Shape("L40S", 1, 48, 8, 64),
    "ml.g6e.12xlarge": Shape("L40S", 4, 48, 48, 384),
    "ml.g6e.24xlarge": Shape("L40S", 4, 48, 96, 768),
    "ml.g6e.48xlarge": Shape("L40S", 8, 48, 192, 1536),
    "ml.p4d.24xlarge": Shape("A100", 8, 40, 96, 1152),
    "ml.p4de.24xlarge": Shape("A100", 8, 80, 96, 1152),
    "ml.p5.48xlarge": Shape("H100", 8, 80, 192, 2048),
}

PRICE_LIST = "pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonSageMaker/current/{region}/index.json"
PAGE = "aws.amazon.com/sagemaker/pricing real-time inference"
LISTED_0927 = (
    f"{PAGE} us-east-1: the AmazonSageMaker price list ({PRICE_LIST.format(region='us-east-1')}) as listed on "
    "2026-09-27 in a public copy ('us-east-1 list prices read on 2026-09-27'; component not stated)"
)
AGREE = "; {n} further public copies of the same page agree"
SAME_USW2 = "; the same figure in a public copy of the us-west-2 price list"
US_EAST_1 = {  # instance: (USD/h, source); every figure as of 2026-09-27, the date the copy states
    "ml.g4dn.xlarge": ("0.7364", LISTED_0927 + "; same in goerlitz/nlp-classification's copy of " + PAGE),
    "ml.g4dn.12xlarge": ("4.89", LISTED_0927 + AGREE.format(n=1)),
    "ml.g5.xlarge": ("1.408", f"{PAGE} us-east-1 (>=2 public copies agree on 1.408); 1.41 in " + LISTED_0927),
    "ml.g5.2xlarge": ("1.515", f"{PAGE} us-east-1 (a public copy checked against the price list in 2026-08); "
                      "1.52 in " + LISTED_0927),  # fmt: skip
    "ml.g5.4xlarge": ("2.03", LISTED_0927 + SAME_USW2),
    "ml.g5.8xlarge": ("3.06", LISTED_0927 + SAME_USW2),
    "ml.g5.12xlarge": ("7.09", LISTED_0927 + AGREE.format(n=">=6")),
    "ml.g5.24xlarge": ("10.18", LISTED_0927 + AGREE.format(n=1)),
    "ml.g5.48xlarge": ("20.36", LISTED_0927 + AGREE.format(n=">=5")),
    "ml.g6.xlarge": ("1.127", LISTED_0927 + AGREE.format(n=2)),
    "ml.g6.2xlarge": ("1.222", LISTED_0927 + AGREE.format(n=2)),
    "ml.g6.4xlarge": ("1.654", LISTED_0927 + AGREE.format(n=2)),
    "ml.g6.8xlarge": ("2.518", LISTED_0927 + SAME_USW2),
    "ml.g6.12xlarge": ("5.752", LISTED_0927 + AGREE.format(n=1)),
    "ml.g6.24xlarge": ("8.344", LISTED_0927 + AGREE.format(n=1)),
    "ml.g6.48xlarge": ("16.688", LISTED_0927 + AGREE.format(n=1)),
    "ml.g6e.xlarge": ("2.61", LISTED_0927 + "; us-west-2 BatchTransform copy 2.6054"),
    "ml.g6e.2xlarge": ("2.80", LISTED_0927 + AGREE.format(n=1)),
    "ml.g6e.12xlarge": ("13.12", LISTED_0927 + AGREE.format(n=1)),
    "ml.g6e.24xlarge": ("18.83", LISTED_0927 + "; us-west-2 BatchTransform copy 18.8319875"),
    "ml.g6e.48xlarge": ("37.66", LISTED_0927 + "; us-west-2 BatchTransform copy 37.663975"),
    "ml.p4d.24xlarge": ("25.2513", "conflict: 25.2513 vs 37.688; 25.2513 from " + LISTED_0927 + "; 37.688 in older "
                        f"public copies of {PAGE} (before the 2025 EC2 P4/P5 price cut: 37.688 x 0.67 = 25.25)"),
    "ml.p4de.24xlarge": ("31.5641", "single source: " + LISTED_0927 + "; unverified"),
    "ml.p5.48xlarge": ("63.296", "conflict: 63.296 vs 113.068 vs 98.32; 63.296 from " + LISTED_0927 + "; 113.068 in "
                       f"older public copies of {PAGE} (pre-cut; 113.068 x EC2 cut 55.04/98.32 = 63.30); 98.32 is the "
                       "old EC2 p5.48xlarge price (aws.amazon.com/ec2/pricing/on-demand) mislabelled as SageMaker"),
}  # fmt: skip

US_WEST_2_SOURCE = (
    f"AmazonSageMaker price list us-west-2 ({PRICE_LIST.format(region='us-west-2')}), BatchTransform component, "
    f"via a public copy in a fine-tuning price map (undated, read {READ}); real-time hosting assumed equal "
    "(it is for g5 in us-east-1)"
)
US_WEST_2 = {
    "ml.g5.xlarge": "1.408", "ml.g5.2xlarge": "1.515", "ml.g5.4xlarge": "2.03", "ml.g5.8xlarge": "3.06",
    "ml.g5.12xlarge": "7.09", "ml.g5.24xlarge": "10.18", "ml.g5.48xlarge": "20.36", "ml.g6.xlarge": "1.1267",
    "ml.g6.2xlarge": "1.222", "ml.g6.4xlarge": "1.654", "ml.g6.8xlarge": "2.518", "ml.g6.12xlarge": "5.752",
    "ml.g6.24xlarge": "8.344", "ml.g6.48xlarge": "16.688", "ml.g6e.xlarge": "2.6054", "ml.g6e.2xlarge": "2.8026",
    "ml.g6e.12xlarge": "13.1158", "ml.g6e.24xlarge": "18.8319875", "ml.g6e.48xlarge": "37.663975",
}  # fmt: skip

# EC2 g5.48xlarge on-demand eu-west-1 / us-east-1, skypilot-org/skypilot-catalog catalogs/v8/aws/vms.csv at commit
# 00148f2af3672e2229b4f7bf8157d5a3f36e3c35 (EC2 price list figures; undated).
EU_WEST_1_RATIO = D("18.18233") / D("16.288")
EU_WEST_1 = ("ml.g5.xlarge", "ml.g5.2xlarge", "ml.g5.12xlarge", "ml.g5.48xlarge")


def rows() -> list[Row]:
    """Return the SageMaker rows of the snapshot."""
    found = []
    for itype, (price, source) in US_EAST_1.items():
        found.append(Row("aws", "sagemaker", "us-east-1", itype, SHAPES[itype], D(price), None, source, "2026-09-27"))
    for itype, price in US_WEST_2.items():
        found.append(Row("aws", "sagemaker", "us-west-2", itype, SHAPES[itype], D(price), None, US_WEST_2_SOURCE,
                         UNDATED))  # fmt: skip
    ratio = EU_WEST_1_RATIO.quantize(D("0.0001"))
    for itype in EU_WEST_1:
        base = D(US_EAST_1[itype][0])
        source = (
            f"derived: us-east-1 SageMaker {base} (as of 2026-09-27) x {ratio} (EC2 g5.48xlarge eu-west-1 18.18233 / "
            "us-east-1 16.288 in skypilot-org/skypilot-catalog catalogs/v8/aws/vms.csv @00148f2a, undated, "
            f"read {READ}); unverified"
        )
        found.append(Row("aws", "sagemaker", "eu-west-1", itype, SHAPES[itype], q4(base * EU_WEST_1_RATIO), None,
                         source, UNDATED))  # fmt: skip
    return found
