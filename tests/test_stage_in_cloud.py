"""`cloudrun stage --in-cloud` on AWS: a SageMaker Processing job (tests/processing_fake.py: checked against
botocore's model, then run here) streams the Hub into moto's S3 with the same layout as a local stage, so each
resumes the other; the request is tagged, runs as cloudrun's role, carries HF_TOKEN only for a gated model."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from cloudrun import stage_in_cloud, staging
from cloudrun.cli import app
from cloudrun.errors import CloudrunError, InvalidInput
from cloudrun.providers import aws_role, aws_stage_job
from cloudrun.providers.aws import SageMakerProvider
from cloudrun.sandbox import hub_fake
from tests.aws_fixtures import REGION, fake_credentials
from tests.hub_fixtures import serve_hub
from tests.processing_fake import FakeProcessing, invalid

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]  # the fake Hub, on loopback only
MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
GATED = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.fixture
def hub(monkeypatch):
    yield from serve_hub(monkeypatch, 9 * 1024 * 1024)  # above the 8 MiB part: multipart inside the job


@pytest.fixture
def aws(monkeypatch, tmp_path):
    fake_credentials(monkeypatch, tmp_path)
    processing = FakeProcessing(REGION)
    with mock_aws():
        factory = lambda kind, region: processing if kind == "sagemaker" else boto3.client(kind, region_name=region)  # noqa: E731
        yield SageMakerProvider(client_factory=factory, sleep=lambda _s: None), processing


def objects(bucket: str, prefix: str) -> dict[str, bytes]:
    s3 = boto3.client("s3", region_name=REGION)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def test_the_job_copies_the_model_and_a_local_stage_then_finds_nothing_to_send(hub, aws):
    adapter, processing = aws
    copier = adapter.in_cloud_copier(REGION)
    result = stage_in_cloud.stage(copier, MODEL, sleep=lambda _s: None)
    prefix = f"{MODEL}/{hub_fake.COMMIT}/"
    stored = objects(copier.store.bucket, prefix)
    repo = hub.state.repo(MODEL)
    shard = "model-00001-of-00002.safetensors"
    assert stored[prefix + shard] == repo[shard] and len(repo[shard]) > 8 * 1024 * 1024
    assert result.manifest == staging.complete_manifest(copier.store, MODEL)
    assert result.sent_bytes == result.manifest.total_bytes > 0 and result.skipped_bytes == 0
    again = staging.stage(copier.store, MODEL)  # the local copy resumes the job's: every object matches
    assert (again.sent_bytes, again.skipped_bytes) == (0, result.manifest.total_bytes)

    [request] = processing.requests
    role = boto3.client("iam").get_role(RoleName=aws_role.ROLE_NAME)["Role"]["Arn"]
    assert request["RoleArn"] == role
    assert request["AppSpecification"]["ImageUri"] == (
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3")
    assert {"Key": "cloudrun-managed", "Value": "true"} in request["Tags"]
    assert "HF_TOKEN" not in request["Environment"]  # a public model: no token leaves this machine
    assert not objects(copier.store.bucket, ".cloudrun-jobs/")  # the plan and script are removed afterwards
    document = boto3.client("iam").get_role_policy(RoleName=aws_role.ROLE_NAME,
                                                   PolicyName=aws_role.ROLE_NAME)["PolicyDocument"]
    policy = json.loads(document) if isinstance(document, str) else document
    write = next(s for s in policy["Statement"] if s["Sid"] == "StageInCloudWrite")
    assert write["Resource"] == "arn:aws:s3:::cloudrun-weights-*/*"


def test_a_job_cut_short_fails_with_the_reason_leaves_no_manifest_and_the_next_run_resumes(hub, aws):
    adapter, processing = aws
    copier = adapter.in_cloud_copier(REGION)
    hub.cut_next("model-00002-of-00002.safetensors", 1000)
    with pytest.raises(CloudrunError, match="failed: AlgorithmError: .*ended .* early") as raised:
        stage_in_cloud.stage(copier, MODEL, sleep=lambda _s: None)
    assert "it resumes" in (raised.value.hint or "")
    assert staging.complete_manifest(copier.store, MODEL) is None
    result = stage_in_cloud.stage(copier, MODEL, sleep=lambda _s: None)
    assert result.skipped_bytes > 0 and result.sent_bytes < result.manifest.total_bytes  # only what was missing
    assert staging.complete_manifest(copier.store, MODEL) is not None and len(processing.requests) == 2


def test_a_gated_model_gives_the_job_the_token(hub, aws, monkeypatch):
    adapter, processing = aws
    monkeypatch.setenv("HF_TOKEN", hub_fake.GRANTED_TOKEN)
    stage_in_cloud.stage(adapter.in_cloud_copier(REGION), GATED, sleep=lambda _s: None)
    assert processing.requests[0]["Environment"]["HF_TOKEN"] == hub_fake.GRANTED_TOKEN


def test_what_the_api_refuses_is_refused_before_anything_is_sent():
    plan = {"bucket": "b", "files": [{"size": 10}], "manifest": {"model_id": "o/m"}}
    with pytest.raises(InvalidInput, match="not a valid SageMaker processing job name"):
        aws_stage_job.request("-bad", REGION, "arn:aws:iam::123456789012:role/r", plan, None)
    with pytest.raises(InvalidInput, match="256 characters"):
        aws_stage_job.request("ok", REGION, "arn:aws:iam::123456789012:role/r", plan, "h" * 257)
    with pytest.raises(InvalidInput, match="no SageMaker scikit-learn image"):
        aws_stage_job.image("mars-north-1")
    built = aws_stage_job.request(aws_stage_job.job_name("o/m", 1.8e9), REGION, "arn:aws:iam::123456789012:role/r",
                                  {**plan, "files": [{"size": 10**15}]}, None)  # fmt: skip
    assert built["StoppingCondition"]["MaxRuntimeInSeconds"] == 777600  # capped at the API's maximum
    shape = aws_stage_job_shape()
    assert invalid(shape, built, "r") is None
    assert "ProcessingJobName" in invalid(shape, {**built, "ProcessingJobName": "x" * 64}, "r")  # the fake refuses


def aws_stage_job_shape():  # noqa: ANN201
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker").operation_model(
        "CreateProcessingJob").input_shape


@pytest.mark.parametrize(
    ("args", "words"),
    [(["--provider", "gcp", "--region", "us-central1", "--in-cloud"], "offered on aws only"),
     (["--provider", "aws", "--region", "us-east-1", "--in-cloud", "--sandbox"], "sandbox does not run")],
)  # fmt: skip
def test_in_cloud_elsewhere_is_a_usage_error(args, words, monkeypatch):
    monkeypatch.setenv("CLOUDRUN_OFFLINE", "1")
    result = CliRunner().invoke(app, ["stage", MODEL, *args])
    assert result.exit_code == 2 and words in result.output
