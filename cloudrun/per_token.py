"""Cheapest per token, not per hour: a ranked plan's options priced per million tokens of a stated load.

Pure: a `Plan` (cloudrun.scheduler's options: offers that fit, each one instance) and a `Load` in, each option's
throughput (cloudrun.throughput), the replicas the load needs, whether the targets are met and the $ per million
output tokens after credits out. The scheduler is untouched: this post-processes what it ranked.

For each option:
1. the largest concurrency per replica that fits the KV cache and keeps the p50 latency (time to first token:
   the request's own prefill after waiting half a decode step) under `--latency-p50`;
2. its capacity there (requests/s) gives the replicas the load needs;
3. the operating point is the smallest concurrency that carries the load's share per replica;
4. the replicas' cost for the hours, credits applied the scheduler's way (cloudrun.credits.spend), over the output
   tokens the load asks for in those hours.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from cloudrun import throughput
from cloudrun.credits import spend, usable_grants
from cloudrun.inputs.load import Load
from cloudrun.plain import CreditGrant, CreditUse, MemoryNeed, Plan, PlanOption
from cloudrun.scheduler import GPU_MEMORY_UTILIZATION

MAX_REPLICAS = 1000  # more endpoint instances than any quota grants: past this the option is reported as missing
RANK_BY = ("per-token", "per-hour")


@dataclass(frozen=True)
class Targets:
    """What the deployment must achieve: p50 latency (time to first token) and output tokens per second."""

    latency_p50_ms: Decimal | None = None
    tokens_per_s: Decimal | None = None


@dataclass(frozen=True)
class TokenOption:
    option: PlanOption  # the scheduler's option: one instance, its price and fit
    replicas: int
    tokens_per_s: float | None  # output tokens/s the replicas can sustain within the targets
    tpot_ms: float | None  # time per output token at the operating point
    latency_p50_ms: float | None  # time to first token at the operating point
    max_concurrency: int  # requests per replica whose KV cache fits
    meets_target: bool
    misses: tuple[str, ...]  # why the targets are not met (empty when they are)
    list_cost_usd: Decimal
    credits_applied_usd: Decimal
    out_of_pocket_usd: Decimal
    usd_per_million_tokens: Decimal | None
    credit_uses: tuple[CreditUse, ...] = ()
    bound: str = ""


@dataclass(frozen=True)
class TokenPlan:
    plan: Plan
    load: Load
    targets: Targets
    rank_by: str
    options: tuple[TokenOption, ...]
    notes: tuple[str, ...] = field(default=())


def demand_requests_per_s(load: Load, targets: Targets) -> Decimal:
    """Return the requests per second to carry: the load's, raised to meet a --tokens-per-s target if higher."""
    rps = load.requests_per_minute / 60
    if targets.tokens_per_s is not None:
        rps = max(rps, targets.tokens_per_s / load.output_tokens)
    return rps


def price(
    plan: Plan,
    load: Load,
    targets: Targets,
    grants: Sequence[CreditGrant],
    now: datetime,
    *,
    rank_by: str = "per-token",
    notes: Sequence[str] = (),
) -> TokenPlan:
    """Return the plan's options with throughput, replicas, targets and $ per million tokens, ranked by `rank_by`."""
    demand = demand_requests_per_s(load, targets)
    tokens = demand * load.output_tokens * 3600 * plan.hours
    priced = [_price_option(o, plan, load, targets, demand, tokens, grants, now) for o in plan.options]
    if rank_by == "per-token":
        priced.sort(key=_per_token_key)
    return TokenPlan(plan=plan, load=load, targets=targets, rank_by=rank_by, options=tuple(priced), notes=tuple(notes))


def _per_token_key(t: TokenOption) -> tuple:
    unknown = t.usd_per_million_tokens is None
    return (not t.option.fit.feasible, not t.meets_target, unknown, t.usd_per_million_tokens or 0,
            t.list_cost_usd, t.option.offer.gpu_count)  # fmt: skip


@dataclass(frozen=True)
class Replicas:
    """How one kind of replica carries a load: its KV room, its ceiling within the targets, how many, and at what."""

    max_concurrency: int
    ceiling: throughput.Estimate  # one replica at the largest concurrency the targets allow
    operating: throughput.Estimate  # one replica carrying its share of the load
    count: int
    misses: tuple[str, ...]


