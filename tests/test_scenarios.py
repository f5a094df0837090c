"""`--scenario realtime|batch|private`: presets of targets for plan and compare; explicit flags win."""

import json

import pytest
from typer.testing import CliRunner

from cloudrun.cli import app

runner = CliRunner()
MODEL = "deepseek-ai/deepseek-llm-67b-chat"


def _json(*args):
    result = runner.invoke(app, ["plan", MODEL, *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_realtime_sets_the_latency_and_throughput_targets():
    doc = _json("--scenario", "realtime")
    assert doc["targets"] == {"latency_p50_ms": 500.0, "tokens_per_s": 200.0}
    assert doc["scenario"]["name"] == "realtime" and any("quantized" in line for line in doc["scenario"]["explanation"])
    meeting = [o for o in doc["options"] if o["meets_target"]]
    assert meeting and all(o["latency_p50_ms"] <= 500 and o["tokens_per_s"] >= 200 for o in meeting)
    assert not any(o["spot"] for o in doc["options"])


def test_a_flag_given_wins_over_the_preset():
    doc = _json("--scenario", "realtime", "--latency-p50", "100", "--load", "10 req/min, 500 in, 300 out")
    assert doc["targets"]["latency_p50_ms"] == 100.0 and doc["load"]["requests_per_minute"] == 10.0


def test_batch_adds_spot_and_ranks_per_token_with_a_load():
    doc = _json("--scenario", "batch", "--load", "600 req/min, 2000 in, 500 out")
    assert doc["rank_by"] == "per-token" and doc["targets"]["latency_p50_ms"] is None
    assert any(o["spot"] for o in doc["options"])
    assert doc["options"][0]["usd_per_million_tokens"] == min(
        o["usd_per_million_tokens"] for o in doc["options"] if o["meets_target"]
    )


def test_private_recommends_your_own_hardware_or_account_and_leaves_the_law_to_you():
    result = runner.invoke(app, ["plan", MODEL, "--scenario", "private"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "compare --local" in result.output and "legal question cloudrun does not answer" in result.output


def test_compare_takes_the_scenario_too():
    args = ["compare", MODEL, "--local", "H100 x2", "--precision", "fp8", "--hardware-usd", "70000", "--kwh-usd",
            "0.15", "--scenario", "realtime", "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["scenario"]["name"] == "realtime" and doc["load"]["requests_per_minute"] == 40.0


@pytest.mark.parametrize("name", ["", "fast", "real-time"])
def test_an_unknown_scenario_exits_2(name):
    result = runner.invoke(app, ["plan", MODEL, "--scenario", name])
    assert result.exit_code == 2 and "realtime, batch, private" in result.output
