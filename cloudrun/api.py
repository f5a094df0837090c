"""The library façade: what the CLI, and users' own scripts, call.

Each function takes plain values, raises `cloudrun.errors` exceptions, and never prints or exits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

from cloudrun import catalog, credits, scheduler, sizing
from cloudrun.errors import InvalidInput
from cloudrun.models import CreditGrant, MemoryNeed, Plan, Precision


def size(
    model: str | None,
    *,
    precision: Precision | str | None = None,
    context: int | None = None,
    concurrency: int = 1,
    config: Path | None = None,
) -> MemoryNeed:
    """Return the memory a model needs to serve `context` tokens to `concurrency` requests at once."""
    return sizing.need(model, precision=precision, context=context, concurrency=concurrency, config_path=config)


def to_hours(value: float | str | Decimal) -> Decimal:
    """Return a positive number of hours as a Decimal, or raise InvalidInput."""
    try:
        hours = Decimal(str(value))
    except InvalidOperation as exc:
        raise InvalidInput(f"--hours {value!r} is not a number") from exc
    if not hours.is_finite() or hours <= 0:
        raise InvalidInput(f"--hours must be a positive number of hours, not {value}")
    return hours


def plan(
    model: str | None,
    *,
    precision: Precision | str | None = None,
    context: int | None = None,
    concurrency: int = 1,
    config: Path | None = None,
    hours: float | str | Decimal = 24,
    providers: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    spot: bool = False,
    catalog_file: Path | None = None,
    credits_file: Path | None = None,
    grants: Sequence[CreditGrant] | None = None,
    include_infeasible: bool = False,
    now: datetime | None = None,
) -> Plan:
    """Return every placement for the model, ranked by out-of-pocket cost after credits."""
    run_hours = to_hours(hours)
    need = size(model, precision=precision, context=context, concurrency=concurrency, config=config)
    offers = catalog.offers(catalog_path=catalog_file, providers=providers, regions=regions)
    if grants is None:
        grants = credits.load_grants(credits_file) if credits_file else []
    return scheduler.rank(
        need,
        offers,
        grants,
        hours=run_hours,
        now=now or datetime.now(timezone.utc),
        spot=spot,
        include_infeasible=include_infeasible,
        catalog_source=str(catalog_file) if catalog_file else "bundled snapshot",
    )
