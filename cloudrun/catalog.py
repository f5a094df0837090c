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
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path

from cloudrun import catalog_cache
from cloudrun.errors import InvalidInput
from cloudrun.models import PROVIDERS, SERVICES, Offer

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

# Only Vertex AI online prediction can run a deployment on spot capacity (cloud-facts §2): a spot price
# for SageMaker real-time or Azure managed online endpoints would rank an option nobody can deploy.
SPOT_SERVICES = frozenset({"vertex"})

# `plan` warns when the oldest price it used is older than this (`price_age_days`).
STALE_AFTER_DAYS = 30


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
    reader = csv.reader(io.StringIO(_read_text(Path(path), name), newline=""))
    header = next(reader, None)
    if header is None:
        raise InvalidInput(f"{name} is empty", hint=f"the first line must be: {','.join(COLUMNS)}")
    _check_header(name, header)
    found: list[Offer] = []
    first_row: dict[tuple[str, str, str], int] = {}
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        row = len(found) + 1
        where = f"{name} row {row} (line {reader.line_num})"
        try:
            offer = _parse_row(cells)
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
        return f"{BUNDLED_LABEL} (oldest price as of {oldest_as_of(bundled()).isoformat()})"
    parts = [f"price cache {catalog_cache.provider_file(p)} (refreshed {t:%Y-%m-%d}) for {p}" for p, t in fresh.items()]
    rest = [provider for provider in PROVIDERS if provider not in fresh]
    if rest:
        parts.append(f"{BUNDLED_LABEL} for {', '.join(rest)}")
    return f"{'; '.join(parts)} (oldest price as of {oldest_as_of(default_offers()).isoformat()})"


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
    if providers:
        wanted = _check_providers(providers)
        found = [offer for offer in found if offer.provider in wanted]
    if exclude:
        unwanted = _check_providers(exclude)
        found = [offer for offer in found if offer.provider not in unwanted]
    if regions:
        wanted_regions = _check_regions(regions, found, providers)
        found = [offer for offer in found if offer.region in wanted_regions]
    return found


def oldest_as_of(offers: Iterable[Offer]) -> date:
    """Return the date of the oldest price among these offers, to show how stale a plan may be."""
    # as_of is validated YYYY-MM-DD, so parse each distinct value once (a big catalog has few).
    dates = [date.fromisoformat(as_of) for as_of in {offer.as_of for offer in offers}]
    if not dates:
        raise InvalidInput("no offers to date", hint="check the --catalog file and the provider/region filters")
    return min(dates)


def price_age_days(offers: Iterable[Offer], today: date) -> int:
    """Return how many days old the oldest of these prices is on `today` (0 for a price dated today)."""
    return (today - oldest_as_of(offers)).days


def _check_providers(providers: Sequence[str]) -> set[str]:
    wanted = {provider.strip().lower() for provider in providers}
    unknown = sorted(wanted - set(PROVIDERS))
    if unknown:
        raise InvalidInput(f"unknown provider {unknown[0]!r}: choose from {', '.join(PROVIDERS)}")
    return wanted


def _check_regions(regions: Sequence[str], found: list[Offer], providers: Sequence[str] | None) -> set[str]:
    wanted = {region.strip() for region in regions}
    known = sorted({offer.region for offer in found})
    unknown = sorted(wanted.difference(known))
    if unknown:
        scope = f" for {', '.join(providers)}" if providers else ""
        raise InvalidInput(f"region {unknown[0]!r} is not in the catalog{scope}: known regions are {', '.join(known)}")
    return wanted


def _read_text(path: Path, name: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidInput(f"catalog file {name} does not exist", hint="check the --catalog path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read catalog file {name}: {exc}") from None


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


def _parse_row(cells: list[str]) -> Offer:
    if len(cells) != len(COLUMNS):
        raise _FieldError(f"has {len(cells)} fields, expected {len(COLUMNS)} (is a comma unquoted?)")
    row = dict(zip(COLUMNS, [cell.strip() for cell in cells], strict=True))
    provider, service = row["provider"], row["service"]
    if provider not in PROVIDERS:
        raise _FieldError(f"{provider!r} is not one of {', '.join(PROVIDERS)}", "provider")
    if service != SERVICES[provider]:
        raise _FieldError(f"{service!r} does not match provider {provider} (expected {SERVICES[provider]})", "service")
    price = _positive(row, "price_per_hour_usd")
    return Offer(
        provider=provider,
        service=service,
        region=_text(row, "region"),
        instance_type=_text(row, "instance_type"),
        gpu_model=_text(row, "gpu_model"),
        gpu_count=_count(row, "gpu_count"),
        gpu_memory_gb=_positive(row, "gpu_memory_gb"),
        vcpus=_count(row, "vcpus"),
        memory_gb=_positive(row, "memory_gb"),
        price_per_hour_usd=price,
        spot_price_per_hour_usd=_spot(row, service, price),
        source=_text(row, "source"),
        as_of=_iso_date(row, "as_of").isoformat(),
    )


def _text(row: dict[str, str], field: str) -> str:
    if not row[field]:
        raise _FieldError("is empty", field)
    return row[field]


def _positive(row: dict[str, str], field: str) -> Decimal:
    value = _text(row, field)
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise _FieldError(f"{value!r} is not a number", field) from None
    if not number.is_finite() or number <= 0:
        raise _FieldError(f"{value!r} must be a number greater than 0", field)
    return number


def _count(row: dict[str, str], field: str) -> int:
    value = _text(row, field)
    if not value.isdigit() or int(value) < 1:
        raise _FieldError(f"{value!r} must be a whole number of at least 1", field)
    return int(value)


def _spot(row: dict[str, str], service: str, price: Decimal) -> Decimal | None:
    field = "spot_price_per_hour_usd"
    if not row[field]:
        return None
    spot = _positive(row, field)
    if service not in SPOT_SERVICES:
        raise _FieldError(f"{service} endpoints have no spot capacity; leave it empty", field)
    if spot > price:
        raise _FieldError(f"spot price {spot} is above the on-demand price {price} (a data error)", field)
    return spot


def _iso_date(row: dict[str, str], field: str) -> date:
    value = _text(row, field)
    try:
        parsed: date | None = date.fromisoformat(value)
    except ValueError:
        parsed = None
    # Python 3.11+ also accepts forms like 20261128; the file format is YYYY-MM-DD only.
    if parsed is None or len(value) != 10:
        raise _FieldError(f"{value!r} is not an ISO date (YYYY-MM-DD)", field)
    return parsed
