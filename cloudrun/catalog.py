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
from datetime import date, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from cloudrun import catalog_cache, inputs
from cloudrun.catalog_rows import COLUMNS, HINT, UNDATED, FieldError, check_header, parse_row
from cloudrun.errors import InvalidInput
from cloudrun.inputs import bounds, files
from cloudrun.plain import PROVIDERS, Offer

SNAPSHOT_PACKAGE = "cloudrun.data"
SNAPSHOT_NAME = "offers.csv"
BUNDLED_LABEL = "bundled snapshot offers.csv"

# `plan` warns when the oldest price it used is older than this (`price_age_days`), or undated.
STALE_AFTER_DAYS = 30

def load_csv(path: Path | str, *, label: str | None = None) -> list[Offer]:
    """Return the offers in a catalog CSV file, or raise InvalidInput naming the file, row and field.

    Rows are counted from 1 after the header ("row 1" is line 2); messages give both.
    """
    name = label or str(path)
    data = files.read_bounded(path, "catalog file", bounds.MAX_CATALOG_BYTES, "check the --catalog path")
    reader = csv.reader(io.StringIO(files.decode(data, f"catalog file {name}", HINT), newline=""))
    try:
        return _read_rows(reader, name)
    except csv.Error as exc:  # a field past the csv module's size limit, a NUL byte: not a catalog
        raise InvalidInput(f"{name} line {reader.line_num}: {exc}", hint=HINT) from None


def _read_rows(reader: Any, name: str) -> list[Offer]:
    """Return the offers of a csv reader over a catalog file (`reader.line_num` names the line of a bad row)."""
    header = next(reader, None)
    if header is None:
        raise InvalidInput(f"{name} is empty", hint=f"the first line must be: {','.join(COLUMNS)}")
    check_header(name, header)
    found: list[Offer] = []
    first_row: dict[tuple[str, str, str], int] = {}
    latest = datetime.now(timezone.utc).date() + timedelta(days=1)  # a day's slack for clocks and time zones
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        row = len(found) + 1
        where = f"{name} row {row} (line {reader.line_num})"
        try:
            offer = parse_row(cells, latest)
        except FieldError as exc:
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
