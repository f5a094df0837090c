"""What each provider's request tells the container, per precision and GPU: dry runs, nothing sent.

Specs come from the real path (plan -> placement -> spec); requests from each adapter's render_requests, which is
what create() sends. bf16 / fp16 / fp8 / int8 / int4 on T4, A10G, L4, L40S, A100 and H100.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from cloudrun import api
from cloudrun.cli import app
from cloudrun.errors import InvalidInput
from cloudrun.models import DeploySpec

R1_7B = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
R1_1B = "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"  # small enough for a 16 GB T4
DS_67B = "deepseek-ai/deepseek-llm-67b-chat"
AWQ_67B = "TheBloke/deepseek-llm-67b-chat-AWQ"
ROLE = "arn:aws:iam::123456789012:role/given"


@pytest.fixture(autouse=True)
def no_host_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "CLOUDRUN_AZUREML_IMAGE", "CLOUDRUN_VERTEX_API_ENDPOINT",
                 "CLOUDRUN_SANDBOX_CREDENTIALS", "CLOUDRUN_AZURE_ARM_ENDPOINT"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def spec(provider: str, instance_type: str, model: str = R1_7B, **options: Any) -> DeploySpec:
    plan = api.prepare_deploy(model, cheapest=False, provider=provider, instance_type=instance_type, hours=1,
                              grants=[], **options)  # fmt: skip
    return plan.spec(plan.placements[0])


def aws_env(instance_type: str, model: str = R1_7B, **options: Any) -> dict[str, str]:
    from cloudrun.providers.aws import SageMakerProvider

    adapter = SageMakerProvider(client_factory=lambda *_: None, role_arn=ROLE)
    (_, created), *_ = adapter.render_requests(spec("aws", instance_type, model, **options))
    return created["PrimaryContainer"]["Environment"]


def vertex_container(machine: str, model: str = R1_7B, **options: Any) -> dict[str, Any]:
    from cloudrun.providers.gcp import VertexProvider

    adapter = VertexProvider(client_factory=lambda *_: None, project="p")
    (_, upload), *_ = adapter.render_requests(spec("gcp", machine, model, **options))
    return upload["model"]["container_spec"]


def azure_deployment(size: str, model: str = R1_7B, **options: Any) -> dict[str, Any]:
    from cloudrun.providers.azure import AzureMLProvider

    adapter = AzureMLProvider(subscription_id="s", resource_group="r", workspace="w", credential=object())
    _, (_, deployment), _ = adapter.render_requests(spec("azure", size, model, **options))
    return deployment


# --- SageMaker (LMI) -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "instance_type, dtype",
    [("ml.g4dn.xlarge", "fp16"), ("ml.g5.xlarge", "bf16"), ("ml.g6.xlarge", "bf16"), ("ml.g6e.xlarge", "bf16"),
     ("ml.p4d.24xlarge", "bf16"), ("ml.p5.48xlarge", "bf16")],
)  # fmt: skip
def test_sagemaker_dtype_follows_the_gpu(instance_type, dtype):
    env = aws_env(instance_type, R1_1B)
    assert env["OPTION_DTYPE"] == dtype and "OPTION_QUANTIZE" not in env and env["HF_MODEL_ID"] == R1_1B


def test_sagemaker_fp8_and_int4_are_quantized_by_vllm_as_it_loads():
    assert aws_env("ml.g6.xlarge", precision="fp8")["OPTION_QUANTIZE"] == "fp8"
    env = aws_env("ml.g6e.xlarge", DS_67B, precision="int4")  # the 67B on one L40S: 4-bit weights, not 135 GB
    assert env["OPTION_QUANTIZE"] == "bitsandbytes" and env["HF_MODEL_ID"] == DS_67B


def test_sagemaker_serves_a_pre_quantized_checkpoint_without_a_quantize_option():
    env = aws_env("ml.g6e.xlarge", DS_67B, quantized_model=AWQ_67B)
    assert env["HF_MODEL_ID"] == AWQ_67B and "OPTION_QUANTIZE" not in env and env["OPTION_DTYPE"] == "fp16"


def test_sagemaker_image_comes_from_the_regions_registry():
    from cloudrun.providers.aws import SageMakerProvider

    adapter = SageMakerProvider(client_factory=lambda *_: None, role_arn=ROLE)
    base = spec("aws", "ml.g5.xlarge")
    for region, account in (("us-east-1", "763104351884"), ("af-south-1", "626614931356"),
                            ("eu-south-1", "692866216735")):  # fmt: skip
        (_, created), *_ = adapter.render_requests(base.model_copy(update={"region": region}))
        assert created["PrimaryContainer"]["Image"] == (
            f"{account}.dkr.ecr.{region}.amazonaws.com/djl-inference:0.36.0-lmi18.0.0-cu128"
        )
    with pytest.raises(InvalidInput, match="no LMI serving image is published for SageMaker in 'ap-east-2'"):
        adapter.render_requests(base.model_copy(update={"region": "ap-east-2"}))


def test_a_precision_no_gpu_here_can_serve_is_exit_2_with_the_fix():
    with pytest.raises(InvalidInput, match="fp8 needs compute capability 8.0"):
        spec("aws", "ml.g4dn.xlarge", precision="fp8")
    with pytest.raises(InvalidInput, match="--quantized-model"):
        spec("aws", "ml.g6.xlarge", precision="int8")


# --- Vertex AI -----------------------------------------------------------------------------------------------


def args_of(container: dict[str, Any]) -> dict[str, str]:
    return dict(arg[2:].split("=", 1) for arg in container["args"] if arg.startswith("--") and "=" in arg)


@pytest.mark.parametrize(
    "machine, quantization, shm",
    [("g2-standard-4", None, 8192), ("g2-standard-8", None, 16384), ("a2-highgpu-1g", None, 16384),
     ("a3-highgpu-1g", None, 16384)],
)  # fmt: skip
def test_vertex_sends_dtype_and_at_most_half_the_ram_as_shared_memory(machine, quantization, shm):
    container = vertex_container(machine)
    assert args_of(container)["dtype"] == "bfloat16" and "quantization" not in args_of(container)
    assert container["shared_memory_size_mb"] == shm
    assert container["image_uri"].endswith("pytorch-vllm-serve:20251205_0916_RC01")


def test_vertex_fp8_on_l4_and_h100_and_a_pre_quantized_checkpoint():
    assert args_of(vertex_container("g2-standard-8", precision="fp8"))["quantization"] == "fp8"
    assert args_of(vertex_container("a3-highgpu-1g", precision="fp8"))["quantization"] == "fp8"
    awq = args_of(vertex_container("a2-ultragpu-1g", DS_67B, quantized_model=AWQ_67B))
    assert awq["model"] == AWQ_67B and awq["dtype"] == "float16" and "quantization" not in awq


def test_vertex_has_no_in_flight_int4():
    with pytest.raises(InvalidInput, match="does not quantize to bitsandbytes"):
        spec("gcp", "g2-standard-48", DS_67B, precision="int4")


# --- Azure ML ------------------------------------------------------------------------------------------------


def vllm_args(deployment: dict[str, Any]) -> str:
    return deployment["environment_variables"]["VLLM_ARGS"]


@pytest.mark.parametrize(
    "size, dtype",
    [("Standard_NC4as_T4_v3", "half"), ("Standard_NV36ads_A10_v5", "bfloat16"),
     ("Standard_NC24ads_A100_v4", "bfloat16"), ("Standard_NC40ads_H100_v5", "bfloat16")],
)  # fmt: skip
def test_azure_dtype_follows_the_gpu(size, dtype):
    assert f"--dtype {dtype}" in vllm_args(azure_deployment(size, R1_1B))


def test_azure_quantization_and_checkpoint_reach_vllm():
    assert "--quantization fp8" in vllm_args(azure_deployment("Standard_NC40ads_H100_v5", precision="fp8"))
    int4 = azure_deployment("Standard_NC24ads_A100_v4", DS_67B, precision="int4")
    assert "--quantization bitsandbytes" in vllm_args(int4)
    awq = azure_deployment("Standard_NC24ads_A100_v4", DS_67B, quantized_model=AWQ_67B)
    assert awq["environment_variables"]["VLLM_MODEL"] == AWQ_67B and "--quantization" not in vllm_args(awq)


def test_azure_v100_is_not_offered():
    with pytest.raises(InvalidInput, match="vllm-project/vllm#27729"):
        spec("azure", "Standard_NC6s_v3")


def test_azure_probes_are_sized_to_the_model():
    small = azure_deployment("Standard_NC4as_T4_v3", R1_1B)
    big = azure_deployment("Standard_NC96ads_A100_v4", DS_67B)
    for deployment in (small, big):
        ready, live = deployment["readiness_probe"], deployment["liveness_probe"]
        assert ready["initial_delay"] <= 120  # readiness starts within minutes, even for a 67B
        assert ready["failure_threshold"] * ready["period"] >= live["initial_delay"]  # and covers the load time
    assert big["liveness_probe"]["initial_delay"] >= 3600  # a 67B still downloading is never killed
    assert small["liveness_probe"]["initial_delay"] < big["liveness_probe"]["initial_delay"]


# --- the "Done when", as a user runs it -----------------------------------------------------------------


def test_deploy_int4_of_the_67b_sends_a_request_that_loads_int4_weights(monkeypatch):
    result = CliRunner().invoke(app, ["deploy", DS_67B, "--precision", "int4", "--provider", "aws", "--dry-run",
                                      "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    env = doc["requests"][0]["params"]["PrimaryContainer"]["Environment"]
    assert env["OPTION_QUANTIZE"] == "bitsandbytes"
    variant = doc["requests"][1]["params"]["ProductionVariants"][0]
    assert variant["InstanceType"] in {"ml.g6e.xlarge", "ml.g6e.2xlarge"}  # 48 GB holds the 4-bit 67B, not 135 GB


def test_deploy_spot_asks_vertex_for_spot_vms_and_is_refused_elsewhere():
    runner = CliRunner()
    result = runner.invoke(app, ["deploy", R1_7B, "--spot", "--provider", "gcp", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    deploy = json.loads(result.stdout)["requests"][2]["params"]["deployed_model"]
    assert deploy["dedicated_resources"]["spot"] is True
    assert "reclaimed" in result.stderr  # the plan states the preemption risk
    refused = runner.invoke(app, ["deploy", R1_7B, "--spot", "--provider", "aws", "--dry-run"])
    assert refused.exit_code == 2 and "only Vertex AI serves endpoints on spot VMs" in refused.output
