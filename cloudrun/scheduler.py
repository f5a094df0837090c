"""Pure placement ranking: does the model fit each offer, and what does each cost after credits.

No I/O here: data in, plan out. `blocked` leaves out placements known not to work (SkyPilot's
`blocked_resources`). Each option's cost after credits is computed on its own, so ranking again without a
placement that failed would give the same order minus that one: the deployer's failover therefore walks
the ranked list once, in order, instead of re-ranking after each failure.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal

from cloudrun import serving
from cloudrun.credits import usable_grants
from cloudrun.credits.curve import CreditCurve
from cloudrun.plain import CreditGrant, Fit, MemoryNeed, Offer, Plan, PlanOption

# vLLM reserves this share of each GPU's memory for weights, activations and KV cache (its default
# --gpu-memory-utilization); the rest is headroom for the CUDA context and fragmentation.
GPU_MEMORY_UTILIZATION = Decimal("0.90")
SPOT_RISK = ("spot: the VMs can be reclaimed (preempted) at any time; the deployment then fails with a STOCKOUT "
             "error and Vertex restarts it up to six times (cloud.google.com/vertex-ai/docs/predictions/use-spot-vms); "
             "needs the preemptible serving GPU quota")  # fmt: skip

Placement = tuple[str, str, str]  # (provider, region, instance_type)


def tensor_parallel_degree(need: MemoryNeed, gpu_count: int) -> int:
    """Return the largest tensor-parallel degree <= gpu_count that vLLM accepts for this model.

    vLLM needs it to divide the attention heads, and the KV heads either to be divisible by it or
    to divide it (then KV heads are replicated).
    """
    # A degree above the head count cannot divide it: the search is bounded by the model, whatever count an offer
    # claims (a catalog row's 20-digit gpu_count once looped here for minutes).
    for degree in range(min(gpu_count, need.attention_heads), 0, -1):
        if need.attention_heads % degree:
            continue
        kv = need.kv_heads
        if kv is None or kv % degree == 0 or degree % kv == 0:
            return degree
    return 1


def _gb(n: Decimal | int) -> str:
    return f"{Decimal(n) / 1_000_000_000:.1f} GB"


def fit(need: MemoryNeed, offer: Offer) -> Fit:
    """Return whether `need` fits on `offer`'s GPUs, at which tensor-parallel degree, and why."""
    tp = tensor_parallel_degree(need, offer.gpu_count)
    usable = Decimal(offer.gpu_memory_bytes) * GPU_MEMORY_UTILIZATION
    weights = Decimal(need.weights_bytes) / tp
    # KV heads are split across GPUs; beyond the KV head count (and always for MLA) they are replicated.
    kv_shards = min(tp, need.kv_heads) if need.kv_heads else 1
    kv = Decimal(need.kv_cache_bytes) / kv_shards
    overhead = Decimal(need.overhead_bytes_per_gpu)
    total = weights + kv + overhead
    loading = Decimal(need.peak_load_bytes) / tp
    reasons: list[str] = []
    if tp < offer.gpu_count:
        reasons.append(
            f"TP={tp}: vLLM needs it to divide the {need.attention_heads} attention heads; "
            f"{offer.gpu_count - tp} of {offer.gpu_count} GPUs idle"
        )
    budget = f"{_gb(usable)} usable per GPU ({GPU_MEMORY_UTILIZATION:.0%} of {_gb(offer.gpu_memory_bytes)})"
    if weights + overhead > usable:
        reasons.append(f"weights {_gb(weights)} + overhead {_gb(overhead)} per GPU exceed {budget} at TP={tp}")
        return Fit(feasible=False, tensor_parallel=tp, reasons=tuple(reasons))
    if loading + overhead > usable:  # vLLM's in-flight fp8 loads the 16-bit weights first (fp8.md)
        reasons.append(f"while loading, the 16-bit weights ({_gb(loading)} per GPU) + overhead exceed {budget} at "
                       f"TP={tp}: vLLM quantizes to fp8 only after loading them")  # fmt: skip
        return Fit(feasible=False, tensor_parallel=tp, reasons=tuple(reasons))
    if total > usable:
        room = (usable - weights - overhead) * kv_shards
        max_context = int(room / (need.kv_bytes_per_token * need.concurrency))
        reasons.append(
            f"KV cache for context {need.context} x concurrency {need.concurrency} ({_gb(kv)} per GPU) "
            f"does not fit beside the weights in {budget}; at most context {max_context} would"
        )
        return Fit(feasible=False, tensor_parallel=tp, reasons=tuple(reasons))
    reasons.append(
        f"fits at TP={tp}: {_gb(total)} of {budget} (weights {_gb(weights)}, KV {_gb(kv)} for "
        f"context {need.context} x concurrency {need.concurrency}, overhead {_gb(overhead)})"
    )
    return Fit(feasible=True, tensor_parallel=tp, reasons=tuple(reasons))


