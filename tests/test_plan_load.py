"""`plan --load`: the load parser, the per-token pricing (cloudrun/per_token.py) and the CLI's contract."""

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cloudrun import planning
from cloudrun.cli import app
from cloudrun.errors import InvalidInput
from cloudrun.inputs.load import load
from cloudrun.per_token import Targets
from tests.factories import NOW, grant

runner = CliRunner()
MODEL = "deepseek-ai/deepseek-llm-67b-chat"
LOAD = "60 req/min, 500 in, 300 out"
TOKEN_FIELDS = {"tokens_per_s", "tpot_ms", "max_concurrency", "replicas", "meets_target", "usd_per_million_tokens"}


def _plan(text=LOAD, targets=None, grants=(), **kw):
    return planning.plan_per_token(MODEL, load=load(text), targets=targets, grants=list(grants), now=NOW, **kw)


@pytest.mark.parametrize(("text", "rpm", "prompt", "output"), [
    (LOAD, "60", 500, 300),
    ("1 req/s, 100 in, 20 out", "60", 100, 20),
    ("120 req/h,64 in,8 out", "2", 64, 8),
    ("300 out, 2.5 REQ/MIN, 1_000 in", "2.5", 1000, 300),
])  # fmt: skip
def test_a_load_is_a_rate_and_two_token_counts_in_any_order(text, rpm, prompt, output):
    parsed = load(text)
    assert (parsed.requests_per_minute, parsed.input_tokens, parsed.output_tokens) == (Decimal(rpm), prompt, output)


@pytest.mark.parametrize("text", [
    "", "60 req/min", "60 req/min, 500 in", "60 req/min, 500 in, 300 out, 1 out", "60/min, 500 in, 300 out",
    "0 req/min, 500 in, 300 out", "60 req/min, 0 in, 300 out", "60 req/min, 500 in, 99999999 out",
    "6e9 req/min, 1 in, 1 out", "60 req/day, 500 in, 300 out", "sixty req/min, 500 in, 300 out",
    "60 req/min; 500 in; 300 out", "６０ req/min, 1 in, 1 out",
])  # fmt: skip
def test_a_malformed_load_is_refused_in_one_line(text):
    with pytest.raises(InvalidInput) as refused:
        load(text)
    assert "\n" not in str(refused.value)


@settings(max_examples=60, derandomize=True, database=None)
@given(st.text(max_size=40))
def test_any_text_is_a_load_or_a_refusal(text):
    try:
        parsed = load(text)
    except InvalidInput:
        return
    assert parsed.requests_per_minute > 0 and parsed.input_tokens > 0 and parsed.output_tokens > 0


def test_malformed_load_exits_2_with_one_line():
    result = runner.invoke(app, ["plan", MODEL, "--load", "60 req/min, 500 in"])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "lacks 'N out'" in result.output


def test_the_plan_ranks_by_dollars_per_million_tokens_after_credits():
    ranked = _plan().options
    priced = [t.usd_per_million_tokens for t in ranked if t.meets_target]
    assert priced and priced == sorted(priced)
    best = ranked[0]
    assert best.tokens_per_s >= 300  # 60 req/min x 300 out = 300 tokens/s, carried by its replicas
    expected = best.option.price_per_hour_usd * best.replicas / (300 * 3600) * 1_000_000
    assert abs(best.usd_per_million_tokens - expected) < Decimal("0.001")


def test_per_token_and_per_hour_rankings_differ_where_throughput_differs():
    per_token = [t.option.offer.instance_type for t in _plan().options]
    per_hour = [t.option.offer.instance_type for t in _plan(rank_by="per-hour").options]
    assert sorted(per_token) == sorted(per_hour) and per_token != per_hour
    assert _plan(rank_by="per-hour").options[0].option.price_per_hour_usd == min(
        t.option.price_per_hour_usd for t in _plan().options
    )


def test_credits_lower_the_cost_per_token_of_what_they_pay_for():
    vertex = grant("gcp", amount="100000", services=("vertex",))
    before = {id(t.option.offer): t for t in _plan().options}
    after = _plan(grants=[vertex]).options
    assert after[0].option.offer.provider == "gcp" and after[0].usd_per_million_tokens == 0
    assert all(t.credits_applied_usd == 0 for t in after if t.option.offer.provider != "gcp")
    assert len(before) == len(after)


def test_more_traffic_needs_more_replicas_and_costs_more_per_hour_not_per_token():
    light, heavy = _plan("60 req/min, 500 in, 300 out"), _plan("6000 req/min, 500 in, 300 out")
    by_type = {t.option.offer.instance_type: t for t in light.options}
    for t in heavy.options[:5]:
        assert t.replicas > by_type[t.option.offer.instance_type].replicas
    assert heavy.options[0].usd_per_million_tokens <= light.options[0].usd_per_million_tokens


def test_a_latency_target_no_option_meets_names_why():
    tight = _plan("60 req/min, 3000 in, 300 out", Targets(latency_p50_ms=Decimal(1)))
    assert not any(t.meets_target for t in tight.options)
    assert all("p50 latency" in t.misses[0] for t in tight.options if t.usd_per_million_tokens is not None)


def test_a_tokens_per_s_target_above_the_load_raises_the_replicas():
    base = _plan()
    raised = _plan(targets=Targets(tokens_per_s=Decimal(3000)))
    assert sum(t.replicas for t in raised.options) > sum(t.replicas for t in base.options)


def test_the_json_has_the_issue_fields_and_the_assumptions():
    result = runner.invoke(app, ["plan", MODEL, "--load", LOAD, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["rank_by"] == "per-token" and doc["load"]["output_tokens"] == 300 and doc["assumptions"]
    for option in doc["options"]:
        assert option.keys() >= TOKEN_FIELDS


def test_the_table_shows_the_throughput_and_explain_the_assumptions():
    result = runner.invoke(app, ["plan", MODEL, "--load", LOAD, "--explain"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "$/Mtok" in result.output and "tok/s" in result.output and "TPOT ms" in result.output
    assert "Cheapest per token" in result.output and "memory-bandwidth bound" in result.output


@pytest.mark.parametrize("args", [
    ["--rank-by", "cheapest"], ["--latency-p50", "-5", "--load", LOAD], ["--tokens-per-s", "0"], ["--explain"],
])  # fmt: skip
def test_bad_targets_exit_2(args):
    result = runner.invoke(app, ["plan", MODEL, *args])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1


def test_requests_longer_than_the_model_reads_are_refused_naming_the_load():
    result = runner.invoke(app, ["plan", MODEL, "--load", "60 req/min, 3900 in, 300 out"])
    assert result.exit_code == 2
    assert "--load asks for 4,200 tokens a request" in result.output and "maximum of 4096" in result.output


def test_the_fit_asks_room_for_one_request_of_the_load_not_the_default_context():
    short = _plan("60 req/min, 100 in, 100 out")
    assert short.plan.need.context == 200
    assert all(t.max_concurrency >= 1 for t in short.options if t.usd_per_million_tokens is not None)
