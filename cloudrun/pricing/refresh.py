"""`refresh()`: fetch each provider's prices, validate them, and replace that provider's cache file.

Providers are independent: one whose fetch fails, or yields no valid row, keeps its previous cache and
reports why, and the others are still written. With regions, only those regions are fetched; the
cache keeps its rows for the other regions (each row's `as_of` still says how old it is).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from cloudrun import catalog, catalog_cache
from cloudrun import provider as registry
from cloudrun.errors import CloudrunError, InvalidInput
from cloudrun.models import PROVIDERS, Offer
from cloudrun.pricing.validate import REGIONS, FetchResult, Rejection

Fetcher = Callable[[Sequence[str] | None, date], FetchResult]
Progress = Callable[[str, str], None]


@dataclass
class ProviderReport:
    """How one provider's refresh went: rows written, rows rejected (with reasons), or the error."""

    provider: str
    regions: list[str] | None
    rows_written: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    skipped: int = 0
    error: str | None = None
    cache_file: Path | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class RefreshReport:
    providers: list[ProviderReport]

    @property
    def all_failed(self) -> bool:
        return bool(self.providers) and not any(report.ok for report in self.providers)


def default_fetchers() -> dict[str, Fetcher]:
    """Return each provider's price fetcher (the `cloudrun.prices` entry points), imported only when called."""

    def fetcher(name: str) -> Fetcher:
        def fetch(regions: Sequence[str] | None, today: date) -> FetchResult:
            return registry.hook(registry.PRICES_GROUP, name)(regions, today=today)

        return fetch

    return {name: fetcher(name) for name in registry.registry(registry.PRICES_GROUP)}


def refresh(
    providers: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    *,
    fetchers: Mapping[str, Fetcher] | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> RefreshReport:
    """Return how each provider's refresh went, after writing the cache of every provider that succeeded."""
    now = now or datetime.now(timezone.utc)
    fetchers = {**default_fetchers(), **(fetchers or {})}
    plan = regions_by_provider(providers, regions)
    reports = []
    for provider, provider_regions in plan.items():
        if progress:
            progress(provider, f"fetching {provider} prices ({', '.join(provider_regions or ['all regions'])})")
        report = _refresh_one(provider, provider_regions, fetchers[provider], now)
        if progress:
            outcome = f"{report.rows_written} rows written" if report.ok else "failed"
            progress(provider, f"{provider}: {outcome}")
        reports.append(report)
    return RefreshReport(reports)


def regions_by_provider(providers: Sequence[str] | None, regions: Sequence[str] | None) -> dict[str, list[str] | None]:
    """Return the regions to fetch per provider (None: all); a region must belong to a chosen provider."""
    chosen = list(dict.fromkeys(p.strip().lower() for p in providers)) if providers else list(PROVIDERS)
    unknown = [p for p in chosen if p not in PROVIDERS]
    if unknown:
        raise InvalidInput(f"unknown provider {unknown[0]!r}: choose from {', '.join(PROVIDERS)}")
    if not regions:
        return {provider: None for provider in chosen}
    wanted = [region.strip() for region in regions]
    plan = {p: [r for r in wanted if r in REGIONS[p]] for p in chosen}
    for region in wanted:
        if not any(region in plan[p] for p in chosen):
            raise InvalidInput(f"region {region!r} is not a region of {', '.join(chosen)}", hint="check its spelling")
    return {p: found for p, found in plan.items() if found}


def _refresh_one(provider: str, regions: list[str] | None, fetcher: Fetcher, now: datetime) -> ProviderReport:
    report = ProviderReport(provider, regions)
    try:
        result = fetcher(regions, now.date())
    except ImportError as exc:
        report.error = f"{exc}: install it with `pip install 'cloudrun-llm[{provider}]'`; {_kept(provider)}"
        return report
    except Exception as exc:  # a provider must not take the others down; CloudrunError or a payload we misread
        kind = "" if isinstance(exc, CloudrunError) else f"{type(exc).__name__}: "
        report.error = f"{kind}{exc}; {_kept(provider)}"
        return report
    report.rejected, report.skipped = result.rejected, result.skipped
    if not result.offers:
        report.error = f"no valid price was read; {_kept(provider)}"
        return report
    offers = result.offers + _kept_rows(provider, regions)
    report.cache_file = catalog_cache.write_provider(
        provider, offers, now, rows=len(offers), rejected=len(result.rejected), regions=regions or "all"
    )
    report.rows_written = len(result.offers)
    return report


def _kept(provider: str) -> str:
    """Return what plans use now that this refresh failed: the previous cache, or the bundled snapshot."""
    if catalog_cache.provider_file(provider).is_file():
        return "previous cache kept"
    return "no cache yet: plans keep using the bundled snapshot"


def _kept_rows(provider: str, refreshed: list[str] | None) -> list[Offer]:
    """Return the previous cache's rows for regions this refresh did not fetch."""
    path = catalog_cache.provider_file(provider)
    if refreshed is None or not path.is_file():
        return []
    try:
        previous = catalog.load_csv(path)
    except InvalidInput:
        return []
    return [offer for offer in previous if offer.region not in refreshed]
