"""`cloudrun compare`: the TCO arithmetic (cloudrun/tco.py), the local GPU inputs and the command's contract."""

import json
import sys
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cloudrun import tco
from cloudrun.cli import app
from cloudrun.errors import InvalidInput
from cloudrun.inputs.local_gpu import local_gpus
from tests.factories import NOW, grant

runner = CliRunner()
MODEL = "deepseek-ai/deepseek-llm-67b-chat"
BASE = ["compare", MODEL, "--hardware-usd", "70000", "--kwh-usd", "0.15", "--load", "60 req/min, 500 in, 300 out"]


def _local(**kw):
    values = dict(boxes=1, hardware_usd=Decimal(10000), power_w=Decimal(1000), kwh_usd=Decimal("0.10"),
                  upkeep_usd_per_year=Decimal(0), residual_pct=Decimal(0))  # fmt: skip
    return tco.LocalCosts(**{**values, **kw})


def _cloud(price="2", grants=()):
    return tco.CloudCosts("cloud", "somewhere", 1, Decimal(price), tuple(grants), NOW)


def test_local_is_bought_once_then_powered_every_month():
    local = _local(upkeep_usd_per_year=Decimal(1200))
    assert local.power_usd_per_month == Decimal("73.000")  # 1 kW x 730 h x $0.10
    assert local.cumulative(0) == 10000 and local.cumulative(12) == 10000 + 12 * (73 + 100)


def test_the_break_even_month_is_the_first_where_local_is_no_dearer():
    lines = tco.lines(_local(), [_cloud("2")], 60)  # cloud: 2 x 730 = 1,460 a month
    assert lines[1].break_even_month == 8  # 10,000 + 73 m <= 1,460 m from m = 7.2
    assert tco.lines(_local(), [_cloud("0.05")], 60)[1].break_even_month is None  # cheaper than the power alone


def test_credits_push_the_break_even_later_and_pay_only_until_they_expire():
    paid = grant("gcp", amount="5000", expires_in_hours=24 * 365, services=("vertex",))
    with_credits = tco.lines(_local(), [_cloud("2", [paid])], 60)[1]
    assert with_credits.break_even_month > 8
    assert with_credits.monthly_cumulative_usd[60] == _cloud("2").cumulative(60) - 5000
    short = grant("gcp", amount="5000", expires_in_hours=730, services=("vertex",))  # expires after a month
    assert _cloud("2", [short]).cumulative(60) == _cloud("2").cumulative(60) - 1460


def test_depreciation_runs_straight_to_the_residual():
    local = _local(residual_pct=Decimal(20))
    assert local.residual_usd() == 2000 and local.depreciation_usd_per_year(60) == Decimal(1600)


@pytest.mark.parametrize(("text", "gpu", "count"), [
    ("RTX A6000 x2", "RTX A6000", 2), ("H100x8", "H100", 8), ("A100 40GB x4", "A100", 4), ("L40S", "L40S", 1),
])  # fmt: skip
def test_local_gpus_are_a_known_gpu_and_a_count(text, gpu, count):
    spec, n = local_gpus(text)
    assert (spec.gpu_model, n) == (gpu, count)
    assert local_gpus("A100 40GB x4")[0].memory_gb == 40


@pytest.mark.parametrize("text", ["", "x2", "H100 x0", "H100 x999", "H100 x-1", "RTX 5090 x2", "Ｈ100"])
def test_bad_local_gpus_are_refused(text):
    with pytest.raises(InvalidInput):
        local_gpus(text)


def test_an_unknown_gpu_lists_the_known_ones_and_the_way_to_give_figures():
    result = runner.invoke(app, [*BASE, "--local", "RTX 5090 x2"])
    assert result.exit_code == 2
    assert "RTX A6000" in result.output and "--local-spec" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "spec", ["1792 GB/s, 209 TFLOPS", "fast", "1792 GB/s, 209 TFLOPS, 32 GB, 32 GB", "0 GB/s, 1 TFLOPS, 1 GB"]
)
def test_a_bad_local_spec_is_refused(spec):
    result = runner.invoke(app, [*BASE, "--local", "RTX 5090 x2", "--local-spec", spec])
    assert result.exit_code == 2, result.output


def test_a_local_spec_prices_an_unknown_gpu():
    args = [*BASE, "--local", "RTX 5090 x2", "--local-spec", "1792 GB/s, 209 TFLOPS, 32 GB, 575 W", "--precision",
            "int4", "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["local"]["gpu_model"] == "RTX 5090" and doc["local"]["power_w_per_box"] == 2 * 575 + tco.HOST_POWER_W


def test_compare_gives_five_years_month_by_month_with_break_even_and_a_chart():
    result = runner.invoke(app, [*BASE, "--local", "H100 x2", "--precision", "fp8"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    for words in ("hardware $70,000", "depreciation", "cloud on-demand", "break-even vs", "total after 60 months", "█"):
        assert words in result.output
    doc = json.loads(runner.invoke(app, [*BASE, "--local", "H100 x2", "--precision", "fp8", "--json"]).stdout)
    labels = [line["label"] for line in doc["lines"]]
    assert labels[0] == "local" and "cloud on-demand" in labels and "cloud after credits" in labels
    assert all(len(line["monthly_cumulative_usd"]) == 61 for line in doc["lines"])
    assert doc["lines"][0]["monthly_cumulative_usd"][0] == 70000


def test_a_model_that_does_not_fit_the_local_box_is_refused_with_what_to_try():
    result = runner.invoke(app, [*BASE, "--local", "RTX 4090 x1"])
    assert result.exit_code == 2 and "does not fit on 1x RTX 4090" in result.output and "--precision" in result.output


def test_output_without_matplotlib_is_refused_before_any_work(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what an environment without it raises: ImportError
    result = runner.invoke(app, [*BASE, "--local", "H100 x2", "--output", str(tmp_path / "chart.png")])
    assert result.exit_code == 2 and "matplotlib" in result.output
    assert not (tmp_path / "chart.png").exists()


@settings(max_examples=60, derandomize=True, database=None)
@given(st.text(max_size=30), st.one_of(st.none(), st.text(max_size=40)))
def test_any_local_text_is_a_gpu_or_a_refusal(text, spec_text):
    try:
        spec, count = local_gpus(text, spec_text)
    except InvalidInput:
        return
    assert 1 <= count <= 64 and spec.hbm_gb_per_s > 0 and spec.memory_gb > 0
