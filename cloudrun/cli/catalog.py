"""`cloudrun catalog refresh` and `cloudrun catalog show`: the price cache, from the providers' price APIs.

Only `refresh` touches the network, and it imports the price fetchers (and their SDKs) when it runs.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from cloudrun import catalog
from cloudrun.models import Offer
from cloudrun.terminal import JsonOpt, app, err, errors_to_exit, out, print_json, split_values

catalog_app = typer.Typer(help="The price catalog: refresh it from the providers' price APIs, show it.")
app.add_typer(catalog_app, name="catalog")

ProviderOpt = typer.Option(None, "--provider", help="aws, gcp or azure (repeatable; default all).")
RegionOpt = typer.Option(None, "--region", help="Only these regions (repeatable).")
SHOWN_REJECTIONS = 20


@catalog_app.command()
@errors_to_exit
def refresh(provider: list[str] | None = ProviderOpt, region: list[str] | None = RegionOpt, as_json: bool = JsonOpt):
    """Fetch current prices from the providers' price APIs into the local cache the planner prefers."""
    from cloudrun.pricing.refresh import refresh as run_refresh

    report = run_refresh(
        split_values(provider),
        split_values(region),
        progress=None if as_json else lambda _provider, message: err.print(message, highlight=False, markup=False),
    )
    if as_json:
        print_json({"providers": [_report_json(item) for item in report.providers]})
    else:
        for item in report.providers:
            _print_report(item)
    if report.all_failed:
        raise typer.Exit(1)


@catalog_app.command()
@errors_to_exit
def show(
    provider: list[str] | None = ProviderOpt,
    region: list[str] | None = RegionOpt,
    gpu: str | None = typer.Option(None, "--gpu", help="Only this GPU model, e.g. H100 or A100 (any case)."),
    as_json: bool = JsonOpt,
):
    """The offers the planner would use, with each price's source and age."""
    today = datetime.now(timezone.utc).date()
    found = catalog.offers(providers=split_values(provider), regions=split_values(region))
    if gpu:
        found = [offer for offer in found if offer.gpu_model.lower() == gpu.strip().lower()]
    if as_json:
        print_json({"catalog": catalog.source_label(), "offers": [_offer_json(offer, today) for offer in found]})
        return
    out.print(f"prices from {catalog.source_label()}", highlight=False)
    table = Table()
    for column in ("provider", "region", "instance", "GPUs", "$/h", "spot $/h", "as of", "age (d)", "source"):
        justify = "right" if column in {"$/h", "spot $/h", "age (d)"} else "left"
        table.add_column(column, justify=justify, no_wrap=True, overflow="ellipsis", max_width=60)
    for offer in found:
        spot = offer.spot_price_per_hour_usd
        table.add_row(
            offer.provider,
            offer.region,
            offer.instance_type,
            f"{offer.gpu_count}x {offer.gpu_model}",
            f"{offer.price_per_hour_usd:,.3f}",
            "" if spot is None else f"{spot:,.3f}",
            offer.as_of,
            _age_text(offer, today),
            offer.source,
            style="yellow" if _is_old(offer, today) else None,
        )
    out.print(table)
    out.print(f"{len(found)} offers", highlight=False)


def _age(offer: Offer, today: date) -> int | None:
    """Return the offer's age in days; None when its price is undated."""
    return catalog.age_days(offer.as_of, today)


def _age_text(offer: Offer, today: date) -> str:
    age = _age(offer, today)
    return "?" if age is None else str(age)


def _is_old(offer: Offer, today: date) -> bool:
    """Return whether the price is older than the stale limit; an undated price counts as old."""
    age = _age(offer, today)
    return age is None or age > catalog.STALE_AFTER_DAYS


def _offer_json(offer: Offer, today: date) -> dict[str, Any]:
    spot = offer.spot_price_per_hour_usd
    return {
        "provider": offer.provider,
        "service": offer.service,
        "region": offer.region,
        "instance_type": offer.instance_type,
        "gpu_model": offer.gpu_model,
        "gpu_count": offer.gpu_count,
        "gpu_memory_gb": float(offer.gpu_memory_gb),
        "price_per_hour_usd": float(offer.price_per_hour_usd),
        "spot_price_per_hour_usd": None if spot is None else float(spot),
        "source": offer.source,
        "as_of": offer.as_of,
        "age_days": _age(offer, today),
    }


def _report_json(item: Any) -> dict[str, Any]:
    return {
        "provider": item.provider,
        "ok": item.ok,
        "regions": item.regions,
        "rows_written": item.rows_written,
        "skipped": item.skipped,
        "error": item.error,
        "cache_file": str(item.cache_file) if item.cache_file else None,
        "rejected": [{"instance_type": r.instance_type, "region": r.region, "reason": r.reason} for r in item.rejected],
    }


def _print_report(item: Any) -> None:
    if item.ok:
        out.print(f"[green]{item.provider}[/green]: {item.rows_written} offers written to {item.cache_file}")
    else:
        out.print(f"[red]{item.provider}[/red]: {escape(str(item.error))}", highlight=False)
    if item.rejected:
        out.print(f"  {len(item.rejected)} rows rejected:", highlight=False)
    for rejection in item.rejected[:SHOWN_REJECTIONS]:
        out.print(f"    {rejection}", highlight=False, markup=False)
    if len(item.rejected) > SHOWN_REJECTIONS:
        out.print(f"    ... and {len(item.rejected) - SHOWN_REJECTIONS} more (see --json)", highlight=False)
