"""The fakes refuse what the clouds' containers refuse: accepted at create, failed once the container starts.

What the first cut sent (bf16 to a T4, a 4-bit plan that loads 16-bit weights, 16 GB of shared memory on a 16 GB VM)
is accepted by every cloud and never serves. The sandbox's container model (cloudrun.sandbox.fake_vllm) makes each
fake fail such an endpoint the way its cloud reports it, while the requests cloudrun now sends come up.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from cloudrun.models import DeploySpec, EndpointState, Precision
from cloudrun.providers.aws import SageMakerProvider
from cloudrun.sandbox import fake_vllm
from cloudrun.sandbox.moto_lifecycle import emulate_startup
from cloudrun.sandbox.moto_types import widen_instance_types
from tests.aws_fixtures import REGION, ROLE_ARN, fake_credentials

DS_67B = "deepseek-ai/deepseek-llm-67b-chat"
R1_1B = "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    fake_credentials(monkeypatch, tmp_path)
    widen_instance_types()
    emulate_startup(0)
    with mock_aws():
        yield


def aws_spec(name: str, model: str, instance_type: str, **changes: object) -> DeploySpec:
    gpus = fake_vllm.aws_gpus(instance_type)[1]
    fields = {"name": name, "model_id": model, "provider": "aws", "service": "sagemaker", "region": REGION,
              "instance_type": instance_type, "gpu_count": gpus, "tensor_parallel": gpus, "context": 4096,
              "precision": Precision.bf16}  # fmt: skip
    return DeploySpec(**{**fields, **changes})


def comes_up(provider: SageMakerProvider, spec: DeploySpec) -> tuple[bool, str]:
    endpoint = provider.describe(provider.create(spec))
    if endpoint.state is EndpointState.failed:
        return False, provider.failure_error(endpoint).message
    return endpoint.state is EndpointState.in_service, ""


def test_sagemaker_fails_bf16_on_a_t4_and_serves_fp16(moto):
    provider = SageMakerProvider(role_arn=ROLE_ARN, sleep=lambda _: None)
    up, why = comes_up(provider, aws_spec("t4-bf16", R1_1B, "ml.g4dn.xlarge", dtype="bf16"))
    assert not up and "did not pass the ping health check" in why  # SageMaker's own reason
    assert "Bfloat16 is only supported on GPUs with compute capability of at least 8.0" in why  # from its logs
    assert comes_up(provider, aws_spec("t4-fp16", R1_1B, "ml.g4dn.xlarge", dtype="fp16")) == (True, "")


def test_sagemaker_fails_an_int4_plan_that_loads_16_bit_weights(moto):
    provider = SageMakerProvider(role_arn=ROLE_ARN, sleep=lambda _: None)
    old = aws_spec("int4-as-sent", DS_67B, "ml.g6e.xlarge", precision=Precision.int4)  # no quantization reached it
    up, why = comes_up(provider, old)
    assert not up and "CUDA out of memory" in why
    fixed = aws_spec("int4-bnb", DS_67B, "ml.g6e.xlarge", precision=Precision.int4, quantization="bitsandbytes")
    assert comes_up(provider, fixed) == (True, "")


def test_the_container_model_refuses_what_vllm_refuses():
    def start(**changes: object) -> str | None:
        launch = {"image": "vllm/vllm-openai:v0.11.0", "model": R1_1B, "dtype": "half", "quantization": None,
                  "tensor_parallel": 1, "gpu": "T4", "gpu_count": 1}  # fmt: skip
        return fake_vllm.start(fake_vllm.Launch(**{**launch, **changes}))  # type: ignore[arg-type]

    assert start() is None
    assert "Bfloat16 is only supported" in (start(dtype="bfloat16") or "")
    assert "Minimum capability: 80. Current capability: 75." in (start(quantization="fp8") or "")
    assert "vllm-project/vllm#27729" in (start(gpu="V100") or "")
    assert "Unknown quantization method" in (start(quantization="int8-magic") or "")
    assert "shared memory" in (start(gpu="L4", dtype="auto", shared_memory_mb=16384, host_memory_gb=16) or "")
    assert start(image="someone/else:1", gpu="V100") is None  # an image the sandbox does not know: not judged


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_vertex_fails_a_deploy_whose_shared_memory_is_the_whole_vm(monkeypatch):
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import aiplatform_v1

    from cloudrun.sandbox import vertex_fake

    fake = vertex_fake.start()
    try:
        options = {"transport": "rest", "credentials": AnonymousCredentials(),
                   "client_options": ClientOptions(api_endpoint=fake.url)}  # fmt: skip
        models, endpoints = aiplatform_v1.ModelServiceClient(**options), aiplatform_v1.EndpointServiceClient(**options)
        parent = "projects/p/locations/us-central1"
        outcomes = {}
        for shm in (16384, 8192):  # Google's notebook value, then what cloudrun sends on g2-standard-4 (16 GB)
            container = {"image_uri": "us-docker.pkg.dev/vertex-ai/vertex-vision-model-garden-dockers/pytorch-vllm-"
                         "serve:20251205_0916_RC01", "args": [f"--model={R1_1B}", "--dtype=bfloat16"],
                         "shared_memory_size_mb": shm}  # fmt: skip
            upload = models.upload_model(parent=parent, model={"display_name": "m", "container_spec": container})
            model = models.get_operation(request={"name": upload.operation.name})
            model_name = aiplatform_v1.UploadModelResponse.deserialize(model.response.value).model
            created = endpoints.create_endpoint(parent=parent, endpoint={"display_name": "e"})
            done = endpoints.get_operation(request={"name": created.operation.name})
            endpoint = aiplatform_v1.Endpoint.deserialize(done.response.value).name
            machine = {"machine_type": "g2-standard-4", "accelerator_type": "NVIDIA_L4", "accelerator_count": 1}
            deployed = {"model": model_name, "dedicated_resources": {"machine_spec": machine, "min_replica_count": 1,
                                                                      "max_replica_count": 1}}  # fmt: skip
            started = endpoints.deploy_model(endpoint=endpoint, deployed_model=deployed)
            for _ in range(50):
                operation = endpoints.get_operation(request={"name": started.operation.name})
                if operation.done:
                    break
                time.sleep(0.02)
            outcomes[shm] = operation.error.message if operation.HasField("error") else "served"
        assert "Model server never became ready" in outcomes[16384] and "shared memory" in outcomes[16384]
        assert outcomes[8192] == "served"
    finally:
        fake.stop()


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_azure_fails_bf16_on_a_t4_through_the_wrapper_and_serves_fp16(monkeypatch, tmp_path):
    from cloudrun.providers.azure import AzureMLProvider
    from cloudrun.sandbox import azure_fake

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AZUREML_CURRENT_CLOUD", "AzureCloud")  # MLClient sets it process-wide; restored after
    fake = azure_fake.start()
    try:
        for name, value in azure_fake.environment(fake).items():
            monkeypatch.setenv(name, value)
        adapter = AzureMLProvider(sleep=lambda _: None, deadline_s=5)
        fields = {"model_id": R1_1B, "provider": "azure", "service": "azureml", "region": "eastus",
                  "instance_type": "Standard_NC4as_T4_v3", "gpu_count": 1, "tensor_parallel": 1, "context": 4096,
                  "precision": Precision.bf16}  # fmt: skip
        states = {}
        for dtype in ("bf16", "fp16"):
            ref = adapter.create(DeploySpec(name=f"t4-{dtype}", dtype=dtype, **fields))
            for _ in range(100):
                endpoint = adapter.describe(ref)
                if endpoint.state in (EndpointState.in_service, EndpointState.failed):
                    break
                time.sleep(0.05)
            states[dtype] = (endpoint.state, endpoint.failure_reason or "")
        assert states["bf16"][0] is EndpointState.failed and "Bfloat16 is only supported" in states["bf16"][1]
        assert states["fp16"][0] is EndpointState.in_service
    finally:
        fake.stop()
