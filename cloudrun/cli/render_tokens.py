"""`plan --load`: the per-token plan as a table (throughput, replicas, targets, $ per 1M tokens) and as JSON."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.markup import escape

from cloudrun import throughput
from cloudrun.cli import plan_json, render, tables
from cloudrun.per_token import TokenOption, TokenPlan, closest

COLUMNS = (
    tables.Column("#"), tables.Column("where"), tables.Column("instance"), tables.Column("GPUs", 2),
    tables.Column("TP", 7), tables.Column("rep", right=True), tables.Column("tok/s", right=True),
    tables.Column("TPOT ms", 3, right=True), tables.Column("p50 ms", 4, right=True),
    tables.Column("max conc", 5, right=True), tables.Column("target"), tables.Column("$/h", 6, right=True),
    tables.Column("you pay", 1, right=True), tables.Column("$/Mtok", right=True),
)  # fmt: skip


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def token_option_json(t: TokenOption, gpu_bytes: dict[Decimal, int]) -> dict[str, Any]:
    """Return one option as plan's JSON plus the per-token fields (the names issue 16 fixes)."""
    doc = plan_json.option_json(t.option, gpu_bytes)
    doc.update({
        "replicas": t.replicas,
        "tokens_per_s": None if t.tokens_per_s is None else round(t.tokens_per_s, 1),
        "tpot_ms": None if t.tpot_ms is None else round(t.tpot_ms, 2),
        "latency_p50_ms": None if t.latency_p50_ms is None else round(t.latency_p50_ms, 1),
        "max_concurrency": t.max_concurrency,
        "meets_target": t.meets_target,
        "misses": list(t.misses),
        "usd_per_million_tokens": None if t.usd_per_million_tokens is None else float(t.usd_per_million_tokens),
        "replicas_list_cost_usd": plan_json.money(t.list_cost_usd),
        "replicas_credits_applied_usd": plan_json.money(t.credits_applied_usd),
        "replicas_out_of_pocket_usd": plan_json.money(t.out_of_pocket_usd),
        "decode_bound": t.bound or None,
    })  # fmt: skip
    return doc


def token_plan_json(tp: TokenPlan) -> dict[str, Any]:
    gpu_bytes: dict[Decimal, int] = {}
    doc = plan_json.plan_json(tp.plan)
    doc["options"] = [token_option_json(t, gpu_bytes) for t in tp.options]
    doc.update({
        "rank_by": tp.rank_by,
        "load": {"requests_per_minute": float(tp.load.requests_per_minute), "input_tokens": tp.load.input_tokens,
                 "output_tokens": tp.load.output_tokens},
        "targets": {"latency_p50_ms": None if tp.targets.latency_p50_ms is None else float(tp.targets.latency_p50_ms),
                    "tokens_per_s": None if tp.targets.tokens_per_s is None else float(tp.targets.tokens_per_s)},
        "any_meets_target": any(t.meets_target for t in tp.options),
        "assumptions": throughput.assumptions(),
        "notes": list(tp.notes),
    })  # fmt: skip
    return doc


def _row(i: int, t: TokenOption) -> list[str]:
    o = t.option.offer
    return [str(i), f"{o.service}{' spot' if t.option.spot else ''} {o.region}", o.instance_type,
            f"{o.gpu_count}x {o.gpu_model}", str(t.option.fit.tensor_parallel), str(t.replicas or "-"),
            _number(t.tokens_per_s), _number(t.tpot_ms, 1), _number(t.latency_p50_ms), str(t.max_concurrency),
            "meets" if t.meets_target else "misses", f"{t.option.price_per_hour_usd * max(t.replicas, 1):,.2f}",
            f"{t.out_of_pocket_usd:,.2f}", _number(None if t.usd_per_million_tokens is None
                                                    else float(t.usd_per_million_tokens), 2)]  # fmt: skip


def print_token_plan(
    console: Console, tp: TokenPlan, now: datetime, *, everything: bool = False, explain: bool = False
) -> None:
    """Print the load, the ranked options with their throughput and $ per 1M tokens, the best, and why others miss."""
    need, load = tp.plan.need, tp.load
    rank = "$ per 1M output tokens after credits" if tp.rank_by == "per-token" else "$ per hour after credits"
    console.print(f"[bold]{escape(need.id)}[/bold] {need.precision.value} for {escape(load.describe())} "
                  f"({load.output_tokens_per_s:,.0f} output tokens/s), {tp.plan.hours} h; ranked by {rank}",
                  highlight=False)  # fmt: skip
    for note in tp.notes:
        console.print(f"note: {note}", highlight=False, markup=False)
    if not tp.options:
        console.print("No offer can serve it. Try a lower --precision, a shorter --context, or --all to see why.")
        return
    shown = tp.options if everything else tp.options[: render.SHOWN_BY_DEFAULT]
    rows = [_row(i, t) for i, t in enumerate(shown, start=1)]
    styles = [None if t.meets_target else "dim" for t in shown]
    table, dropped = tables.fitted(console, COLUMNS, rows, styles=styles)
    console.print(table)
    console.print("rep: replicas the load needs; tok/s: output tokens/s they sustain within the targets; $/Mtok: $ per "
                  "1M output tokens after credits", style="dim", highlight=False)  # fmt: skip
    if dropped:
        console.print(f"narrow terminal: {', '.join(dropped)} left out (`--json` has everything)", style="dim")
    _print_verdict(console, tp)
    if explain:
        console.print("[bold]Assumptions[/bold] (cloudrun/throughput.py):")
        for line in throughput.assumptions():
            console.print(f"  - {line}", highlight=False, markup=False)
        console.print("  - $/1M tok = what you pay for the replicas over --hours, after credits, divided by the "
                      "output tokens the load asks for in those hours", highlight=False, markup=False)  # fmt: skip


def _print_verdict(console: Console, tp: TokenPlan) -> None:
    best = next((t for t in tp.options if t.meets_target), None)
    if best is None:
        console.print("[yellow]No option meets the targets.[/yellow] The closest:")
        for t in closest(tp):
            o = t.option.offer
            console.print(f"  {o.service} {o.instance_type} in {o.region}: " + "; ".join(t.misses),
                          highlight=False, markup=False)  # fmt: skip
        return
    o = best.option.offer
    where = escape(f"{o.service} {o.instance_type} in {o.region}")
    title = "Cheapest per token" if tp.rank_by == "per-token" else "Cheapest per hour that meets the targets"
    console.print(f"[bold]{title}:[/bold] {where}, {best.replicas} replica(s): "
                  f"${best.usd_per_million_tokens:,.2f} per 1M output tokens, {best.tokens_per_s:,.0f} tokens/s "
                  f"capacity, {best.tpot_ms:,.1f} ms per output token", highlight=False)  # fmt: skip
    for use in best.credit_uses:
        console.print(f"  paid by {use.grant}: ${use.amount_usd:,.2f}", highlight=False)
