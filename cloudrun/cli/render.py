"""Turn a plan and a model's memory need into rich tables (their JSON: cloudrun.cli.plan_json). Only the CLI calls
this."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cloudrun import catalog
from cloudrun.cli import tables
from cloudrun.cli.plan_json import gb, oldest_as_of, served_as
from cloudrun.plain import MemoryNeed, Plan, PlanOption


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
        days = catalog.age_days(as_of, today)
    except ValueError:
        return as_of
    return as_of if days is None else f"{as_of} ({days} d)"


PLAN_COLUMNS = (
    tables.Column("#"), tables.Column("where"), tables.Column("instance"), tables.Column("GPUs", 2),
    tables.Column("TP", 6), tables.Column("$/h", right=True), tables.Column("list", 5, right=True),
    tables.Column("credits", 4, right=True), tables.Column("you pay", right=True), tables.Column("price as of", 3),
)  # fmt: skip
SHOWN_BY_DEFAULT = 10


def print_plan(console: Console, plan: Plan, now: datetime, *, everything: bool = False, sources: bool = False) -> None:
    """Print the model's need, the cheapest options (all with `everything`), the best one, and where prices are from.

    `sources` numbers each option's price source and lists them; otherwise one line says how many and how old.
    """
    need = plan.need
    console.print(
        f"[bold]{escape(need.id)}[/bold] {need.precision.value}: weights {gb(need.weights_bytes)}, "
        f"KV {gb(need.kv_cache_bytes)} (context {need.context} x {need.concurrency}), for {plan.hours} h"
    )
    if need.unservable:
        why = f"[yellow]cannot be served at {need.precision.value}:[/yellow] {escape(need.unservable)}"
        console.print(why, highlight=False)
    elif need.method != "16-bit":
        console.print(f"served as {served_as(need)}", highlight=False, markup=False)
    if not plan.options:
        console.print("No offer can serve it. Try a lower --precision, a shorter --context, or --all to see why.")
        return
    shown = plan.options if everything else plan.options[:SHOWN_BY_DEFAULT]
    refs: dict[str, int] = {}
    columns = [*PLAN_COLUMNS, *([tables.Column("src", 1)] if sources else [])]
    rows = [_plan_row(i, option, now.date()) + ([_ref(refs, option)] if sources else [])
            for i, option in enumerate(shown, start=1)]  # fmt: skip
    styles = [None if option.fit.feasible else "dim" for option in shown]
    table, dropped = tables.fitted(console, columns, rows, styles=styles)
    console.print(table)
    if len(shown) < len(plan.options):
        console.print(f"the {len(shown)} cheapest of {len(plan.options)} options; `--all` lists every offer, "
                      "those the model does not fit too", style="dim", highlight=False)  # fmt: skip
    if dropped:
        console.print(f"narrow terminal: {', '.join(dropped)} left out (`--json` has everything)", style="dim")
    _print_best(console, plan.options[0])
    if sources:
        for source, ref in refs.items():
            console.print(f"[{ref}] {source}", style="dim", highlight=False, markup=False)
    _print_price_age(console, plan, now.date(), len({o.offer.source for o in plan.options}), sources)


def _plan_row(i: int, option: PlanOption, today: date) -> list[str]:
    offer = option.offer
    return [str(i), f"{offer.service}{' spot' if option.spot else ''} {offer.region}", offer.instance_type,
            f"{offer.gpu_count}x {offer.gpu_model}", str(option.fit.tensor_parallel),
            f"{option.price_per_hour_usd:,.3f}", f"{option.list_cost_usd:,.2f}", f"{option.credits_applied_usd:,.2f}",
            f"{option.out_of_pocket_usd:,.2f}" + ("" if option.fit.feasible else " (does not fit)"),
            _age(offer.as_of, today)]  # fmt: skip


def _ref(refs: dict[str, int], option: PlanOption) -> str:
    return f"[{refs.setdefault(option.offer.source, len(refs) + 1)}]"


def _print_price_age(console: Console, plan: Plan, today: date, count: int, listed: bool) -> None:
    offers = [option.offer for option in plan.options]
    age = catalog.price_age_days(offers, today)
    where = "" if listed else f"; {count} price sources, `--sources` lists them"
    oldest = "undated (its age is unknown)" if age is None else f"as of {oldest_as_of(plan)} ({age} days old)"
    line = f"oldest price used: {oldest}{where}"
    if catalog.is_stale(offers, today):
        console.print(f"[yellow]warning:[/yellow] {line}; run `cloudrun catalog refresh` for current prices")
    else:
        console.print(f"[dim]{line}[/dim]", highlight=False)


def _print_best(console: Console, best: PlanOption) -> None:
    if not best.fit.feasible:
        console.print("No offer can serve it; the rows above show why (dim; `--json` has every reason).")
        return
    where = escape(f"{best.offer.service} {best.offer.instance_type} in {best.offer.region}")
    console.print(f"[bold]Cheapest:[/bold] {where}")
    for reason in best.reasons:
        console.print(f"  {reason}", highlight=False, markup=False)
    for use in best.credit_uses:
        console.print(f"  paid by {use.grant}: ${use.amount_usd:,.2f} for {use.hours:,.1f} h", highlight=False)
    if best.credit_uses and best.out_of_pocket_usd > 0:
        covered = sum((u.hours for u in best.credit_uses), Decimal(0))
        console.print(f"  you would start paying after {covered:,.1f} h", highlight=False)
