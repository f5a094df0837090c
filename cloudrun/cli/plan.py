"""`cloudrun size` and `cloudrun plan`: how much memory a model needs, and where it runs cheapest after credits."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import typer

from cloudrun import planning, terminal, time_to_serve  # planning: what cloudrun.api re-exports, not the deploy side
from cloudrun.cli import plan_json
from cloudrun.plain import Precision
from cloudrun.terminal import JsonOpt, app, errors_to_exit, print_json, split_values

ModelArg = typer.Argument(None, help="Hugging Face model id, e.g. deepseek-ai/deepseek-llm-67b-chat.")
PrecisionOpt = typer.Option(None, "--precision", help="bf16, fp8, int8 or int4 (default: the model's own).")
ContextOpt = typer.Option(None, "--context", help="Tokens per request to hold in KV cache (default 4096 or less).")
ConcurrencyOpt = typer.Option(1, "--concurrency", help="Requests served at once, each with a full context.")
ConfigOpt = typer.Option(None, "--config", help="Path to a Hugging Face config.json, for any other model.")
LoadOpt = typer.Option(
    None,
    "--load",
    help='The traffic to serve, "RATE req/min, IN in, OUT out" (e.g. "60 req/min, '
    '500 in, 300 out"): adds throughput, replicas and $ per 1M tokens to each option.',
)
LatencyOpt = typer.Option(None, "--latency-p50", help="Target p50 latency (time to first token), ms.")
TokensPerSOpt = typer.Option(None, "--tokens-per-s", help="Target output tokens per second, at least.")
RankByOpt = typer.Option(None, "--rank-by", help="per-token or per-hour (default: per-token with --load or a target).")
ExplainOpt = typer.Option(False, "--explain", help="Print the throughput model's assumptions with the table.")
ScenarioOpt = typer.Option(None, "--scenario", help="realtime, batch or private: preset targets (flags given win), "
                           "with what each recommends.")  # fmt: skip
QuantizedOpt = typer.Option(None, "--quantized-model", help="Serve this pre-quantized checkpoint of the model "
                            "(AWQ, GPTQ, FP8), e.g. TheBloke/deepseek-llm-67b-chat-AWQ.")  # fmt: skip


@app.command()
@errors_to_exit
def size(
    model: str | None = ModelArg,
    precision: Precision | None = PrecisionOpt,
    context: int | None = ContextOpt,
    concurrency: int = ConcurrencyOpt,
    config: Path | None = ConfigOpt,
    quantized_model: str | None = QuantizedOpt,
    as_json: bool = JsonOpt,
) -> None:
    """How much GPU memory a model needs: parameters, weights, KV cache per token, total."""
    need = planning.size(model, precision=precision, context=context, concurrency=concurrency, config=config,
                    quantized_model=quantized_model)  # fmt: skip
    if as_json:
        print_json(plan_json.need_json(need))
    else:
        from cloudrun.cli import render  # rich's tables: only for a table

        render.print_need(terminal.out, need)


@app.command()
@errors_to_exit
def plan(
    model: str | None = ModelArg,
    precision: Precision | None = PrecisionOpt,
    context: int | None = ContextOpt,
    concurrency: int = ConcurrencyOpt,
    config: Path | None = ConfigOpt,
    quantized_model: str | None = QuantizedOpt,
    hours: float = typer.Option(24.0, "--hours", envvar="CLOUDRUN_HOURS", help="How many hours the endpoint will run."),
    provider: list[str] | None = typer.Option(
        None, "--provider", envvar="CLOUDRUN_PROVIDER", help="aws, gcp or azure (repeatable)."
    ),
    exclude: list[str] | None = typer.Option(
        None, "--exclude", envvar="CLOUDRUN_EXCLUDE", help="Leave this provider out (repeatable)."
    ),
    region: list[str] | None = typer.Option(
        None, "--region", envvar="CLOUDRUN_REGION", help="Only these regions (repeatable)."
    ),
    spot: bool = typer.Option(False, "--spot", help="Add spot options where the service has them (Vertex AI)."),
    catalog: Path | None = typer.Option(None, "--catalog", help="A price CSV replacing the bundled snapshot."),
    credits: Path | None = typer.Option(None, "--credits", help="A JSON list of credit grants."),
    as_json: bool = JsonOpt,
    show_all: bool = typer.Option(
        False, "--all", help="List every option (not the 10 cheapest), and the offers the model does not fit, with why."
    ),
    sources: bool = typer.Option(False, "--sources", help="Number each price's source and list them."),
    load: str | None = LoadOpt,
    latency_p50: float | None = LatencyOpt,
    tokens_per_s: float | None = TokensPerSOpt,
    rank_by: str | None = RankByOpt,
    explain: bool = ExplainOpt,
    scenario: str | None = ScenarioOpt,
) -> None:
    """Every offer the model fits, ranked by what you would pay after credits (per token with --load)."""
    now = datetime.now(timezone.utc)
    asked = (load, latency_p50, tokens_per_s, rank_by, scenario)
    if explain or any(value is not None for value in asked):
        from cloudrun.cli import plan_load  # the per-token path's modules load only when asked for

        common = dict(precision=precision, context=context, concurrency=concurrency, config=config,
                      quantized_model=quantized_model, hours=hours, providers=split_values(provider),
                      exclude=split_values(exclude), regions=split_values(region), spot=spot, catalog_file=catalog,
                      credits_file=credits, include_infeasible=show_all, now=now)  # fmt: skip
        plan_load.run(model, common, load=load, latency_p50=latency_p50, tokens_per_s=tokens_per_s,
                      rank_by=rank_by, explain=explain, as_json=as_json, show_all=show_all,
                      scenario=scenario)  # fmt: skip
        return
    result = planning.plan(
        model,
        precision=precision,
        context=context,
        concurrency=concurrency,
        config=config,
        quantized_model=quantized_model,
        hours=hours,
        providers=split_values(provider),
        exclude=split_values(exclude),
        regions=split_values(region),
        spot=spot,
        catalog_file=catalog,
        credits_file=credits,
        include_infeasible=show_all,
        now=now,
    )
    first = next((o for o in result.options if o.fit.feasible), None)
    estimate = None
    if first is not None:  # with the user's own measured times of the same model on the same instance type
        estimate = time_to_serve.estimate(result.need, first.offer.gpu_count, instance_type=first.offer.instance_type,
                                          past=time_to_serve.history())  # fmt: skip
    if as_json:
        document = plan_json.plan_json(result)
        if estimate is not None:  # for the first option: seconds from create to serving, typical and pessimistic
            document["time_to_serve_s"] = estimate.as_json()
        print_json(document)
    else:
        from cloudrun.cli import render  # rich's tables: only for a table

        render.print_plan(terminal.out, result, now, everything=show_all, sources=sources)
        if estimate is not None:
            terminal.out.print(f"{estimate.describe()} (first option; `cloudrun stage` copies the weights in-region)",
                      style="dim", highlight=False, markup=False)  # fmt: skip
