"""One row of a price catalog CSV: the columns, and the strict checks that turn a row into an Offer.

A wrong price or a mislabelled service silently picks the wrong cloud, so every field is checked and a bad one
raises FieldError naming it (cloudrun.catalog adds the file and the row). docs/catalog.md describes the format.
"""

from __future__ import annotations

import functools
import re
from datetime import date
from decimal import Decimal, InvalidOperation

from cloudrun.errors import InvalidInput
from cloudrun.inputs import bounds
from cloudrun.plain import PROVIDERS, SERVICES, Offer
from cloudrun.regions import REGIONS

COLUMNS: tuple[str, ...] = (
    "provider",
    "service",
    "region",
    "instance_type",
    "gpu_model",
    "gpu_count",
    "gpu_memory_gb",
    "vcpus",
    "memory_gb",
    "price_per_hour_usd",
    "spot_price_per_hour_usd",
    "source",
    "as_of",
)

# Only Vertex AI online prediction can run a deployment on spot capacity (cloud.google.com/vertex-ai/docs/predictions/
# use-spot-vms; no spot option in the SageMaker CreateEndpointConfig or Azure ML managed online deployment schemas):
# a spot price for SageMaker real-time or Azure managed online endpoints would rank an option nobody can deploy.
SPOT_SERVICES = frozenset({"vertex"})

# The `as_of` of a figure whose publication date is unknown. An empty `as_of` in a file means the same. The day a
# copy was read is never its date: an undated price is shown as "undated" and counts as old.
UNDATED = "undated"

# What the clouds are sent (instance types) or shown (GPU models): ASCII names, as every price list spells them.
_INSTANCE_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_GPU_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,31}")
HINT = "see docs/catalog.md for the format"


