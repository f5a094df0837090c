"""`cloudrun compare`: buy GPUs or rent endpoints, for the same load, over months. Pure but for reading the catalog
and the credit ledger (through cloudrun.planning); the arithmetic is cloudrun.tco's.

The local box is sized with the same throughput model and the same replica rule as `plan --load`
(cloudrun.per_token.size_replicas): if one box cannot carry the load, the comparison buys as many as it needs.
The cloud lines are the cheapest options of `plan --load` that meet the targets: on demand, on spot (where the
service has it), and after credits (the option whose cost over the whole horizon, credits applied, is lowest).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from cloudrun import per_token, planning, scheduler, tco, throughput
from cloudrun.credits import usable_grants
from cloudrun.errors import InvalidInput
from cloudrun.inputs.load import Load
from cloudrun.plain import CreditGrant, MemoryNeed, Offer, Precision

MAX_MONTHS = 120  # ten years: past that no GPU is still worth running


@dataclass(frozen=True)
class LocalBox:
    spec: throughput.GpuSpec
    gpus: int
    tensor_parallel: int
    replicas: per_token.Replicas
    fit_reason: str


@dataclass(frozen=True)
class Comparison:
    need: MemoryNeed
    load: Load
    targets: per_token.Targets
    months: int
    box: LocalBox
    local: tco.LocalCosts
    clouds: tuple[tco.CloudCosts, ...]
    lines: tuple[tco.Line, ...]
    notes: tuple[str, ...]


def compare(
    model: str | None,
    *,
    local_spec: throughput.GpuSpec,
    local_gpus: int,
    months: int,
    hardware_usd: Decimal,
    kwh_usd: Decimal,
    load: Load,
    targets: per_token.Targets | None = None,
    power_w: Decimal | None = None,
    upkeep_usd_per_year: Decimal = Decimal(0),
    residual_pct: Decimal = Decimal(0),
    precision: Precision | str | None = None,
    config: Path | None = None,
    quantized_model: str | None = None,
    providers: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    catalog_file: Path | None = None,
    credits_file: Path | None = None,
    grants: Sequence[CreditGrant] | None = None,
    now: datetime | None = None,
) -> Comparison:
    """Return local vs cloud costs for `load` over `months`, month by month, with the break-even months."""
    if not 1 <= months <= MAX_MONTHS:
        raise InvalidInput(f"--months {months} must be from 1 to {MAX_MONTHS}")
    now = now or datetime.now(timezone.utc)
    targets = targets or per_token.Targets()
    context = load.input_tokens + load.output_tokens
    need = planning.size(model, precision=precision, context=context, config=config, quantized_model=quantized_model)
    box = _local_box(need, local_spec, local_gpus, load, targets)
    notes = [f"local: {m}" for m in box.replicas.misses]
    if power_w is None:
        if not local_spec.tdp_w:
            raise InvalidInput(f"the board power of {local_spec.gpu_model} is not known", hint="pass --power-w WATTS")
        power_w = Decimal(local_gpus * local_spec.tdp_w + tco.HOST_POWER_W)
        notes.append(f"power: {local_gpus} x {local_spec.tdp_w} W (datasheet maximum) + {tco.HOST_POWER_W} W host, "
                     "around the clock; --power-w for your own figure")  # fmt: skip
    local = tco.LocalCosts(boxes=box.replicas.count, hardware_usd=hardware_usd, power_w=power_w, kwh_usd=kwh_usd,
                           upkeep_usd_per_year=upkeep_usd_per_year, residual_pct=residual_pct)  # fmt: skip
    if box.replicas.count > 1:
        notes.append(f"one box carries {box.replicas.ceiling.tokens_per_s:,.0f} tokens/s: the load needs "
                     f"{box.replicas.count}, each bought, powered and kept")  # fmt: skip
    chosen = planning.resolve_grants(credits_file, grants, now)
    month = tco.HOURS_PER_MONTH
    ranked = planning.plan_per_token(model, load=load, targets=targets, grants=chosen, now=now, hours=month,
                                     precision=precision, context=context, config=config,
                                     quantized_model=quantized_model, providers=providers, regions=regions,
                                     exclude=exclude, spot=True, catalog_file=catalog_file)  # fmt: skip
    clouds, cloud_notes = _cloud_lines(ranked, chosen, now, months)
    if clouds and not clouds[-1].grants:
        cloud_notes.append("no credit (ledger or --credits) pays for these options: 'after credits' is the list price")
    return Comparison(need=need, load=load, targets=targets, months=months, box=box, local=local,
                      clouds=tuple(clouds), lines=tuple(tco.lines(local, clouds, months)),
                      notes=tuple(notes + cloud_notes))  # fmt: skip


def _local_box(
    need: MemoryNeed, spec: throughput.GpuSpec, gpus: int, load: Load, targets: per_token.Targets
) -> LocalBox:
    offer = Offer(provider="local", service="local", region="local", instance_type=f"{gpus}x {spec.gpu_model}",
                  gpu_model=spec.gpu_model, gpu_count=gpus, gpu_memory_gb=spec.memory_gb, vcpus=0,
                  memory_gb=Decimal(0), price_per_hour_usd=Decimal(0), spot_price_per_hour_usd=None,
                  source=spec.source, as_of="")  # fmt: skip
    memory = scheduler.fit(need, offer)
    where = f"{gpus}x {spec.gpu_model}"
    if not memory.feasible:
        raise InvalidInput(f"{need.id} at {need.precision.value} does not fit on {where}: {memory.reasons[-1]}",
                           hint="try --precision fp8 or int4, or more GPUs in --local")  # fmt: skip
    demand = per_token.demand_requests_per_s(load, targets)
    sized = per_token.size_replicas(need, spec, memory.tensor_parallel, load, targets, demand, where)
    if isinstance(sized, str):
        raise InvalidInput(f"{need.id} cannot serve this load on {where}: {sized}",
                           hint="try --precision fp8 or int4, or more GPUs in --local")  # fmt: skip
    return LocalBox(spec=spec, gpus=gpus, tensor_parallel=memory.tensor_parallel, replicas=sized,
                    fit_reason=memory.reasons[-1])  # fmt: skip


def _cloud_lines(
    ranked: per_token.TokenPlan, grants: Sequence[CreditGrant], now: datetime, months: int
) -> tuple[list[tco.CloudCosts], list[str]]:
    priced = [t for t in ranked.options if t.usd_per_million_tokens is not None and t.option.fit.feasible]
    meeting = [t for t in priced if t.meets_target]
    notes = []
    if not meeting and priced:
        notes.append("no cloud option meets the targets: the cloud lines show the cheapest ones anyway")
    pool = meeting or priced

    def costs(t: per_token.TokenOption, label: str, with_credits: bool) -> tco.CloudCosts:
        o = t.option.offer
        usable = tuple(usable_grants(grants, o, now)) if with_credits else ()
        where = f"{t.replicas}x {o.service}{' spot' if t.option.spot else ''} {o.instance_type} in {o.region}"
        price = t.option.price_per_hour_usd
        return tco.CloudCosts(label=label, where=where, replicas=t.replicas, price_per_hour_usd=price, grants=usable,
                              start=now)  # fmt: skip

    clouds = []
    on_demand = [t for t in pool if not t.option.spot]
    if on_demand:
        clouds.append(costs(min(on_demand, key=lambda t: t.option.price_per_hour_usd * t.replicas), "cloud on-demand",
                            with_credits=False))  # fmt: skip
    spot = [t for t in pool if t.option.spot]
    if spot:
        clouds.append(costs(min(spot, key=lambda t: t.option.price_per_hour_usd * t.replicas), "cloud spot",
                            with_credits=False))  # fmt: skip
    else:
        notes.append("no spot option: of the three services only Vertex AI runs endpoints on spot VMs")
    if pool:
        candidates = [costs(t, "cloud after credits", with_credits=True) for t in pool]
        clouds.append(min(candidates, key=lambda c: c.cumulative(months)))
    else:
        notes.append("no cloud option can serve this model and load")
    return clouds, notes
