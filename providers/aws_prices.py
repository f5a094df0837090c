"""SageMaker real-time hosting prices from the AWS Price List API (boto3 `pricing.get_products`).

Service prices, not EC2's: ServiceCode AmazonSageMaker, productFamily "ML Instance", component "Hosting"
(usagetype like "USE1-Host:ml.g5.xlarge"). The API has endpoints in us-east-1 and ap-south-1 only; the
region of the price is the product's `regionCode` attribute. Each PriceList entry is a JSON string
holding `product.attributes` and `terms.OnDemand.<term>.priceDimensions.<dim>.pricePerUnit.USD`.
Needs AWS credentials allowed `pricing:GetProducts`.

Calls: through aws_client.AwsSession, like the adapter's (AWS's one error table, `cloudrun.retry`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from cloudrun.pricing import shapes, validate
from cloudrun.pricing.validate import FetchResult, PriceRow
from cloudrun.provider import ClientFactory

from .aws_client import AwsSession

PRICING_REGION = "us-east-1"
SERVICE_CODE = "AmazonSageMaker"
API_LABEL = "aws price list AmazonSageMaker"
_HOSTING_FILTERS = (
    {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "ML Instance"},
    {"Type": "TERM_MATCH", "Field": "component", "Value": "Hosting"},
)

_GPU_FAMILIES = ("ml.g", "ml.p")  # when the product states no `gpu` attribute


def fetch(
    regions: Sequence[str] | None = None,
    *,
    client_factory: ClientFactory | None = None,
    today: date | None = None,
) -> FetchResult:
    """Return the SageMaker hosting offers of the given regions (all when None), validated, and the rejects."""
    session = AwsSession(client_factory)
    as_of = (today or date.today()).isoformat()
    known = shapes.for_provider("aws")
    rows: list[PriceRow] = []
    skipped = 0
    for region in regions or [None]:
        for product in _products(session, region):
            row = _to_row(product, as_of)
            if row is None or (row.instance_type not in known and not _looks_like_gpu(row)):
                skipped += 1  # a CPU instance (ml.m5.large ...) or not an hourly instance price
                continue
            rows.append(row)
    result = validate.check(rows, known)
    result.skipped = skipped
    return result


def _products(session: AwsSession, region: str | None) -> Iterator[dict]:
    """Yield every hosting product (parsed JSON) of one region, following NextToken."""
    filters = list(_HOSTING_FILTERS)
    if region:
        filters.append({"Type": "TERM_MATCH", "Field": "regionCode", "Value": region})
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"ServiceCode": SERVICE_CODE, "Filters": filters, "FormatVersion": "aws_v1"}
        if token:
            kwargs["NextToken"] = token
        page = session.call("pricing", PRICING_REGION, "get_products", kwargs)
        for entry in page.get("PriceList", []):
            yield json.loads(entry, parse_float=Decimal) if isinstance(entry, str) else entry
        token = page.get("NextToken")
        if not token:
            return


def _to_row(product: dict, as_of: str) -> PriceRow | None:
    """Return the row a Price List product stands for, or None when it is not an hourly instance price."""
    attributes = product.get("product", {}).get("attributes", {})
    usage_type = attributes.get("usagetype", "")
    instance = attributes.get("instanceName") or usage_type.partition("Host:")[2]
    if not instance.startswith("ml.") or "Host:" not in usage_type:
        return None
    sku = product.get("product", {}).get("sku", "?")
    return PriceRow(
        provider="aws",
        region=attributes.get("regionCode", ""),
        instance_type=instance,
        price_per_hour_usd=_hourly_usd(product),
        source=f"{API_LABEL} {attributes.get('regionCode', '')} sku {sku} ({usage_type})",
        as_of=as_of,
        reported_gpu_count=_count(attributes.get("gpu")),
    )


def _hourly_usd(product: dict) -> Decimal | None:
    """Return the one on-demand USD price per hour, or None when there is not exactly one."""
    prices = [
        Decimal(str(dimension.get("pricePerUnit", {}).get("USD")))
        for term in product.get("terms", {}).get("OnDemand", {}).values()
        for dimension in term.get("priceDimensions", {}).values()
        if dimension.get("unit", "").lower() in {"hrs", "hours"} and "USD" in dimension.get("pricePerUnit", {})
    ]
    return prices[0] if len(prices) == 1 else None


def _looks_like_gpu(row: PriceRow) -> bool:
    """Return whether an instance type not in the shape table has GPUs, so that it is reported, not skipped."""
    if row.reported_gpu_count is not None:
        return row.reported_gpu_count > 0
    return row.instance_type.startswith(_GPU_FAMILIES)


def _count(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None