def _servable(need: MemoryNeed, offer: Offer, memory: Fit) -> Fit:
    """Return the memory fit joined with whether the provider's image can serve the model on this GPU, and how."""
    how = serving.verdict(need, offer.provider, offer.region, offer.gpu_model)
    if isinstance(how, str):
        return Fit(feasible=False, tensor_parallel=memory.tensor_parallel, reasons=(*memory.reasons, how))
    notes = list(how.notes)
    warning = serving.startup_warning(need, offer.provider, offer.gpu_count)
    if warning:
        notes.append(warning)
    return Fit(feasible=memory.feasible, tensor_parallel=memory.tensor_parallel,
               reasons=(*memory.reasons, *notes), serving=how)  # fmt: skip


def _option(offer: Offer, spot: bool, offer_fit: Fit, hours: Decimal, payer: CreditCurve) -> PlanOption:
    price = offer.spot_price_per_hour_usd if spot else offer.price_per_hour_usd
    assert price is not None
    list_cost = price * hours
    applied = payer.applied(price)
    return PlanOption(
        offer=offer,
        spot=spot,
        fit=offer_fit,
        price_per_hour_usd=price,
        hours=hours,
        list_cost_usd=list_cost,
        credits_applied_usd=applied,
        out_of_pocket_usd=list_cost - applied,
        reasons=offer_fit.reasons + ((SPOT_RISK,) if spot else ()),
        payer=payer,
    )


def sort_key(option: PlanOption) -> tuple:
    """The ranking order: out-of-pocket, then list cost, then fewer GPUs (then stable by name)."""
    o = option.offer
    return (
        option.out_of_pocket_usd,
        option.list_cost_usd,
        o.gpu_count,
        o.provider,
        o.region,
        o.instance_type,
        option.spot,
    )


def rank(
    need: MemoryNeed,
    offers: Sequence[Offer],
    grants: Sequence[CreditGrant],
    *,
    hours: Decimal,
    now: datetime,
    spot: bool = False,
    include_infeasible: bool = False,
    blocked: Collection[Placement] = (),
    catalog_source: str = "",
) -> Plan:
    """Return every option ranked by the rule in `sort_key`; feasible options first."""
    options: list[PlanOption] = []
    fits: dict[tuple[int, Decimal], Fit] = {}  # the memory fit depends only on the GPUs; offers share few shapes
    served: dict[tuple[str, str, str, int, Decimal], Fit] = {}  # and serving on provider, region, GPU model
    payers: dict[tuple[str, str], CreditCurve] = {}  # what credit pays, per provider and service (one class)
    for offer in offers:
        if (offer.provider, offer.region, offer.instance_type) in blocked:
            continue
        shape = (offer.gpu_count, offer.gpu_memory_gb)
        if shape not in fits:
            fits[shape] = fit(need, offer)
        key = (offer.provider, offer.region, offer.gpu_model, *shape)
        if key not in served:
            served[key] = _servable(need, offer, fits[shape])
        offer_fit = served[key]
        if not offer_fit.feasible and not include_infeasible:
            continue
        payer_key = (offer.provider, offer.service)
        if payer_key not in payers:
            payers[payer_key] = CreditCurve(usable_grants(grants, offer, now), hours, now)
        choices = [False, True] if spot and offer.spot_price_per_hour_usd is not None else [False]
        for is_spot in choices:
            options.append(_option(offer, is_spot, offer_fit, hours, payers[payer_key]))
    options.sort(key=lambda opt: (not opt.fit.feasible, *sort_key(opt)))
    return Plan(need=need, hours=hours, options=tuple(options), catalog_source=catalog_source)
