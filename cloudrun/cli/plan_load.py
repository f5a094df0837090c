"""`cloudrun plan --load ...`: the per-token path of `plan`, imported only when a load, target or --rank-by is given."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cloudrun import inputs, planning, scenarios
from cloudrun.cli import plan_json, render, render_tokens
from cloudrun.errors import InvalidInput
from cloudrun.inputs.load import Load
from cloudrun.inputs.load import load as parse_load
from cloudrun.per_token import RANK_BY, Targets
from cloudrun.terminal import out, print_json

# Without --load, a --tokens-per-s target is carried by requests of this shape (a chat turn), stated in the output.
DEFAULT_SHAPE = (500, 300)
MAX_LATENCY_MS = Decimal(3_600_000)  # an hour: no interactive target is longer
MAX_TOKENS_PER_S = Decimal(100_000_000)  # far above any one deployment's output


def targets(latency_p50: float | Decimal | None, tokens_per_s: float | Decimal | None) -> Targets:
    """Return the targets of --latency-p50 and --tokens-per-s, each checked (positive, bounded)."""
    latency = None if latency_p50 is None else inputs.decimal(latency_p50, "--latency-p50", "ms", high=MAX_LATENCY_MS)
    rate = None if tokens_per_s is None else inputs.decimal(tokens_per_s, "--tokens-per-s", "tokens/s",
                                                            high=MAX_TOKENS_PER_S)  # fmt: skip
    return Targets(latency_p50_ms=latency, tokens_per_s=rate)


def resolve_load(text: str | None, wanted: Targets) -> tuple[Load, list[str]]:
    """Return the load to plan for, and a note when it was derived from --tokens-per-s rather than given."""
    if text is not None:
        return parse_load(text), []
    if wanted.tokens_per_s is None:
        raise InvalidInput("a per-token plan needs the traffic to serve",
                           hint='add --load "60 req/min, 500 in, 300 out" (your rate and token counts)')  # fmt: skip
    prompt, output = DEFAULT_SHAPE
    derived = Load(requests_per_minute=wanted.tokens_per_s * 60 / output, input_tokens=prompt, output_tokens=output)
    note = (f"no --load: {float(wanted.tokens_per_s):,g} tokens/s carried by requests of {prompt} in, {output} out "
            f'({derived.describe()}); give --load "RATE req/min, IN in, OUT out" for your own')  # fmt: skip
    return derived, [note]


def run(
    model: str | None, common: dict[str, Any], *, load: str | None, latency_p50: float | None,
    tokens_per_s: float | None, rank_by: str | None, explain: bool, as_json: bool, show_all: bool,
    scenario: str | None = None,
) -> None:  # fmt: skip
    """Plan per token for `plan`'s options `common`, and print the table (or JSON)."""
    if rank_by is not None and rank_by not in RANK_BY:
        raise InvalidInput(f"--rank-by {rank_by!r} is not one of {', '.join(RANK_BY)}")
    preset = scenarios.scenario(scenario)
    wanted = targets(*with_preset(preset, latency_p50, tokens_per_s))
    if preset is not None and preset.spot:
        common = {**common, "spot": True}
    explained = [f"scenario {preset.name}: {line}" for line in preset.explanation] if preset else []
    plain = rank_by == "per-hour" or (preset is not None and latency_p50 is None)
    if load is None and wanted.tokens_per_s is None and plain and not explain:
        result = planning.plan(model, **common)  # the plain plan: ranked per hour, no throughput asked for
        if as_json:
            print_json({**plan_json.plan_json(result), **scenario_json(preset)})
            return
        render.print_plan(out, result, common["now"], everything=show_all)
        for line in explained:
            out.print(line, highlight=False, markup=False)
        return
    traffic, notes = resolve_load(load, wanted)
    result = planning.plan_per_token(model, load=traffic, targets=wanted, rank_by=rank_by or "per-token",
                                     notes=[*explained, *notes], **common)  # fmt: skip
    if as_json:
        print_json({**render_tokens.token_plan_json(result), **scenario_json(preset)})
    else:
        render_tokens.print_token_plan(out, result, common["now"], everything=show_all, explain=explain)


def with_preset(
    preset: scenarios.Scenario | None, latency_p50: float | None, tokens_per_s: float | None
) -> tuple[float | Decimal | None, float | Decimal | None]:
    """Return the targets: the flags given, else the scenario's."""
    if preset is None:
        return latency_p50, tokens_per_s
    return (latency_p50 if latency_p50 is not None else preset.latency_p50_ms,
            tokens_per_s if tokens_per_s is not None else preset.tokens_per_s)  # fmt: skip


def scenario_json(preset: scenarios.Scenario | None) -> dict[str, Any]:
    if preset is None:
        return {}
    return {"scenario": {"name": preset.name, "spot": preset.spot, "explanation": list(preset.explanation)}}
