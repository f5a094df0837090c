"""Staging weights into S3 (moto in process) from the sandbox's fake Hub (on loopback): the copy, the resume, the
manifest written last, the bucket's tags and encryption, and the refusals (gated model, a bucket not cloudrun's)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from cloudrun import staging
from cloudrun.errors import CloudrunError, Conflict, InvalidInput
from cloudrun.providers.aws import SageMakerProvider
from cloudrun.sandbox import hub_fake
from tests.aws_fixtures import REGION, fake_credentials
from tests.hub_fixtures import serve_hub

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]  # the fake Hub, on loopback only
MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"


@pytest.fixture
def hub(monkeypatch):
    yield from serve_hub(monkeypatch, 9 * 1024 * 1024)  # above S3's part size: multipart is used


@pytest.fixture
def store(monkeypatch, tmp_path):
    fake_credentials(monkeypatch, tmp_path)
    with mock_aws():
        yield SageMakerProvider(sleep=lambda _s: None).weights_store(REGION)


def test_stage_copies_every_servable_file_and_writes_the_manifest_last(hub, store):
    sent: list[int] = []
    result = staging.stage(store, MODEL, progress=sent.append)
    s3 = boto3.client("s3", region_name=REGION)
    prefix = f"{MODEL}/{hub_fake.COMMIT}/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=store.bucket, Prefix=prefix)["Contents"]]
    repo = hub.state.repo(MODEL)
    wanted = {name for name in repo if name.endswith((".json", ".safetensors"))}
    assert {k.removeprefix(prefix) for k in keys} == wanted | {staging.MANIFEST}
    assert "README.md" not in str(keys) and ".gitattributes" not in str(keys)
    shard = "model-00002-of-00002.safetensors"
    assert s3.get_object(Bucket=store.bucket, Key=prefix + shard)["Body"].read() == repo[shard]
    assert sum(sent) == result.manifest.total_bytes == sum(len(repo[n]) for n in wanted)
    manifest = staging.complete_manifest(store, MODEL)
    assert manifest is not None and manifest.uri == f"s3://{store.bucket}/{prefix}"
    assert {f["path"] for f in manifest.files} == wanted
    tags = s3.get_bucket_tagging(Bucket=store.bucket)["TagSet"]
    assert {"Key": "cloudrun-managed", "Value": "true"} in tags
    rules = s3.get_bucket_encryption(Bucket=store.bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert store.bucket.startswith("cloudrun-weights-") and store.bucket.endswith("-us-east-1")


def test_an_interrupted_stage_leaves_no_manifest_and_the_next_run_sends_only_what_is_missing(hub, store):
    shard = "model-00002-of-00002.safetensors"
    hub.cut_next(shard, 1000)
    with pytest.raises(CloudrunError, match="ended"):
        staging.stage(store, MODEL)
    assert staging.complete_manifest(store, MODEL) is None  # a deploy would not use it
    s3 = boto3.client("s3", region_name=REGION)
    assert not s3.list_multipart_uploads(Bucket=store.bucket).get("Uploads")  # aborted, nothing half-written bills
    again = staging.stage(store, MODEL)
    repo = hub.state.repo(MODEL)
    later = [n for n in repo if n > shard and n.endswith(".json")]  # sent in order: those after it never went
    assert again.sent_bytes == len(repo[shard]) + sum(len(repo[n]) for n in later)
    assert again.skipped_bytes == again.manifest.total_bytes - again.sent_bytes
    assert shard not in again.skipped_files and "model-00001-of-00002.safetensors" in again.skipped_files
    assert staging.complete_manifest(store, MODEL) is not None


def test_a_file_whose_bytes_differ_from_the_hub_hash_is_not_staged(hub, store):
    repo = hub.state.repo(MODEL)
    listing = dict(repo)
    repo["model-00001-of-00002.safetensors"] = b"x" * len(listing["model-00001-of-00002.safetensors"])
    original = hub_fake._sibling
    hub_fake._sibling = lambda path, content: original(path, listing[path])  # the listing keeps the true hashes
    try:
        with pytest.raises(CloudrunError, match="sha256 differs"):
            staging.stage(store, MODEL)
    finally:
        hub_fake._sibling = original
    assert staging.complete_manifest(store, MODEL) is None


def test_a_gated_model_without_a_token_is_refused_with_the_fix(hub, store, monkeypatch):
    with pytest.raises(InvalidInput, match="gated") as caught:
        staging.stage(store, "meta-llama/Llama-3.1-8B-Instruct")
    assert "set HF_TOKEN" in caught.value.hint and caught.value.exit_code == 2
    monkeypatch.setenv("HF_TOKEN", hub_fake.GRANTED_TOKEN)
    assert staging.stage(store, "meta-llama/Llama-3.1-8B-Instruct").manifest.files


def test_a_bucket_of_that_name_without_the_tag_is_never_written_or_emptied(hub, store):
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=store.bucket)
    with pytest.raises(Conflict, match="without cloudrun's tag"):
        staging.stage(store, MODEL)
    with pytest.raises(Conflict):
        staging.remove(store, MODEL)


def test_stage_rm_removes_the_model_manifest_first_and_dry_run_removes_nothing(hub, store):
    staging.stage(store, MODEL)
    keys = staging.remove(store, MODEL, dry_run=True)
    assert keys[0].endswith(staging.MANIFEST) and staging.complete_manifest(store, MODEL) is not None
    assert staging.remove(store, MODEL) == keys
    assert staging.complete_manifest(store, MODEL) is None
    assert not store.list_objects(MODEL + "/")


def test_a_file_changed_under_a_complete_copy_takes_its_manifest_away_until_the_copy_is_whole_again(hub, store):
    staging.stage(store, MODEL)
    prefix = f"{MODEL}/{hub_fake.COMMIT}/"
    store.delete([prefix + "tokenizer.json"])  # as if lost: the next stage must send it again
    hub.cut_next("tokenizer.json", 3)
    with pytest.raises(CloudrunError, match="ended"):
        staging.stage(store, MODEL)
    assert store.read(prefix + staging.MANIFEST) is None  # no deploy may load it meanwhile
    assert staging.stage(store, MODEL).sent_bytes == len(hub.state.repo(MODEL)["tokenizer.json"])
    assert staging.complete_manifest(store, MODEL) is not None
