"""The deploy tests' fixtures: moto in process taught the GPU hosting types, SageMaker's endpoint quotas and, where a
test needs it, a Creating phase; a real state store over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from cloudrun.sandbox.moto_lifecycle import emulate_startup
from cloudrun.sandbox.moto_quotas import emulate_sagemaker_quotas
from cloudrun.sandbox.moto_types import widen_instance_types
from cloudrun.state import StateStore
from tests.aws_fixtures import REGION


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """moto in process, fake credentials only, endpoints InService at once (reset afterwards too)."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
                        "AWS_CONFIG_FILE": str(tmp_path / "none"),
                        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "CLOUDRUN_SAGEMAKER_ROLE_ARN", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    widen_instance_types()
    emulate_sagemaker_quotas()
    emulate_startup(0)
    try:
        with mock_aws():
            yield
    finally:
        emulate_startup(0)


@pytest.fixture
def state(cloud: None) -> Iterator[StateStore]:
    with StateStore() as store:
        yield store
