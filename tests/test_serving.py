"""The serving compatibility model, table-driven against its cited sources (cloudrun/serving.py, data files).

Each row is one (GPU, how the weights are served, provider image) and what vLLM and the image documents say:
served (with which dtype and --quantization) or refused (and why).
"""

from __future__ import annotations

import csv
import io
from importlib import resources

import pytest

from cloudrun import catalog, serving, sizing
from cloudrun.errors import InvalidInput
from cloudrun.models import Precision

R1_7B = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
DS_67B = "deepseek-ai/deepseek-llm-67b-chat"
REGION = {"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus"}


def verdict(provider: str, gpu: str, precision: str | None = None, model: str = R1_7B, **options):
    need = sizing.need(model, precision=precision, **options)
    return serving.verdict(need, provider, REGION[provider], gpu)


# --- the data and its sources --------------------------------------------------------------------------------


def test_every_gpu_in_the_catalog_has_a_compute_capability_with_a_source():
    models = {offer.gpu_model for offer in catalog.bundled()}
    table = serving.gpus()
    assert models <= set(table), models - set(table)
    text = resources.files("cloudrun.data").joinpath("gpus.csv").read_text()
    for row in csv.DictReader(io.StringIO(text)):
        assert row["source"].strip(), row["gpu_model"]


@pytest.mark.parametrize(
    "gpu, cc",
    [
        ("T4", 7.5),
        ("V100", 7.0),
        ("A10G", 8.6),
        ("A10", 8.6),
        ("L4", 8.9),
        ("L40S", 8.9),
        ("A100", 8.0),
        ("H100", 9.0),
        ("H100 NVL", 9.0),
    ],  # fmt: skip
)
def test_compute_capabilities_are_nvidias(gpu, cc):
    assert serving.gpus()[gpu].compute_capability == cc


def test_each_image_names_its_engine_and_sources():
    for provider in ("aws", "gcp", "azure"):
        image = serving.image(provider)
        assert image is not None and image.engine
        for key in ("engine", "min_compute_capability", "in_flight", "checkpoints", "startup_limit"):
            assert image.sources.get(key), (provider, key)
    assert serving.image("aws").engine == "vLLM 0.12.0"  # LMI V18 release notes
    assert serving.image("azure").engine == "vLLM 0.11.0"


# --- what each GPU serves, per precision --------------------------------------------------------------------


@pytest.mark.parametrize(
    "provider, gpu, dtype",
    [("aws", "T4", "fp16"), ("azure", "T4", "fp16"), ("aws", "A10G", "bf16"), ("aws", "L4", "bf16"),
     ("gcp", "L4", "bf16"), ("aws", "L40S", "bf16"), ("azure", "A100", "bf16"), ("gcp", "H100", "bf16")],
)  # fmt: skip
def test_bf16_checkpoints_are_sent_fp16_where_the_gpu_has_no_bf16(provider, gpu, dtype):
    how = verdict(provider, gpu)
    assert isinstance(how, serving.Serving) and how.dtype == dtype and how.quantization is None
    assert how.checkpoint == R1_7B
    assert any("no bf16" in note for note in how.notes) is (dtype == "fp16")


def test_v100_is_dropped_on_vllm_0_11_with_the_issue_that_says_so():
    why = verdict("azure", "V100")
    assert isinstance(why, str) and "V100" in why and "vllm-project/vllm#27729" in why


@pytest.mark.parametrize(
    "provider, gpu, outcome",
    [("aws", "T4", "refused"), ("azure", "T4", "refused"), ("aws", "A10G", "weight-only"),
     ("azure", "A100", "weight-only"), ("aws", "L4", "w8a8"), ("gcp", "L4", "w8a8"), ("aws", "L40S", "w8a8"),
     ("gcp", "H100", "w8a8")],
)  # fmt: skip
def test_fp8_is_quantized_as_it_loads_where_the_gpu_runs_it(provider, gpu, outcome):
    how = verdict(provider, gpu, "fp8")
    if outcome == "refused":
        assert isinstance(how, str) and "fp8 needs compute capability 8.0" in how
        return
    assert isinstance(how, serving.Serving) and how.quantization == "fp8" and how.dtype == "bf16"
    assert any("weight-only" in note for note in how.notes) is (outcome == "weight-only")


