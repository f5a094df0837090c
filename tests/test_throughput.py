import csv
from decimal import Decimal
from importlib import resources

import pytest

from cloudrun import sizing, throughput, throughput_check
from cloudrun.models import Precision

SEVENTY_B = "deepseek-ai/DeepSeek-R1-Distill-Llama-70B"


def _estimate(gpu="H100", gb=80, tp=2, precision="fp8", concurrency=1, model=SEVENTY_B, **shape):
    need = sizing.need(model, precision=precision)
    spec = throughput.gpu_spec(gpu, gb)
    return throughput.estimate(need, spec, tp, input_tokens=shape.get("input_tokens", 500),
                               output_tokens=shape.get("output_tokens", 300), concurrency=concurrency)  # fmt: skip


def test_the_model_stays_within_the_goal_on_the_published_points():
    comparisons = throughput_check.compare()
    assert len(comparisons) >= 5
    points = [c.point for c in comparisons]
    assert len({(p.shape, p.gpu_model, p.gpu_memory_gb, p.precision) for p in points}) >= 5  # model, GPU, precision
    assert throughput_check.median_abs_error_pct(comparisons) <= throughput_check.MAPE_GOAL_PCT


def test_every_published_point_names_its_public_source():
    for point in throughput_check.load_points():
        assert point.source.split(":")[0].count(".") >= 1, point.id  # a domain and page, not a label
        assert point.published > 0


def test_a_published_figure_far_from_the_model_shows_as_error():
    point = throughput_check.load_points()[0]
    doubled = throughput_check.Point(**{**point.__dict__, "published": point.published / 2})  # twice as fast
    assert throughput_check.compare([doubled])[0].error_pct < -40


def test_every_gpu_in_the_bundled_catalog_has_datasheet_figures_with_a_source():
    text = resources.files("cloudrun.data").joinpath("offers.csv").read_text(encoding="utf-8")
    for row in csv.DictReader(text.splitlines()):
        spec = throughput.gpu_spec(row["gpu_model"], row["gpu_memory_gb"])
        assert spec is not None, row["gpu_model"]
        assert "nvidia.com" in spec.source


def test_the_memory_variant_is_chosen_by_memory():
    assert throughput.gpu_spec("A100", 40).hbm_gb_per_s < throughput.gpu_spec("A100", 80).hbm_gb_per_s
    assert throughput.gpu_spec("a100") is not None
    assert throughput.gpu_spec("B300") is None


def test_fp8_uses_fp8_tensor_cores_only_where_the_gpu_has_them():
    h100 = throughput.gpu_spec("H100")
    assert h100.tflops(Precision.fp8) > Decimal("1.99") * h100.tflops(Precision.bf16)
    a100 = throughput.gpu_spec("A100", 80)
    assert a100.tflops(Precision.fp8) == a100.tflops(Precision.bf16) == a100.tflops(Precision.int4)


def test_decode_is_memory_bound_so_more_bandwidth_means_faster_tokens():
    h100, h200 = _estimate("H100", 80), _estimate("H200", 141)
    assert h100.bound == "memory"
    assert h200.tpot_ms < h100.tpot_ms
    # half the weight bytes (fp8 vs bf16) on the same GPUs: nearly twice the single-request speed
    bf16 = _estimate("H100", 80, tp=4, precision="bf16")
    fp8 = _estimate("H100", 80, tp=4, precision="fp8")
    assert 1.4 < bf16.tpot_ms / fp8.tpot_ms < 2.0


def test_batching_raises_throughput_and_slows_each_request():
    one, many = _estimate(concurrency=1), _estimate(concurrency=32)
    assert many.tokens_per_s > 8 * one.tokens_per_s
    assert many.tpot_ms > one.tpot_ms


def test_concurrency_is_capped_by_the_kv_cache_beside_the_weights():
    est = _estimate(concurrency=100_000)
    assert est.concurrency == est.max_concurrency
    need = sizing.need(SEVENTY_B, precision="fp8")
    kv_per_gpu = need.kv_bytes_per_token / 2 * 800 * est.max_concurrency  # 8 KV heads split over TP=2
    assert need.weights_bytes / 2 + need.overhead_bytes_per_gpu + kv_per_gpu <= 80e9 * 0.9
    small = _estimate("L4", 24, tp=1, precision="bf16", model="deepseek-ai/DeepSeek-R1-Distill-Llama-8B")
    assert small.max_concurrency > 0


def test_a_huge_batch_becomes_compute_bound():
    tiny = "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"
    est = _estimate("H100", 80, tp=8, precision="bf16", concurrency=4000, model=tiny, input_tokens=16, output_tokens=16)
    assert est.bound == "compute"


@pytest.mark.parametrize("line", throughput.assumptions())
def test_the_assumptions_are_stated(line):
    assert line and "\n" not in line
