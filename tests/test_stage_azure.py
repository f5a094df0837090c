"""Staging into the Azure ML workspace's storage account (the sandbox's Blob fake, through the ARM fake) and a
deployment that mounts the staged weights as a model asset, with no token; the fakes refuse what Azure refuses."""

from __future__ import annotations

import pytest

from cloudrun import staging
from cloudrun.errors import Conflict, InvalidInput
from cloudrun.models import EndpointState
from cloudrun.sandbox import azure_fake, azure_fake_models, fake_vllm, hub_fake
from cloudrun.sandbox.blob_fake import handle
from tests.hub_fixtures import serve_hub
from tests.test_azure_adapter import REGION, azure_env, provider, sandbox, spec, wait_until  # noqa: F401

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]
MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"


@pytest.fixture
def hub(monkeypatch, sandbox):  # noqa: F811 - the fixture imported above
    yield from serve_hub(monkeypatch, 9 * 1024 * 1024)  # above the 8 MiB block: Put Block + Put Block List


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
    datastore = store.bucket.replace("-", "_")
    prefix = f"{MODEL}/{hub_fake.COMMIT}/"
    uri = sandbox.arm.models[("r1-staged", "1")]["properties"]["modelUri"]
    assert uri.startswith("azureml://subscriptions/") and uri.endswith(f"/datastores/{datastore}/paths/{prefix}")
    properties = sandbox.arm.datastores[datastore]["properties"]
    assert (properties["accountName"], properties["containerName"]) == (sandbox.arm.blob.account, store.bucket)
    assert properties["credentials"] == {"credentialsType": "None"}  # identity-based: no key kept in the workspace
    assert properties["tags"] == {"cloudrun-managed": "true"}
    assert "hf_must_not_leak" not in str(deployment)
    # in service: the wrapper found the copy below the mount path, at MOUNT/NAME/VERSION/FOLDER (the docs' layout)
    folder = f"/var/azureml-model/r1-staged/1/{hub_fake.COMMIT}"
    assert azure_fake_models.mounted(sandbox.arm, ("r1-staged", "1"), "/var/azureml-model") == {folder: MODEL}
    ref2 = adapter.create(spec("r1-again", model_id=MODEL, weights_uri=result.manifest.uri))  # the datastore reused
    wait_until(adapter, ref2, EndpointState.in_service)


def test_a_wrapper_built_before_r2_cannot_find_the_mounted_copy(sandbox, hub, monkeypatch):  # noqa: F811
    monkeypatch.setenv("CLOUDRUN_AZUREML_IMAGE", azure_fake.SANDBOX_IMAGE.removesuffix("-r2"))
    adapter = provider()
    result = staging.stage(adapter.weights_store(REGION), MODEL)
    ref = adapter.create(spec("r1-old", model_id=MODEL, weights_uri=result.manifest.uri))
    wait_until(adapter, ref, EndpointState.failed)
    assert "/var/azureml-model does not appear to have a file named config.json" in sandbox.arm._logs[("r1-old",
                                                                                                       "main")]


def test_a_datastore_of_that_name_without_the_tag_is_never_changed(sandbox, hub):  # noqa: F811
    adapter = provider()
    store = adapter.weights_store(REGION)
    result = staging.stage(store, MODEL)
    name = store.bucket.replace("-", "_")
    theirs = {"name": name, "properties": {"datastoreType": "AzureBlob", "accountName": "elsewhere",
                                           "containerName": "theirs", "credentials": {"credentialsType": "None"}}}
    sandbox.arm.datastores[name] = theirs
    with pytest.raises(Conflict, match="without cloudrun's tag"):
        adapter.create(spec("r1-theirs", model_id=MODEL, weights_uri=result.manifest.uri))
    assert sandbox.arm.datastores[name] is theirs and "r1-theirs" not in sandbox.arm.endpoints


def test_the_fake_refuses_a_model_on_a_datastore_that_does_not_exist(sandbox):  # noqa: F811
    from azure.ai.ml.entities import Model

    with pytest.raises(Exception, match="Datastore nowhere was not found"):
        provider()._ml().models.create_or_update(Model(name="m", version="1", path="azureml://datastores/nowhere/paths/x/"))


def test_the_wrapper_serves_the_shallowest_folder_with_config_json():
    folders = {"/m/r1/1/abc": "org/model", "/m/r1/1/abc/sub": "other"}
    image = azure_fake.SANDBOX_IMAGE
    assert fake_vllm.wrapper_model(image, "/m", folders) == "/m/r1/1/abc"
    assert fake_vllm.wrapper_model(image, "/m/r1/1/abc", folders) == "/m/r1/1/abc"
    assert fake_vllm.wrapper_model(image, "org/model", folders) == "org/model"  # a Hub id: as given
    assert fake_vllm.wrapper_model(image.removesuffix("-r2"), "/m", folders) == "/m"  # before r2: as given


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
