"""Staging into the Azure ML workspace's storage account (the sandbox's Blob fake, through the ARM fake) and a
deployment that mounts the staged weights as a model asset, with no token; the fakes refuse what Azure refuses."""

from __future__ import annotations

import pytest

from cloudrun import staging
from cloudrun.errors import Conflict, InvalidInput
from cloudrun.models import EndpointState
from cloudrun.sandbox import hub_fake
from cloudrun.sandbox.blob_fake import handle
from tests.test_azure_adapter import REGION, azure_env, provider, sandbox, spec, wait_until  # noqa: F401

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]
MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"


@pytest.fixture
def hub(monkeypatch, sandbox):  # noqa: F811 - the fixture imported above
    server = hub_fake.start(shard_bytes=9 * 1024 * 1024)  # above the 8 MiB block: Put Block + Put Block List
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("CLOUDRUN_OFFLINE", raising=False)
    yield server
    server.stop()


def test_stage_into_blob_then_the_deployment_mounts_it_with_no_token(sandbox, hub, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HF_TOKEN", "hf_must_not_leak")
    adapter = provider()
    store = adapter.weights_store(REGION)
    result = staging.stage(store, MODEL)
    container = sandbox.arm.blob.containers[store.bucket]
    assert container["metadata"] == {"cloudrun_managed": "true", "cloudrun_purpose": "model_weights"}
    shard = "model-00001-of-00002.safetensors"
    assert container["blobs"][f"{MODEL}/{hub_fake.COMMIT}/{shard}"]["data"] == hub.state.repo(MODEL)[shard]
    assert staging.complete_manifest(store, MODEL) is not None
    staged_spec = spec("r1-staged", model_id=MODEL, weights_uri=result.manifest.uri)
    ref = adapter.create(staged_spec)
    wait_until(adapter, ref, EndpointState.in_service)
    deployment = sandbox.arm.deployments[("r1-staged", "main")]["properties"]
    assert deployment["modelMountPath"] == "/var/azureml-model"
    assert deployment["environmentVariables"]["VLLM_MODEL"] == "/var/azureml-model"
    assert deployment["model"].endswith("/models/r1-staged/versions/1")
    assert sandbox.arm.models[("r1-staged", "1")]["properties"]["modelUri"] == result.manifest.uri
    assert "hf_must_not_leak" not in str(deployment)


def test_a_copy_without_manifest_is_refused_and_a_model_path_without_blobs_is_refused_by_the_fake(sandbox, hub):  # noqa: F811
    adapter = provider()
    store = adapter.weights_store(REGION)
    result = staging.stage(store, MODEL)
    store.delete([f"{MODEL}/{hub_fake.COMMIT}/{staging.MANIFEST}"])
    with pytest.raises(InvalidInput, match="not complete"):
        adapter.create(spec("r1-half", model_id=MODEL, weights_uri=result.manifest.uri))
    assert "r1-half" not in sandbox.arm.endpoints
    from azure.ai.ml.entities import Model

    with pytest.raises(Exception, match="No files were found"):
        adapter._ml().models.create_or_update(Model(name="empty", version="1", path=store.uri("nothing/")))


def test_the_blob_fake_refuses_what_blob_storage_refuses(sandbox):  # noqa: F811
    blob = sandbox.arm.blob
    auth = {"x-ms-version": "2021-08-06", "authorization": "Bearer t"}
    base = f"/blob/{blob.account}"
    assert handle(blob, "PUT", f"{base}/Bad--Name?restype=container", auth, b"")[0] == 400
    assert handle(blob, "PUT", f"{base}/good-name?restype=container", {"authorization": "Bearer t"}, b"")[0] == 400
    assert handle(blob, "PUT", f"{base}/good-name?restype=container", auth, b"")[0] == 201
    status, headers, _ = handle(blob, "PUT", f"{base}/good-name?restype=container", auth, b"")
    assert (status, headers["x-ms-error-code"]) == (409, "ContainerAlreadyExists")
    bad_meta = {**auth, "x-ms-meta-cloudrun-managed": "true"}
    assert handle(blob, "PUT", f"{base}/good-name/x", bad_meta, b"1")[0] == 400
    listing = b'<?xml version="1.0"?><BlockList><Latest>QUFB</Latest></BlockList>'
    status, headers, _ = handle(blob, "PUT", f"{base}/good-name/x?comp=blocklist", auth, listing)
    assert (status, headers["x-ms-error-code"]) == (400, "InvalidBlockList")


def test_a_container_of_that_name_without_the_mark_is_never_written(sandbox, hub):  # noqa: F811
    store = provider().weights_store(REGION)
    sandbox.arm.blob.containers[store.bucket] = {"metadata": {}, "blobs": {}, "blocks": {}}
    with pytest.raises(Conflict, match="without cloudrun's mark"):
        staging.stage(store, MODEL)


def test_staging_azure_elsewhere_than_the_workspace_region_is_refused(sandbox):  # noqa: F811
    with pytest.raises(InvalidInput, match="use --region eastus"):
        provider().weights_store("westus")