def size_replicas(
    need: MemoryNeed, spec: throughput.GpuSpec, tensor_parallel: int, load: Load, targets: Targets, demand: Decimal,
    where: str,
) -> Replicas | str:  # fmt: skip
    """Return how replicas of `spec` x `tensor_parallel` carry `demand` requests/s of `load`, or why none can.

    `where` names the hardware in messages (e.g. "8x L4").
    """
    tokens = load.input_tokens + load.output_tokens
    fits = throughput.max_concurrency(need, spec, tensor_parallel, tokens, GPU_MEMORY_UTILIZATION)
    if fits < 1:
        return f"the KV cache of one {tokens}-token request does not fit beside the weights on {where}"

    def at(concurrency: int) -> throughput.Estimate:
        return throughput.estimate(need, spec, tensor_parallel, input_tokens=load.input_tokens,
                                   output_tokens=load.output_tokens, concurrency=concurrency,
                                   utilization=GPU_MEMORY_UTILIZATION)  # fmt: skip

    misses: list[str] = []
    allowed = fits
    if targets.latency_p50_ms is not None:
        allowed = _largest(1, fits, lambda c: _latency_ms(at(c)) <= targets.latency_p50_ms)
        if allowed == 0:
            one, goal = _latency_ms(at(1)), float(targets.latency_p50_ms)
            misses.append(f"p50 latency {one:,.0f} ms even for one request > {goal:,.0f} ms target (prefill of "
                          f"{load.input_tokens} tokens on {where})")  # fmt: skip
            allowed = 1
    ceiling = at(allowed)
    count = max(1, math.ceil(float(demand) / (ceiling.tokens_per_s / load.output_tokens) - 1e-9))
    if count > MAX_REPLICAS:
        misses.append(f"needs {count:,} replicas of {where} (more than {MAX_REPLICAS:,})")
    share = float(demand) / count
    operating = at(_smallest(1, allowed, lambda c: at(c).tokens_per_s / load.output_tokens >= share) or allowed)
    return Replicas(max_concurrency=fits, ceiling=ceiling, operating=operating, count=count, misses=tuple(misses))


def _price_option(
    option: PlanOption, plan: Plan, load: Load, targets: Targets, demand: Decimal, tokens: Decimal,
    grants: Sequence[CreditGrant], now: datetime,
) -> TokenOption:  # fmt: skip
    offer = option.offer
    if not option.fit.feasible:  # listed by --all: the fit's own reason says why
        return _unpriced(option, "; ".join(option.fit.reasons) or "does not fit")
    spec = throughput.gpu_spec(offer.gpu_model, offer.gpu_memory_gb)
    if spec is None:
        return _unpriced(option, f"no datasheet figures for {offer.gpu_model}: add it to cloudrun/data/gpu_specs.csv")
    where = f"{offer.gpu_count}x {offer.gpu_model}"
    sized = size_replicas(plan.need, spec, option.fit.tensor_parallel, load, targets, demand, where)
    if isinstance(sized, str):
        return _unpriced(option, sized)
    hourly = option.price_per_hour_usd * sized.count
    list_cost = hourly * plan.hours
    applied, uses = spend(hourly, plan.hours, usable_grants(grants, offer, now), now)
    out_of_pocket = list_cost - applied
    per_million = (out_of_pocket / tokens * 1_000_000).quantize(Decimal("0.0001")) if tokens > 0 else None
    return TokenOption(
        option=option, replicas=sized.count, tokens_per_s=sized.ceiling.tokens_per_s * sized.count,
        tpot_ms=sized.operating.tpot_ms, latency_p50_ms=_latency_ms(sized.operating),
        max_concurrency=sized.max_concurrency, meets_target=not sized.misses, misses=sized.misses,
        list_cost_usd=list_cost, credits_applied_usd=applied, out_of_pocket_usd=out_of_pocket,
        usd_per_million_tokens=per_million, credit_uses=uses, bound=sized.operating.bound,
    )  # fmt: skip


def _latency_ms(est: throughput.Estimate) -> float:
    """Return the p50 time to first token: half a decode step's wait for the running batch, then the prefill."""
    return est.ttft_ms + est.tpot_ms / 2


def _largest(low: int, high: int, ok) -> int:  # noqa: ANN001 - a predicate over concurrency, monotone: true then false
    """Return the largest n in [low, high] with ok(n), or 0 when ok(low) is false."""
    if not ok(low):
        return 0
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if ok(mid) else (low, mid - 1)
    return low


def _smallest(low: int, high: int, ok) -> int:  # noqa: ANN001 - a predicate over concurrency, monotone: false then true
    """Return the smallest n in [low, high] with ok(n), or 0 when ok(high) is false."""
    if not ok(high):
        return 0
    while low < high:
        mid = (low + high) // 2
        low, high = (low, mid) if ok(mid) else (mid + 1, high)
    return low


def _unpriced(option: PlanOption, why: str) -> TokenOption:
    return TokenOption(
        option=option, replicas=0, tokens_per_s=None, tpot_ms=None, latency_p50_ms=None, max_concurrency=0,
        meets_target=False, misses=(why,), list_cost_usd=option.list_cost_usd,
        credits_applied_usd=option.credits_applied_usd, out_of_pocket_usd=option.out_of_pocket_usd,
        usd_per_million_tokens=None,
    )  # fmt: skip


def closest(token_plan: TokenPlan, n: int = 3) -> list[TokenOption]:
    """Return the `n` options nearest to meeting the targets (when none does): priced ones, fewest misses first."""
    priced = [t for t in token_plan.options if t.usd_per_million_tokens is not None and t.option.fit.feasible]
    if not priced:  # none could even be priced: their reasons are the answer
        return list(token_plan.options[:n])
    return sorted(priced, key=lambda t: (len(t.misses), t.latency_p50_ms or 0, t.usd_per_million_tokens))[:n]
