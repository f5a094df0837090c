"""Tag-exact deletes on Azure ML: a deployment without cloudrun's tag is never deleted, even inside a tagged endpoint.

Deleting an Azure ML online endpoint deletes every deployment in it, so the adapter deletes only the tagged
deployments (one by one) and keeps the endpoint when anything untagged is inside, refusing with Conflict. A tagged
endpoint holding someone's deployment that cloudrun has no record of is a look-alike: `down --all` reports it
once and records nothing, so later teardowns and watches do not fail on it. The real MLClient and the CLI run
against the ARM fake (https on loopback).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloudrun import api
from cloudrun.cli import app
from cloudrun.errors import Conflict
from cloudrun.models import DEPLOYMENT_TAG, MANAGED_TAG, DeploySpec, Precision
from cloudrun.providers.azure import AzureMLProvider
from cloudrun.sandbox import azure_fake
from cloudrun.state import StateStore

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]
REGION = "eastus"
runner = CliRunner()


@pytest.fixture
def arm(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[azure_fake.FakeArm]:
    fake = azure_fake.start()
    monkeypatch.chdir(tmp_path)  # no Azure ML config.json from the developer's folder
    monkeypatch.setenv("AZUREML_CURRENT_CLOUD", "AzureCloud")  # MLClient sets it process-wide; restored after
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in azure_fake.environment(fake).items():
        monkeypatch.setenv(name, value)
    yield fake.arm
    fake.stop()


def tags(name: str) -> dict[str, str]:
    return {MANAGED_TAG: "true", DEPLOYMENT_TAG: name}


def deployments(arm: azure_fake.FakeArm) -> list[str]:
    """Return endpoint/deployment of every deployment the fake holds once due deletions are done."""
    with arm._lock:
        arm.settle()
        return sorted(f"{endpoint}/{name}" for endpoint, name in arm.deployments)


def test_an_untagged_deployment_in_a_tagged_endpoint_survives_down_all_and_is_reported_once(arm):
    arm.add_endpoint("lookalike", tags=tags("lookalike"))
    arm.add_deployment("lookalike", "main", tags=tags("lookalike"))
    arm.add_deployment("lookalike", "theirs", tags={"team": "research"})
    arm.add_endpoint("orphan", tags=tags("orphan"))  # cloudrun's own, with no record here: adopted and removed
    arm.add_deployment("orphan", "main", tags=tags("orphan"))

    for attempt in range(2):  # the first down --all, and any later run: neither fails on the look-alike
        result = runner.invoke(app, ["down", "--all", "--provider", "azure", "--yes", "--json"])

        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        (refused,) = report["refused"]
        assert refused.startswith("lookalike ") and "deployment theirs" in refused and "main" not in refused
        assert [o["name"] for o in report["deleted"]] == (["orphan"] if attempt == 0 else [])
        assert report["failed"] == [] and report["problems"] == []
    assert deployments(arm) == ["lookalike/main", "lookalike/theirs"]
    assert sorted(arm.endpoints) == ["lookalike"]
    with StateStore() as state:
        assert state.get("lookalike") is None  # never recorded, so nothing retries (and fails) on it
    deletes = [path for method, path in arm.requests if method == "DELETE"]
    assert deletes and not [path for path in deletes if "lookalike" in path]


def test_down_of_cloudrun_s_own_endpoint_deletes_only_its_tagged_deployment_and_names_the_other(arm):
    spec = DeploySpec(name="ds-32b", model_id="deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", provider="azure",
                      service="azureml", region=REGION, instance_type="Standard_NC24ads_A100_v4", gpu_count=1,
                      tensor_parallel=1, context=8192, precision=Precision.bf16)  # fmt: skip
    load = api.provider_loader({"azure": {"sleep": lambda _s: None}})
    adapter: AzureMLProvider = load("azure")  # type: ignore[assignment]
    with StateStore() as state:
        state.record_intent(spec, price_per_hour_usd=Decimal(4), price_source="test")
        state.mark_creating("ds-32b", adapter.create(spec))
        arm.add_deployment("ds-32b", "blue", tags={"team": "research"})  # someone's, inside cloudrun's endpoint

        with pytest.raises(Conflict, match="ds-32b holds deployment blue without the cloudrun-managed=true tag") as no:
            api.down(state, load, "ds-32b")

        assert "removed deployment main" in no.value.message and "blue are kept" in no.value.message
        assert state.get("ds-32b").status.live  # given back: it is still there, and still recorded
    assert deployments(arm) == ["ds-32b/blue"] and sorted(arm.endpoints) == ["ds-32b"]