class FieldError(ValueError):
    """One row is wrong, in one field when `field` is set; catalog.load_csv adds the file and row."""

    def __init__(self, problem: str, field: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.field = field


def check_header(name: str, header: list[str]) -> None:
    found = [column.strip() for column in header]
    if tuple(found) == COLUMNS:
        return
    missing = [column for column in COLUMNS if column not in found]
    extra = [column for column in found if column not in COLUMNS]
    problems = [f"missing {', '.join(missing)}"] if missing else []
    problems += [f"unexpected {', '.join(extra)}"] if extra else []
    if not problems:
        problems = ["columns are repeated or out of order"]
    raise InvalidInput(
        f"{name} line 1: the header does not match the catalog format ({'; '.join(problems)})",
        hint=f"expected: {','.join(COLUMNS)}",
    )


def parse_row(cells: list[str], latest: date) -> Offer:
    if len(cells) != len(COLUMNS):
        raise FieldError(f"has {len(cells)} fields, expected {len(COLUMNS)} (is a comma unquoted?)")
    row = dict(zip(COLUMNS, [cell.strip() for cell in cells], strict=True))
    provider, service = row["provider"], row["service"]
    if provider not in PROVIDERS:
        raise FieldError(f"{provider!r} is not one of {', '.join(PROVIDERS)}", "provider")
    if service != SERVICES[provider]:
        raise FieldError(f"{service!r} does not match provider {provider} (expected {SERVICES[provider]})", "service")
    if _text(row, "region") not in REGIONS[provider]:
        raise FieldError(f"{row['region']!r} is not one of {provider}'s regions (made up, misspelt, or not ASCII)",
                          "region")  # fmt: skip
    gpu_count, gpu_memory_gb, vcpus, memory_gb = _shape(row["gpu_count"], row["gpu_memory_gb"], row["vcpus"],
                                                        row["memory_gb"])  # fmt: skip
    price = _price(row, "price_per_hour_usd", gpu_count)
    return Offer(
        provider=provider,
        service=service,
        region=row["region"],
        instance_type=_name(row, "instance_type", _INSTANCE_TYPE),
        gpu_model=_name(row, "gpu_model", _GPU_MODEL),
        gpu_count=gpu_count,
        gpu_memory_gb=gpu_memory_gb,
        vcpus=vcpus,
        memory_gb=memory_gb,
        price_per_hour_usd=price,
        spot_price_per_hour_usd=_spot(row, service, price, gpu_count),
        source=_source(row),
        as_of=_as_of(row, latest),
    )


_SHAPE_FIELDS = ("gpu_count", "gpu_memory_gb", "vcpus", "memory_gb")


@functools.lru_cache(maxsize=4096)  # a catalog repeats few shapes over many regions: check each once
def _shape(gpu_count: str, gpu_memory_gb: str, vcpus: str, memory_gb: str) -> tuple[int, Decimal, int, Decimal]:
    """Return an instance's GPUs, GPU memory, vCPUs and host memory, each within its bound (bounds.py says why)."""
    row = dict(zip(_SHAPE_FIELDS, (gpu_count, gpu_memory_gb, vcpus, memory_gb), strict=True))
    return (
        _count(row, "gpu_count", bounds.MAX_GPU_COUNT),
        _positive(row, "gpu_memory_gb", bounds.MIN_GPU_MEMORY_GB, bounds.MAX_GPU_MEMORY_GB),
        _count(row, "vcpus", bounds.MAX_VCPUS),
        _positive(row, "memory_gb", bounds.MIN_MEMORY_GB, bounds.MAX_MEMORY_GB),
    )


def _text(row: dict[str, str], field: str) -> str:
    if not row[field]:
        raise FieldError("is empty", field)
    return row[field]


def _name(row: dict[str, str], field: str, pattern: re.Pattern[str]) -> str:
    value = _text(row, field)
    if not pattern.fullmatch(value):
        raise FieldError(f"{value[:40]!r} is not a name the clouds use (ASCII letters, digits, '.', '_', '-')", field)
    return value


def _source(row: dict[str, str]) -> str:
    value = _text(row, "source")
    if len(value) > bounds.MAX_SOURCE_CHARS or not value.isprintable():
        raise FieldError(f"must be printable text of at most {bounds.MAX_SOURCE_CHARS} characters", "source")
    return value


def _positive(row: dict[str, str], field: str, low: Decimal, high: Decimal) -> Decimal:
    """Return the field as a number from `low` to `high` (bounds.py says why each is where it is)."""
    value = _text(row, field)
    try:
        number = Decimal(value) if value.isascii() and len(value) <= 32 else None
    except InvalidOperation:
        number = None
    if number is None:
        raise FieldError(f"{value[:40]!r} is not a number", field)
    if not number.is_finite() or number <= 0:
        raise FieldError(f"{value!r} must be a number greater than 0", field)
    if not low <= number <= high:
        raise FieldError(f"{value!r} is not between {low} and {high}: a unit error or a typo", field)
    return number


def _price(row: dict[str, str], field: str, gpu_count: int) -> Decimal:
    """Return a price an hour: at least a tenth of a cent, at most $500 a GPU (the rule `catalog refresh` keeps)."""
    return _positive(row, field, bounds.MIN_USD_PER_HOUR, bounds.MAX_USD_PER_GPU_HOUR * gpu_count)


def _count(row: dict[str, str], field: str, high: int) -> int:
    value = _text(row, field)
    if not (value.isascii() and value.isdigit()) or (len(value) <= 6 and int(value) < 1):
        raise FieldError(f"{value[:40]!r} must be a whole number of at least 1", field)
    if len(value) > 6 or int(value) > high:
        raise FieldError(f"{value[:40]!r} must be a whole number of at most {high}", field)
    return int(value)


def _spot(row: dict[str, str], service: str, price: Decimal, gpu_count: int) -> Decimal | None:
    field = "spot_price_per_hour_usd"
    if not row[field]:
        return None
    spot = _price(row, field, gpu_count)
    if service not in SPOT_SERVICES:
        raise FieldError(f"{service} endpoints have no spot capacity; leave it empty", field)
    if spot > price:
        raise FieldError(f"spot price {spot} is above the on-demand price {price} (a data error)", field)
    return spot


def _as_of(row: dict[str, str], latest: date) -> str:
    """Return the publication date as YYYY-MM-DD, or "undated" for an empty or "undated" field."""
    value = row["as_of"]
    if value in ("", UNDATED):
        return UNDATED
    parsed = _day(value)
    if parsed is None:
        raise FieldError(f"{value[:40]!r} is not an ISO date (YYYY-MM-DD) or {UNDATED!r}", "as_of")
    if not bounds.EARLIEST.date() <= parsed <= latest:
        raise FieldError(f"{value} is not a date a price was published on (from {bounds.EARLIEST:%Y} to today)",
                          "as_of")  # fmt: skip
    return parsed.isoformat()


@functools.lru_cache(maxsize=256)  # a catalog has few distinct dates: parse each once
def _day(value: str) -> date | None:
    # Python 3.11+ also accepts forms like 20261128; the file format is YYYY-MM-DD only.
    if len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None
