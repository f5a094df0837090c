"""The price catalog: dated GPU offers of the managed inference services, read from a CSV snapshot.

The bundled snapshot `cloudrun/data/offers.csv` is the default; `cloudrun plan --catalog FILE` reads
another file with the same columns (docs/catalog.md). Files are parsed strictly: a wrong price or a
mislabelled service silently picks the wrong cloud, so any bad field stops the load with a message
naming the file, the row and the field. Money is Decimal; `as_of` says how old each figure is.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from cloudrun import catalog_cache, inputs
from cloudrun.errors import InvalidInput
from cloudrun.inputs import bounds, files
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

SNAPSHOT_PACKAGE = "cloudrun.data"
SNAPSHOT_NAME = "offers.csv"
BUNDLED_LABEL = "bundled snapshot offers.csv"

# Only Vertex AI online prediction can run a deployment on spot capacity (cloud.google.com/vertex-ai/docs/predictions/
# use-spot-vms; no spot option in the SageMaker CreateEndpointConfig or Azure ML managed online deployment schemas):
# a spot price for SageMaker real-time or Azure managed online endpoints would rank an option nobody can deploy.
SPOT_SERVICES = frozenset({"vertex"})

# `plan` warns when the oldest price it used is older than this (`price_age_days`), or undated.
STALE_AFTER_DAYS = 30

# The `as_of` of a figure whose publication date is unknown. An empty `as_of` in a file means the same. The day a
# copy was read is never its date: an undated price is shown as "undated" and counts as old.
UNDATED = "undated"

# What the clouds are sent (instance types) or shown (GPU models): ASCII names, as every price list spells them.
_INSTANCE_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_GPU_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,31}")
_HINT = "see docs/catalog.md for the format"


class _FieldError(ValueError):
    """One row is wrong, in one field when `field` is set; load_csv adds the file and row."""

    def __init__(self, problem: str, field: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.field = field


def load_csv(path: Path | str, *, label: str | None = None) -> list[Offer]:
    """Return the offers in a catalog CSV file, or raise InvalidInput naming the file, row and field.

    Rows are counted from 1 after the header ("row 1" is line 2); messages give both.
    """
    name = label or str(path)
    data = files.read_bounded(path, "catalog file", bounds.MAX_CATALOG_BYTES, "check the --catalog path")
    reader = csv.reader(io.StringIO(files.decode(data, f"catalog file {name}", _HINT), newline=""))
    try:
        return _read_rows(reader, name)
    except csv.Error as exc:  # a field past the csv module's size limit, a NUL byte: not a catalog
        raise InvalidInput(f"{name} line {reader.line_num}: {exc}", hint=_HINT) from None


def _read_rows(reader: Any, name: str) -> list[Offer]:
    """Return the offers of a csv reader over a catalog file (`reader.line_num` names the line of a bad row)."""
    header = next(reader, None)
    if header is None:
        raise InvalidInput(f"{name} is empty", hint=f"the first line must be: {','.join(COLUMNS)}")
    _check_header(name, header)
    found: list[Offer] = []
    first_row: dict[tuple[str, str, str], int] = {}
    latest = datetime.now(timezone.utc).date() + timedelta(days=1)  # a day's slack for clocks and time zones
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        row = len(found) + 1
        where = f"{name} row {row} (line {reader.line_num})"
        try:
            offer = _parse_row(cells, latest)
        except _FieldError as exc:
            field = f", field {exc.field}" if exc.field else ""
            raise InvalidInput(f"{where}{field}: {exc.problem}") from None
        key = (offer.provider, offer.region, offer.instance_type)
        if key in first_row:
            raise InvalidInput(f"{where}: duplicate offer {' '.join(key)} (first given in row {first_row[key]})")
        first_row[key] = row
        found.append(offer)
    if not found:
        raise InvalidInput(f"{name} has a header but no offers")
    return found


def bundled() -> list[Offer]:
    """Return the offers of the snapshot shipped with cloudrun (read and validated once per process)."""
    return list(_bundled())


@functools.cache
def _bundled() -> tuple[Offer, ...]:
    snapshot = resources.files(SNAPSHOT_PACKAGE).joinpath(SNAPSHOT_NAME)
    with resources.as_file(snapshot) as path:
        return tuple(load_csv(path, label=BUNDLED_LABEL))


def snapshot_path() -> Path | None:
    """Return the catalog file used when no --catalog is given; None means the default catalog.

    The default catalog is the bundled snapshot, with each provider's rows taken from its refreshed
    cache under CLOUDRUN_HOME instead when that cache is newer (`default_offers()`, `cached_providers()`).
    """
    return None


def cached_providers() -> dict[str, datetime]:
    """Return the providers whose refreshed cache is newer than their newest bundled price, with its time.

    Newer means refreshed on or after the day of the snapshot's newest `as_of` for that provider (a live
    read beats copies read that same day), so a cloudrun release with a newer snapshot wins over an
    older cache. Reads local files only.
    """
    newest: dict[str, date] = {}
    for offer in bundled():
        if offer.as_of == UNDATED:
            continue
        as_of = date.fromisoformat(offer.as_of)
        newest[offer.provider] = max(as_of, newest.get(offer.provider, as_of))
    fresh = {}
    for provider in PROVIDERS:
        stamp = catalog_cache.refreshed_at(provider)
        if stamp is not None and (provider not in newest or stamp.date() >= newest[provider]):
            fresh[provider] = stamp
    return fresh


def default_offers() -> list[Offer]:
    """Return the default catalog: per provider, its refreshed cache when newer, else the bundled snapshot."""
    fresh = cached_providers()
    found = [offer for offer in bundled() if offer.provider not in fresh]
    for provider in fresh:
        path = catalog_cache.provider_file(provider)
        found += [offer for offer in load_csv(path, label=str(path)) if offer.provider == provider]
    return found


def source_label(catalog_path: Path | None = None) -> str:
    """Return a one-line description of where `offers(catalog_path=...)` reads its prices from."""
    path = catalog_path or snapshot_path()
    if path is not None:
        return str(path)
    fresh = cached_providers()
    if not fresh:
        return f"{BUNDLED_LABEL} (oldest price as of {oldest_label(bundled())})"
    parts = [f"price cache {catalog_cache.provider_file(p)} (refreshed {t:%Y-%m-%d}) for {p}" for p, t in fresh.items()]
    rest = [provider for provider in PROVIDERS if provider not in fresh]
    if rest:
        parts.append(f"{BUNDLED_LABEL} for {', '.join(rest)}")
    return f"{'; '.join(parts)} (oldest price as of {oldest_label(default_offers())})"


def offers(
    *,
    catalog_path: Path | None = None,
    providers: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
) -> list[Offer]:
    """Return the catalog's offers (the given file, else the snapshot), filtered by provider and region.

    `exclude` leaves out whole providers (`plan --exclude aws`: e.g. one whose quota was refused).
    """
    path = catalog_path or snapshot_path()
    found = load_csv(path) if path is not None else default_offers()
    wanted, unwanted = inputs.providers(providers), inputs.providers(exclude, "--exclude")
    if wanted:
        found = [offer for offer in found if offer.provider in wanted]
    if unwanted:
        found = [offer for offer in found if offer.provider not in unwanted]
    if regions:
        wanted_regions = _check_regions(regions, found, providers)
        found = [offer for offer in found if offer.region in wanted_regions]
    return found


def oldest_as_of(offers: Iterable[Offer]) -> date | None:
    """Return the date of the oldest price among these offers; None when one is undated (its age is unknown,
    so it counts as the oldest)."""
    # as_of is validated YYYY-MM-DD or "undated", so parse each distinct value once (a big catalog has few).
    stamps = {offer.as_of for offer in offers}
    if not stamps:
        raise InvalidInput("no offers to date", hint="check the --catalog file and the provider/region filters")
    if UNDATED in stamps:
        return None
    return min(date.fromisoformat(as_of) for as_of in stamps)


def oldest_label(offers: Iterable[Offer]) -> str:
    """Return the oldest price's date as YYYY-MM-DD, or "undated" when one of these prices has no date."""
    oldest = oldest_as_of(offers)
    return UNDATED if oldest is None else oldest.isoformat()


