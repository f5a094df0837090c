"""Staging into Cloud Storage (the sandbox's fake, on the Vertex fake's port) and a Vertex deploy that loads from it:
artifact_uri, --model=$(AIP_STORAGE_URI), no token; the fake refuses what Cloud Storage and Vertex refuse."""

from __future__ import annotations

import pytest

from cloudrun import staging
from cloudrun.errors import CloudrunError, Conflict, InvalidInput
from cloudrun.sandbox import hub_fake
from tests.gcp_fixtures import REGION, loopback, spec, start_fake
from tests.hub_fixtures import serve_hub

MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"


@pytest.fixture
def hub(monkeypatch, fake):
    yield from serve_hub(monkeypatch, 300 * 1024)  # two chunks of 256 KiB multiples, then the rest


@pytest.fixture
def fake(monkeypatch):
    sandbox = start_fake(monkeypatch)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def vertex(fake):
    from cloudrun.providers.gcp import VertexProvider

    return VertexProvider(sleep=lambda _s: None)


@loopback
def test_stage_into_gcs_then_deploy_loads_from_it_with_no_token(fake, vertex, hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_must_not_leak")
    store = vertex.weights_store(REGION)
    result = staging.stage(store, MODEL)
    bucket = fake.state.storage.buckets[store.bucket]
    assert bucket["record"]["labels"]["cloudrun-managed"] == "true"
    assert result.manifest.uri == f"gs://{store.bucket}/{MODEL}/{hub_fake.COMMIT}/"
    assert staging.complete_manifest(store, MODEL) is not None
    shard = "model-00001-of-00002.safetensors"
    assert bucket["objects"][f"{MODEL}/{hub_fake.COMMIT}/{shard}"]["data"] == hub.state.repo(MODEL)[shard]
    vertex.create(spec("r1-staged", weights_uri=result.manifest.uri))
    model = next(iter(fake.state.models.values()))
    assert model["artifactUri"] == result.manifest.uri
    assert "--model=$(AIP_STORAGE_URI)" in model["containerSpec"]["args"]
    assert "hf_must_not_leak" not in str(model)


@loopback
def test_vertex_refuses_an_artifact_uri_with_nothing_under_it_and_the_adapter_a_copy_without_manifest(fake, vertex,
                                                                                                     hub):  # fmt: skip
    store = vertex.weights_store(REGION)
    result = staging.stage(store, MODEL)
    store.delete([f"{MODEL}/{hub_fake.COMMIT}/{staging.MANIFEST}"])
    with pytest.raises(InvalidInput, match="not complete"):
        vertex.create(spec("r1-half", weights_uri=result.manifest.uri))
    from cloudrun.providers import gcp_template

    plan = gcp_template.requests(spec("r1-none", weights_uri=f"gs://{store.bucket}/nothing/"), "p", None)
    with pytest.raises(CloudrunError, match="no files under"):
        vertex._run_operation("model", REGION, *plan[0])


@loopback
def test_a_bucket_name_held_by_another_project_is_a_clear_error(fake, vertex, hub):
    store = vertex.weights_store(REGION)
    fake.state.storage.taken.add(store.bucket)
    with pytest.raises(Conflict, match="taken by another project"):
        staging.stage(store, MODEL)
