"""What the price-fetcher and price-cache tests share: the recorded API answers, the day they run on, a row."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import boto3

from cloudrun.pricing.validate import PriceRow

DATA = Path(__file__).parent / "data" / "pricing"
TODAY = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 8, 30, tzinfo=timezone.utc)


def recorded(name: str) -> dict:
    """Return a recorded API answer under tests/data/pricing."""
    return json.loads((DATA / name).read_text())


def pricing_client():  # noqa: ANN201 - a boto3 client
    """Return a real Price List client (the tests put botocore's Stubber on it)."""
    return boto3.client("pricing", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")


def price_row(provider, region, instance, price, spot=None, gpus=None):  # noqa: ANN001, ANN201
    """Return a fetched price row as a fetcher makes it, from plain values."""
    price = None if price is None else Decimal(price)
    spot = None if spot is None else Decimal(spot)
    return PriceRow(provider, region, instance, price, "test", "2026-11-01", spot, gpus)
