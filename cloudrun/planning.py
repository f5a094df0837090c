"""Planning: how much memory a model needs and where it would run cheapest after credits. Pure but for reading
the catalog and the credit ledger; nothing here calls a cloud.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from cloudrun import catalog, credits, inputs, scheduler, sizing
from cloudrun.errors import InvalidInput
from cloudrun.plain import CreditGrant, MemoryNeed, Plan, Precision

if TYPE_CHECKING:  # the per-token path is imported when it is asked for: a plain `plan` does not pay for it
    from cloudrun import per_token
    from cloudrun.inputs.load import Load


def size(
    model: str | None,
    *,
    precision: Precision | str | None = None,
    context: int | None = None,
    concurrency: int = 1,
    config: Path | None = None,
    quantized_model: str | None = None,
) -> MemoryNeed:
    """Return the memory a model needs to serve `context` tokens to `concurrency` requests at once.

    `quantized_model` names a pre-quantized checkpoint of the model (AWQ, GPTQ, FP8, ...) to serve instead: the
    weights are sized from its own quantization config.
    """
    return sizing.need(model, precision=precision, context=context, concurrency=concurrency, config_path=config,
                       quantized_model=quantized_model)  # fmt: skip


def plan(
    model: str | None,
    *,
    precision: Precision | str | None = None,
    context: int | None = None,
    concurrency: int = 1,
    config: Path | None = None,
    quantized_model: str | None = None,
    hours: float | str | Decimal = 24,
    providers: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    spot: bool = False,
    catalog_file: Path | None = None,
    credits_file: Path | None = None,
    grants: Sequence[CreditGrant] | None = None,
    include_infeasible: bool = False,
    now: datetime | None = None,
) -> Plan:
    """Return every placement for the model, ranked by out-of-pocket cost after credits.

    `providers` and `regions` keep only those; `exclude` leaves whole providers out.
    """
    run_hours = inputs.hours(hours)
    need = size(model, precision=precision, context=context, concurrency=concurrency, config=config,
                quantized_model=quantized_model)  # fmt: skip
    offers = catalog.offers(catalog_path=catalog_file, providers=providers, regions=regions, exclude=exclude)
    now = now or datetime.now(timezone.utc)
    return scheduler.rank(
        need,
        offers,
        resolve_grants(credits_file, grants, now),
        hours=run_hours,
        now=now,
        spot=spot,
        include_infeasible=include_infeasible,
        catalog_source=str(catalog_file) if catalog_file else "bundled snapshot",
    )


def plan_per_token(
    model: str | None,
    *,
    load: Load,
    targets: per_token.Targets | None = None,
    rank_by: str = "per-token",
    credits_file: Path | None = None,
    grants: Sequence[CreditGrant] | None = None,
    now: datetime | None = None,
    notes: Sequence[str] = (),
    **plan_options: object,
) -> per_token.TokenPlan:
    """Return every placement priced per million output tokens of `load` after credits, ranked by `rank_by`.

    `plan_options` are `plan`'s (precision, context, hours, providers, spot, ...): the same offers, fitted and
    served the same way; each option then gets its throughput, the replicas the load needs and the targets' verdict.
    """
    from cloudrun import per_token

    now = now or datetime.now(timezone.utc)
    chosen = resolve_grants(credits_file, grants, now)
    tokens = load.input_tokens + load.output_tokens
    derived = plan_options.get("context") is None
    if derived:  # the fit then asks room for one whole request of the load, as the per-token sizing does
        plan_options["context"] = tokens
    try:
        ranked = plan(model, grants=chosen, now=now, **plan_options)  # type: ignore[arg-type]
    except InvalidInput as err:
        if derived and err.message.startswith("context "):
            raise InvalidInput(f"--load asks for {tokens:,} tokens a request ({load.input_tokens:,} in + "
                               f"{load.output_tokens:,} out): {err.message}",
                               hint="shorten the requests in --load") from err  # fmt: skip
        raise
    return per_token.price(ranked, load, targets or per_token.Targets(), chosen, now, rank_by=rank_by, notes=notes)


def resolve_grants(
    credits_file: Path | None, grants: Sequence[CreditGrant] | None, now: datetime
) -> Sequence[CreditGrant]:
    """Return the grants to plan with: those given, a credits file's, or the ledger's net of running burn."""
    if grants is not None:
        return grants
    if credits_file:
        return credits.load_grants(credits_file)
    from cloudrun.state import database  # light: which database, not the store

    if not database.exists():
        return []  # no state yet (no file, no database URL): no ledger, and planning creates none
    from cloudrun.credits import ledger  # the state store and the deployment records: only when there is one

    return ledger.grants_for_planning(now)
