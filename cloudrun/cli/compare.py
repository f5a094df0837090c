"""`cloudrun compare`: buy GPUs or rent endpoints for the same load, month by month, with the break-even month."""

from __future__ import annotations

from pathlib import Path

import typer

from cloudrun.cli.plan import ConfigOpt, LatencyOpt, ModelArg, PrecisionOpt, QuantizedOpt, ScenarioOpt, TokensPerSOpt
from cloudrun.plain import Precision
from cloudrun.terminal import JsonOpt, app, errors_to_exit, out, print_json, split_values

LocalOpt = typer.Option(..., "--local", help='The GPUs you would buy, "GPU xN", e.g. "RTX A6000 x2" or "H100 x8".')
LocalSpecOpt = typer.Option(None, "--local-spec", help='An unknown GPU\'s figures, "768 GB/s, 155 TFLOPS, 48 GB, '
                            '300 W" (bandwidth, dense 16-bit TFLOPS, memory, board power).')  # fmt: skip
HardwareOpt = typer.Option(..., "--hardware-usd", help="What one box of those GPUs costs you, USD (your quote).")
KwhOpt = typer.Option(..., "--kwh-usd", help="Your electricity price, USD per kWh (US averages by state: EIA "
                      "Electric Power Monthly, Table 5.6.B).")  # fmt: skip


@app.command()
@errors_to_exit
def compare(
    model: str | None = ModelArg,
    local: str = LocalOpt,
    hardware_usd: float = HardwareOpt,
    kwh_usd: float = KwhOpt,
    months: int = typer.Option(60, "--months", help="The horizon, months (default 5 years)."),
    load: str | None = typer.Option(None, "--load", help='The traffic, "RATE req/min, IN in, OUT out".'),
    latency_p50: float | None = LatencyOpt,
    tokens_per_s: float | None = TokensPerSOpt,
    scenario: str | None = ScenarioOpt,
    local_spec: str | None = LocalSpecOpt,
    power_w: float | None = typer.Option(
        None, "--power-w", help="The box's average draw, watts (default: the GPUs' datasheet maximum + 300 W host)."
    ),
    upkeep: float = typer.Option(
        0.0, "--upkeep-usd-per-year", help="Upkeep per box per year: support, repairs, rack space (default 0)."
    ),
    residual: float = typer.Option(0.0, "--residual-pct", help="Resale value at the end, % of the price (default 0)."),
    precision: Precision | None = PrecisionOpt,
    config: Path | None = ConfigOpt,
    quantized_model: str | None = QuantizedOpt,
    provider: list[str] | None = typer.Option(None, "--provider", help="aws, gcp or azure (repeatable)."),
    exclude: list[str] | None = typer.Option(None, "--exclude", help="Leave this provider out (repeatable)."),
    region: list[str] | None = typer.Option(None, "--region", help="Only these regions (repeatable)."),
    catalog: Path | None = typer.Option(None, "--catalog", help="A price CSV replacing the bundled snapshot."),
    credits: Path | None = typer.Option(None, "--credits", help="A JSON list of credit grants."),
    output: Path | None = typer.Option(
        None, "--output", help="Also draw the monthly costs to this PNG (needs matplotlib installed)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Local hardware vs cloud endpoints for the same load: total cost of ownership and the break-even month."""
    from cloudrun import compare as comparing  # the planner loads only when the command runs
    from cloudrun import inputs, scenarios
    from cloudrun.cli import plan_load, render_compare
    from cloudrun.inputs.local_gpu import local_gpus

    if output is not None:
        render_compare.require_matplotlib()  # refused before any work, not after
    spec, gpus = local_gpus(local, local_spec)
    preset = scenarios.scenario(scenario)
    wanted = plan_load.targets(*plan_load.with_preset(preset, latency_p50, tokens_per_s))
    traffic, notes = plan_load.resolve_load(load, wanted)
    notes = [*(f"scenario {preset.name}: {line}" for line in (preset.explanation if preset else ())), *notes]
    result = comparing.compare(
        model, local_spec=spec, local_gpus=gpus, months=months, load=traffic, targets=wanted,
        hardware_usd=inputs.positive(hardware_usd, "--hardware-usd", "USD"),
        kwh_usd=inputs.decimal(kwh_usd, "--kwh-usd", "USD per kWh", high=inputs.bounds.MAX_USD),
        power_w=None if power_w is None else inputs.decimal(power_w, "--power-w", "watts", high=render_compare.MAX_W),
        upkeep_usd_per_year=render_compare.non_negative(upkeep, "--upkeep-usd-per-year", "USD"),
        residual_pct=render_compare.percent(residual, "--residual-pct"),
        precision=precision, config=config, quantized_model=quantized_model, providers=split_values(provider),
        regions=split_values(region), exclude=split_values(exclude), catalog_file=catalog, credits_file=credits,
    )  # fmt: skip
    if output is not None:
        render_compare.save_png(result, output)
    if as_json:
        print_json({**render_compare.comparison_json(result, notes), **plan_load.scenario_json(preset)})
    else:
        render_compare.print_comparison(out, result, notes)
        if output is not None:
            out.print(f"chart: {output}", highlight=False, markup=False)
