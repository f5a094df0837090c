"""Azure ML needs the vLLM wrapper image (the sandbox names one, as an account would): refused up front without it."""

import pytest

from cloudrun.errors import InvalidInput
from cloudrun.models import DeploySpec, Precision
from cloudrun.providers.azure import AzureMLProvider

SPEC = DeploySpec(
    name="r1-qwen-32b", model_id="deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", provider="azure", service="azureml",
    region="eastus", instance_type="Standard_NC24ads_A100_v4", gpu_count=1, tensor_parallel=1, context=4096,
    precision=Precision.bf16,
)  # fmt: skip


@pytest.fixture
def provider(monkeypatch):
    for name in ("CLOUDRUN_AZURE_ARM_ENDPOINT", "CLOUDRUN_SANDBOX_CREDENTIALS", "CLOUDRUN_AZUREML_IMAGE"):
        monkeypatch.delenv(name, raising=False)
    return AzureMLProvider(subscription_id="sub", resource_group="rg", workspace="ws", credential=object())


def test_the_stock_image_makes_the_placement_unavailable_with_the_fix(provider):
    reason = provider.unavailable_reason(SPEC)
    assert reason and "CLOUDRUN_AZUREML_IMAGE" in reason and "cloudrun azure build-image" in reason


def test_create_refuses_before_any_request(provider):
    # Sockets are disabled in tests: reaching the network would raise something else than InvalidInput.
    with pytest.raises(InvalidInput, match="CLOUDRUN_AZUREML_IMAGE"):
        provider.create(SPEC)


def test_a_wrapper_image_makes_it_available(provider, monkeypatch):
    monkeypatch.setenv("CLOUDRUN_AZUREML_IMAGE", "myregistry.azurecr.io/vllm-wrapper:1")
    assert provider.unavailable_reason(SPEC) is None
