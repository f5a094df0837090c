"""`cloudrun compare`: the TCO table, a bar chart in the terminal, JSON, and a PNG when matplotlib is installed."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cloudrun import inputs, throughput
from cloudrun.compare import Comparison
from cloudrun.errors import InvalidInput

MAX_W = Decimal(1_000_000)  # a megawatt: far above any box (an 8x H100 server draws about 10 kW)
BAR_WIDTH = 40


def non_negative(value: float, flag: str, unit: str) -> Decimal:
    """Return a flag's amount that may be zero (upkeep), bounded like money."""
    return Decimal(0) if value == 0 else inputs.positive(value, flag, unit)


def percent(value: float, flag: str) -> Decimal:
    """Return a percentage from 0 to 100."""
    return Decimal(0) if value == 0 else inputs.decimal(value, flag, "percent", high=Decimal(100))


def _usd(value: Decimal) -> str:
    return f"${value:,.0f}"


def _checkpoints(months: int) -> list[int]:
    marks = list(range(12, months + 1, 12))
    return marks if marks and marks[-1] == months else [*marks, months]


def comparison_json(c: Comparison, notes: list[str]) -> dict[str, Any]:
    local, box = c.local, c.box
    return {
        "model": c.need.id,
        "precision": c.need.precision.value,
        "months": c.months,
        "load": {"requests_per_minute": float(c.load.requests_per_minute), "input_tokens": c.load.input_tokens,
                 "output_tokens": c.load.output_tokens},
        "local": {
            "gpu_model": box.spec.gpu_model, "gpus": box.gpus, "tensor_parallel": box.tensor_parallel,
            "boxes": local.boxes, "tokens_per_s_per_box": round(box.replicas.ceiling.tokens_per_s, 1),
            "tpot_ms": round(box.replicas.operating.tpot_ms, 2), "meets_target": not box.replicas.misses,
            "hardware_usd": float(local.hardware_usd * local.boxes), "power_w_per_box": float(local.power_w),
            "kwh_usd": float(local.kwh_usd), "power_usd_per_month": round(float(local.power_usd_per_month), 2),
            "upkeep_usd_per_month": round(float(local.upkeep_usd_per_month), 2),
            "depreciation_usd_per_year": round(float(local.depreciation_usd_per_year(c.months)), 2),
            "residual_usd": float(local.residual_usd()), "gpu_source": box.spec.source,
        },
        "cloud": [{"label": cl.label, "where": cl.where, "replicas": cl.replicas,
                   "price_per_hour_usd": float(cl.hourly_usd), "credits_counted": bool(cl.grants)}
                  for cl in c.clouds],
        "lines": [{"label": line.label, "where": line.where, "break_even_month": line.break_even_month,
                   "total_usd": round(float(line.monthly_cumulative_usd[-1]), 2),
                   "monthly_cumulative_usd": [round(float(v), 2) for v in line.monthly_cumulative_usd]}
                  for line in c.lines],
        "local_net_of_resale_usd": round(float(c.lines[0].monthly_cumulative_usd[-1] - local.residual_usd()), 2),
        "notes": [*notes, *c.notes],
        "assumptions": throughput.assumptions(),
    }  # fmt: skip


def print_comparison(console: Console, c: Comparison, notes: list[str]) -> None:
    """Print the local box, the cloud lines, the yearly cumulative costs, the break-even months and a bar chart."""
    box, local = c.box, c.local
    console.print(f"[bold]{escape(c.need.id)}[/bold] {c.need.precision.value} for {escape(c.load.describe())}, "
                  f"{c.months} months", highlight=False)  # fmt: skip
    console.print(f"local: {local.boxes} x ({box.gpus}x {escape(box.spec.gpu_model)}, TP {box.tensor_parallel}): "
                  f"{box.replicas.ceiling.tokens_per_s:,.0f} tokens/s per box, {box.replicas.operating.tpot_ms:,.1f} "
                  f"ms per output token", highlight=False)  # fmt: skip
    console.print(f"  hardware {_usd(local.hardware_usd * local.boxes)}; power {local.power_w:,.0f} W per box at "
                  f"${local.kwh_usd}/kWh = {_usd(local.power_usd_per_month)}/month; upkeep "
                  f"{_usd(local.upkeep_usd_per_month)}/month; depreciation "
                  f"{_usd(local.depreciation_usd_per_year(c.months))}/year to a residual of "
                  f"{_usd(local.residual_usd())}", highlight=False)  # fmt: skip
    for cloud in c.clouds:
        credits = ", credits applied as they can pay" if cloud.grants else ""
        console.print(f"{cloud.label}: {escape(cloud.where)}, ${cloud.hourly_usd:,.2f}/h{credits}", highlight=False)
    table = Table(title=None, box=None, pad_edge=False)
    table.add_column("by month", justify="right")
    for line in c.lines:
        table.add_column(line.label, justify="right")
    for month in _checkpoints(c.months):
        table.add_row(str(month), *(_usd(line.monthly_cumulative_usd[month]) for line in c.lines))
    console.print(table)
    for line in c.lines[1:]:
        even = line.break_even_month
        when = f"month {even}" if even is not None else f"not within {c.months} months"
        console.print(f"break-even vs {line.label}: {when}", highlight=False)
    net = c.lines[0].monthly_cumulative_usd[-1] - local.residual_usd()
    console.print(f"local net of resale after {c.months} months: {_usd(net)}", highlight=False)
    _print_bars(console, c)
    for note in [*notes, *c.notes]:
        console.print(f"note: {note}", style="dim", highlight=False, markup=False)


def _print_bars(console: Console, c: Comparison) -> None:
    totals = [(line.label, line.monthly_cumulative_usd[-1]) for line in c.lines]
    top = max((total for _, total in totals), default=Decimal(0)) or Decimal(1)
    width = max(len(label) for label, _ in totals)
    console.print(f"[bold]total after {c.months} months[/bold]")
    for label, total in totals:
        bar = "█" * max(0, round(float(total / top) * BAR_WIDTH))
        colour = "green" if label == "local" else "cyan"
        console.print(f"  {label:<{width}} [{colour}]{bar}[/{colour}] {_usd(total)}", highlight=False)


def require_matplotlib() -> Any:
    """Return matplotlib's pyplot (drawing to files only); refuse --output when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InvalidInput("--output needs matplotlib, which is not installed",
                           hint="pip install matplotlib, or leave --output out") from None  # fmt: skip
    return plt


def save_png(c: Comparison, path: Path) -> None:
    """Draw the monthly cumulative costs to `path` with matplotlib (not a dependency: refused when missing)."""
    plt = require_matplotlib()
    figure, axes = plt.subplots(figsize=(8, 4.5))
    for line in c.lines:
        axes.plot(range(c.months + 1), [float(v) for v in line.monthly_cumulative_usd], label=line.label)
    axes.set_xlabel("month")
    axes.set_ylabel("cumulative cost, USD")
    axes.set_title(f"{c.need.id}: local vs cloud")
    axes.legend()
    try:
        figure.savefig(path, dpi=100)
    except OSError as err:
        raise InvalidInput(f"--output {path}: cannot write it ({err.strerror})") from None
    finally:
        plt.close(figure)