@pytest.mark.parametrize(
    "provider, gpu, served",
    [("aws", "T4", True), ("aws", "L40S", True), ("azure", "A100", True), ("azure", "T4", True),
     ("gcp", "L4", False), ("gcp", "H100", False)],
)  # fmt: skip
def test_int4_is_bitsandbytes_as_it_loads_where_the_image_has_it_and_its_cost_is_stated(provider, gpu, served):
    how = verdict(provider, gpu, "int4", DS_67B)
    if not served:  # nothing says the Vertex image carries bitsandbytes
        assert isinstance(how, str) and "does not quantize to bitsandbytes" in how
        return
    assert isinstance(how, serving.Serving) and how.quantization == "bitsandbytes"
    assert any("slower than AWQ" in note for note in how.notes)


def test_int8_needs_a_pre_quantized_checkpoint_everywhere():
    for provider, gpu in (("aws", "L4"), ("gcp", "H100"), ("azure", "A100")):
        why = verdict(provider, gpu, "int8")
        assert isinstance(why, str) and "--quantized-model" in why


def test_an_awq_checkpoint_is_read_by_vllm_itself_in_fp16():
    for provider, gpu in (("aws", "T4"), ("aws", "L40S"), ("gcp", "L4"), ("azure", "A100")):
        how = verdict(provider, gpu, model=DS_67B, quantized_model="TheBloke/deepseek-llm-67b-chat-AWQ")
        assert isinstance(how, serving.Serving), (provider, gpu, how)
        assert (how.checkpoint, how.quantization, how.dtype) == ("TheBloke/deepseek-llm-67b-chat-AWQ", None, "fp16")


def test_an_fp8_checkpoint_needs_ampere_at_least():
    checkpoint = "neuralmagic/DeepSeek-R1-Distill-Qwen-1.5B-FP8-dynamic"
    model = "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"
    assert isinstance(verdict("aws", "T4", model=model, quantized_model=checkpoint), str)
    how = verdict("aws", "A10G", model=model, quantized_model=checkpoint)
    assert isinstance(how, serving.Serving) and how.quantization is None and how.checkpoint == checkpoint


def test_a_region_without_the_lmi_image_is_refused():
    need = sizing.need(R1_7B)
    assert isinstance(serving.verdict(need, "aws", "eu-west-1", "A10G"), serving.Serving)
    for region in ("ap-east-2", "cn-north-1", "us-gov-west-1", "mars-1"):
        why = serving.verdict(need, "aws", region, "A10G")
        assert isinstance(why, str) and f"not published in {region}" in why


# --- sizing what is really loaded ----------------------------------------------------------------------------


def test_in_flight_fp8_loads_the_16_bit_weights_first():
    need = sizing.need(DS_67B, precision="fp8")
    assert need.method == "fp8-dynamic" and need.load_bytes == need.params * 2 > need.weights_bytes


def test_a_pre_quantized_checkpoint_is_sized_from_its_own_config():
    need = sizing.need(DS_67B, quantized_model="TheBloke/deepseek-llm-67b-chat-AWQ")
    assert need.precision is Precision.int4 and need.method == "awq"
    assert need.weights_bytes == pytest.approx(37.51e9, rel=0.002)  # the checkpoint's four shards add up to this


def test_a_checkpoint_of_another_model_or_precision_is_refused():
    with pytest.raises(InvalidInput, match="is not a quantization of deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"):
        sizing.need(R1_7B, quantized_model="TheBloke/deepseek-llm-67b-chat-AWQ")
    with pytest.raises(InvalidInput, match="is int4 .* not fp8"):
        sizing.need(DS_67B, precision="fp8", quantized_model="TheBloke/deepseek-llm-67b-chat-AWQ")


def test_the_startup_estimate_warns_only_past_a_providers_limit():
    small = sizing.need(R1_7B)
    assert serving.startup_warning(small, "aws", 1) is None
    huge = sizing.need("deepseek-ai/DeepSeek-V3")
    warning = serving.startup_warning(huge, "aws", 8)
    assert warning and "60-minute start-up limit" in warning
    assert serving.startup_warning(huge, "azure", 8) is None  # no documented limit: the probes are sized instead
