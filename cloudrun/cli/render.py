"""Turn cloudrun models into JSON documents and rich tables. Only the CLI calls this."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from cloudrun import catalog
from cloudrun.models import MemoryNeed, Plan, PlanOption


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
        "prices_oldest_as_of": _oldest_as_of(plan),
        "options": [option_json(o, gpu_bytes) for o in plan.options],
    }


def _oldest_as_of(plan: Plan) -> str | None:
    return catalog.oldest_as_of(option.offer for option in plan.options).isoformat() if plan.options else None


def print_need(console: Console, need: MemoryNeed) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_row("model", f"{need.id} ({need.architecture})")
    table.add_row("parameters", f"{need.params / 1e9:,.2f} B")
    table.add_row("precision", need.precision.value)
    table.add_row("served as", served_as(need))
    table.add_row("weights", gb(need.weights_bytes))
    if need.peak_load_bytes > need.weights_bytes:
        table.add_row("while loading", f"{gb(need.peak_load_bytes)} (vLLM loads the 16-bit weights, then quantizes)")
    table.add_row("KV cache / token", f"{need.kv_bytes_per_token / 1024:,.1f} KiB")
    table.add_row("KV cache", f"{gb(need.kv_cache_bytes)} (context {need.context} x concurrency {need.concurrency})")
    table.add_row("overhead / GPU", gb(need.overhead_bytes_per_gpu))
    table.add_row("required", f"[bold]{gb(need.required_bytes)}[/bold] (on one GPU; split across GPUs in a plan)")
    console.print(table)


def _age(as_of: str, today: date) -> str:
    try:
        days = (today - date.fromisoformat(as_of)).days
    except ValueError:
        return as_of
    return f"{as_of} ({days} d)"


def print_plan(console: Console, plan: Plan, now: datetime) -> None:
    need = plan.need
    console.print(
        f"[bold]{need.id}[/bold] {need.precision.value}: weights {gb(need.weights_bytes)}, "
        f"KV {gb(need.kv_cache_bytes)} (context {need.context} x {need.concurrency}), for {plan.hours} h"
    )
    if need.unservable:
        why = f"[yellow]cannot be served at {need.precision.value}:[/yellow] {need.unservable}"
        console.print(why, highlight=False)
    elif need.method != "16-bit":
        console.print(f"served as {served_as(need)}", highlight=False)
    if not plan.options:
        console.print("No offer can serve it. Try a lower --precision, a shorter --context, or --all to see why.")
        return
    sources: dict[str, int] = {}
    table = Table(title=None, show_lines=False)
    for column in (
        "#",
        "service",
        "region",
        "instance",
        "GPUs",
        "TP",
        "$/h",
        "list",
        "credits",
        "you pay",
        "price as of",
        "src",
    ):
        table.add_column(column, justify="right" if column in {"$/h", "list", "credits", "you pay"} else "left")
    for i, option in enumerate(plan.options, start=1):
        offer = option.offer
        ref = sources.setdefault(offer.source, len(sources) + 1)
        style = None if option.fit.feasible else "dim"
        table.add_row(
            str(i),
            offer.service + (" spot" if option.spot else ""),
            offer.region,
            offer.instance_type,
            f"{offer.gpu_count}x {offer.gpu_model}",
            str(option.fit.tensor_parallel),
            f"{option.price_per_hour_usd:,.3f}",
            f"{option.list_cost_usd:,.2f}",
            f"{option.credits_applied_usd:,.2f}",
            f"{option.out_of_pocket_usd:,.2f}",
            _age(offer.as_of, now.date()),
            f"[{ref}]" + ("" if option.fit.feasible else " dropped"),
            style=style,
        )
    console.print(table)
    _print_best(console, plan.options[0])
    for source, ref in sources.items():
        console.print(f"[{ref}] {source}", style="dim", highlight=False, markup=False)
    _print_price_age(console, plan, now.date())


def _print_price_age(console: Console, plan: Plan, today: date) -> None:
    age = catalog.price_age_days((option.offer for option in plan.options), today)
    line = f"oldest price used: as of {_oldest_as_of(plan)} ({age} days old)"
    if age > catalog.STALE_AFTER_DAYS:
        console.print(f"[yellow]warning:[/yellow] {line}; run `cloudrun catalog refresh` for current prices")
    else:
        console.print(f"[dim]{line}[/dim]", highlight=False)


def _print_best(console: Console, best: PlanOption) -> None:
    if not best.fit.feasible:
        console.print("No offer can serve it; the rows above show why (dim; `--json` has every reason).")
        return
    console.print(f"[bold]Cheapest:[/bold] {best.offer.service} {best.offer.instance_type} in {best.offer.region}")
    for reason in best.reasons:
        console.print(f"  {reason}", highlight=False, markup=False)
    for use in best.credit_uses:
        console.print(f"  paid by {use.grant}: ${use.amount_usd:,.2f} for {use.hours:,.1f} h", highlight=False)
    if best.credit_uses and best.out_of_pocket_usd > 0:
        covered = sum((u.hours for u in best.credit_uses), Decimal(0))
        console.print(f"  you would start paying after {covered:,.1f} h", highlight=False)