def price_age_days(offers: Iterable[Offer], today: date) -> int | None:
    """Return how many days old the oldest of these prices is on `today` (0 for today); None when one is undated."""
    oldest = oldest_as_of(offers)
    return None if oldest is None else (today - oldest).days


def is_stale(offers: Iterable[Offer], today: date) -> bool:
    """Return whether the oldest of these prices is older than STALE_AFTER_DAYS or undated (age unknown = old)."""
    age = price_age_days(offers, today)
    return age is None or age > STALE_AFTER_DAYS


def age_days(as_of: str, today: date) -> int | None:
    """Return how many days old one price is on `today`; None when it is undated."""
    return None if as_of == UNDATED else (today - date.fromisoformat(as_of)).days


def _check_regions(regions: Sequence[str], found: list[Offer], providers: Sequence[str] | None) -> set[str]:
    wanted = {region.strip() for region in regions}
    known = sorted({offer.region for offer in found})
    unknown = sorted(wanted.difference(known))
    if unknown:
        scope = f" for {', '.join(providers)}" if providers else ""
        raise InvalidInput(f"region {unknown[0]!r} is not in the catalog{scope}: known regions are {', '.join(known)}")
    return wanted


def _check_header(name: str, header: list[str]) -> None:
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


def _parse_row(cells: list[str], latest: date) -> Offer:
    if len(cells) != len(COLUMNS):
        raise _FieldError(f"has {len(cells)} fields, expected {len(COLUMNS)} (is a comma unquoted?)")
    row = dict(zip(COLUMNS, [cell.strip() for cell in cells], strict=True))
    provider, service = row["provider"], row["service"]
    if provider not in PROVIDERS:
        raise _FieldError(f"{provider!r} is not one of {', '.join(PROVIDERS)}", "provider")
    if service != SERVICES[provider]:
        raise _FieldError(f"{service!r} does not match provider {provider} (expected {SERVICES[provider]})", "service")
    if _text(row, "region") not in REGIONS[provider]:
        raise _FieldError(f"{row['region']!r} is not one of {provider}'s regions (made up, misspelt, or not ASCII)",
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
        raise _FieldError("is empty", field)
    return row[field]


def _name(row: dict[str, str], field: str, pattern: re.Pattern[str]) -> str:
    value = _text(row, field)
    if not pattern.fullmatch(value):
        raise _FieldError(f"{value[:40]!r} is not a name the clouds use (ASCII letters, digits, '.', '_', '-')", field)
    return value


def _source(row: dict[str, str]) -> str:
    value = _text(row, "source")
    if len(value) > bounds.MAX_SOURCE_CHARS or not value.isprintable():
        raise _FieldError(f"must be printable text of at most {bounds.MAX_SOURCE_CHARS} characters", "source")
    return value


def _positive(row: dict[str, str], field: str, low: Decimal, high: Decimal) -> Decimal:
    """Return the field as a number from `low` to `high` (bounds.py says why each is where it is)."""
    value = _text(row, field)
    try:
        number = Decimal(value) if value.isascii() and len(value) <= 32 else None
    except InvalidOperation:
        number = None
    if number is None:
        raise _FieldError(f"{value[:40]!r} is not a number", field)
    if not number.is_finite() or number <= 0:
        raise _FieldError(f"{value!r} must be a number greater than 0", field)
    if not low <= number <= high:
        raise _FieldError(f"{value!r} is not between {low} and {high}: a unit error or a typo", field)
    return number


def _price(row: dict[str, str], field: str, gpu_count: int) -> Decimal:
    """Return a price an hour: at least a tenth of a cent, at most $500 a GPU (the rule `catalog refresh` keeps)."""
    return _positive(row, field, bounds.MIN_USD_PER_HOUR, bounds.MAX_USD_PER_GPU_HOUR * gpu_count)


def _count(row: dict[str, str], field: str, high: int) -> int:
    value = _text(row, field)
    if not (value.isascii() and value.isdigit()) or (len(value) <= 6 and int(value) < 1):
        raise _FieldError(f"{value[:40]!r} must be a whole number of at least 1", field)
    if len(value) > 6 or int(value) > high:
        raise _FieldError(f"{value[:40]!r} must be a whole number of at most {high}", field)
    return int(value)


def _spot(row: dict[str, str], service: str, price: Decimal, gpu_count: int) -> Decimal | None:
    field = "spot_price_per_hour_usd"
    if not row[field]:
        return None
    spot = _price(row, field, gpu_count)
    if service not in SPOT_SERVICES:
        raise _FieldError(f"{service} endpoints have no spot capacity; leave it empty", field)
    if spot > price:
        raise _FieldError(f"spot price {spot} is above the on-demand price {price} (a data error)", field)
    return spot


def _as_of(row: dict[str, str], latest: date) -> str:
    """Return the publication date as YYYY-MM-DD, or "undated" for an empty or "undated" field."""
    value = row["as_of"]
    if value in ("", UNDATED):
        return UNDATED
    parsed = _day(value)
    if parsed is None:
        raise _FieldError(f"{value[:40]!r} is not an ISO date (YYYY-MM-DD) or {UNDATED!r}", "as_of")
    if not bounds.EARLIEST.date() <= parsed <= latest:
        raise _FieldError(f"{value} is not a date a price was published on (from {bounds.EARLIEST:%Y} to today)",
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
