"""What the two Vertex adapter test files share: the deploy spec, a started fake, waiting for a state.

Plain functions, not conftest fixtures: each test file declares its own `fake` and `vertex` fixtures over
`start_fake`, so where a fixture comes from is visible in the file that uses it.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from cloudrun.models import DeploySpec, Endpoint, EndpointRef, EndpointState, Precision
from cloudrun.providers.gcp import VertexProvider
from cloudrun.sandbox import vertex_fake
from cloudrun.sandbox.vertex_fake import VertexSandbox

REGION = "us-central1"
DEPLOY_DELAY_S = 0.3


def loopback(test: Any) -> Any:
    """Let a test open sockets to 127.0.0.1 only (pytest-socket blocks everything else)."""
    return pytest.mark.enable_socket(pytest.mark.allow_hosts(["127.0.0.1"])(test))


def spec(name: str = "r1-7b", **changes: Any) -> DeploySpec:
    fields: dict[str, Any] = {
        "name": name,
        "model_id": "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
        "provider": "gcp",
        "service": "vertex",
        "region": REGION,
        "instance_type": "g2-standard-8",
        "gpu_count": 1,
        "tensor_parallel": 1,
        "context": 8192,
        "precision": Precision.bf16,
    }
    return DeploySpec(**{**fields, **changes})


def start_fake(monkeypatch: pytest.MonkeyPatch) -> VertexSandbox:
    """Return a started Vertex fake, with this test's environment pointing the adapter at it (stop it after)."""
    sandbox = vertex_fake.start(deploy_delay_s=DEPLOY_DELAY_S)
    for name, value in vertex_fake.environment(sandbox.url).items():
        monkeypatch.setenv(name, value)
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return sandbox


def wait_until(provider: VertexProvider, ref: EndpointRef, state: EndpointState) -> Endpoint:
    deadline = time.monotonic() + 5
    while True:
        endpoint = provider.describe(ref)
        if endpoint.state is state or time.monotonic() > deadline:
            return endpoint
        time.sleep(0.05)
