"""A plan and a model's memory need as JSON documents: the `--json` output of `size` and `plan` (and the base of
`plan --load`'s). Free of rich, so `plan --json` never imports it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cloudrun import catalog
from cloudrun.plain import MemoryNeed, Plan, PlanOption


def money(value: Decimal) -> float:
    """Return a Decimal amount as a JSON number (the nearest float; amounts are kept to the micro-dollar)."""
    return float(value)


def gb(n: int | Decimal) -> str:
    return f"{Decimal(n) / 1_000_000_000:,.1f} GB"


def need_json(need: MemoryNeed) -> dict[str, Any]:
    return {
        "id": need.id,
        "architecture": need.architecture,
        "params": need.params,
        "precision": need.precision.value,
        "weights_bytes": need.weights_bytes,
        "kv_bytes_per_token": need.kv_bytes_per_token,
        "context": need.context,
        "concurrency": need.concurrency,
        "required_bytes": need.required_bytes,
        "max_context": need.max_context,
        "overhead_bytes_per_gpu": need.overhead_bytes_per_gpu,
        "served_as": need.method or None,
        "checkpoint": need.loaded_checkpoint,
        "load_bytes": need.peak_load_bytes,
        "download_bytes": need.download_bytes or need.weights_bytes,
        "unservable": need.unservable or None,
    }


SERVED_AS = {
    "16-bit": "the checkpoint's own 16-bit weights",
    "fp8": "the checkpoint's own FP8 weights",
    "fp8-dynamic": "fp8, quantized by vLLM as it loads (the 16-bit weights are loaded first)",
    "bitsandbytes-dynamic": "bitsandbytes 4-bit, quantized by vLLM as it loads",
    "awq": "a pre-quantized AWQ checkpoint",
    "gptq": "a pre-quantized GPTQ checkpoint",
    "compressed-tensors": "a pre-quantized compressed-tensors checkpoint",
    "bitsandbytes": "a pre-quantized bitsandbytes checkpoint",
}


def served_as(need: MemoryNeed) -> str:
    """Return how the weights will be served, in words (or why they cannot be)."""
    if need.unservable:
        return f"cannot be served: {need.unservable}"
    what = SERVED_AS.get(need.method, need.method)
    return what if need.loaded_checkpoint == need.id else f"{what}: {need.loaded_checkpoint}"


def serving_json(option: PlanOption) -> dict[str, Any] | None:
    how = option.fit.serving
    if how is None:
        return None
    return {"dtype": how.dtype, "quantization": how.quantization, "checkpoint": how.checkpoint}


def option_json(option: PlanOption, gpu_bytes: dict[Decimal, int] | None = None) -> dict[str, Any]:
    """Return one plan option as JSON; `gpu_bytes` memoises GB -> bytes across a plan's many options."""
    offer = option.offer
    memo = gpu_bytes if gpu_bytes is not None else {}
    if offer.gpu_memory_gb not in memo:
        memo[offer.gpu_memory_gb] = offer.gpu_memory_bytes
    return {
        "provider": offer.provider,
        "service": offer.service,
        "region": offer.region,
        "instance_type": offer.instance_type,
        "gpu_model": offer.gpu_model,
        "gpu_count": offer.gpu_count,
        "gpu_memory_bytes": memo[offer.gpu_memory_gb],
        "tensor_parallel": option.fit.tensor_parallel,
        "spot": option.spot,
        "price_per_hour_usd": money(option.price_per_hour_usd),
        "hours": float(option.hours),
        "list_cost_usd": money(option.list_cost_usd),
        "credits_applied_usd": money(option.credits_applied_usd),
        "out_of_pocket_usd": money(option.out_of_pocket_usd),
        "feasible": option.fit.feasible,
        "serving": serving_json(option),
        "reasons": list(option.reasons),
        "price_source": offer.source,
        "price_as_of": offer.as_of,
        "paid_by": [
            {"grant": u.grant, "amount_usd": money(u.amount_usd), "hours": round(float(u.hours), 4)}
            for u in option.credit_uses
        ],
    }


def plan_json(plan: Plan) -> dict[str, Any]:
    gpu_bytes: dict[Decimal, int] = {}
    return {
        "model": need_json(plan.need),
        "hours": float(plan.hours),
        "catalog": plan.catalog_source,
        "prices_oldest_as_of": oldest_as_of(plan),
        "options": [option_json(o, gpu_bytes) for o in plan.options],
    }


def oldest_as_of(plan: Plan) -> str | None:
    """Return the oldest price's date, "undated" when one has no date, None when the plan has no option."""
    return catalog.oldest_label(option.offer for option in plan.options) if plan.options else None
