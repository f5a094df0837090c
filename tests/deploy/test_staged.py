"""A deploy whose weights are staged (cloudrun stage) loads them from S3: SageMaker's ModelDataSource, no Hugging Face
token anywhere in the model; a copy without its manifest is refused before anything is created; and the sandbox's
SageMaker fails an endpoint whose model data is not there, as SageMaker does."""

from __future__ import annotations

import time

import pytest

from cloudrun import api, stage_ops, staging
from cloudrun.errors import InvalidInput
from cloudrun.providers.aws import SageMakerProvider
from cloudrun.sandbox import hub_fake, moto_lifecycle
from cloudrun.state import staged as staged_store
from tests.aws_fixtures import REGION, ROLE_ARN
from tests.deploy.support import MODEL, NO_WAIT, loader, prepare, resources, sagemaker

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]  # the fake Hub, on loopback only


@pytest.fixture
def hub(monkeypatch):
    server = hub_fake.start(shard_bytes=64 * 1024)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("CLOUDRUN_OFFLINE", raising=False)
    yield server
    server.stop()


def test_a_staged_model_is_loaded_from_s3_and_no_token_enters_the_endpoint(state, hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_must_not_leak")
    staged = stage_ops.stage_model(state, loader(), MODEL, "aws", REGION)
    plan = prepare("r1-staged", instance_type="ml.g5.2xlarge")
    assert stage_ops.use_staged(plan, state) == [staged.manifest.uri]
    result = api.deploy(plan, state, loader(), policy=NO_WAIT)
    assert result.deployment.status.value == "in_service"
    container = sagemaker().describe_model(ModelName="r1-staged")["PrimaryContainer"]
    assert container["ModelDataSource"]["S3DataSource"] == {
        "S3Uri": staged.manifest.uri, "S3DataType": "S3Prefix", "CompressionType": "None"}
    assert container["Environment"]["HF_MODEL_ID"] == "/opt/ml/model"
    assert "hf_must_not_leak" not in str(sagemaker().describe_model(ModelName="r1-staged"))
    assert "HF_TOKEN" not in container["Environment"]


def test_without_staging_the_token_goes_to_the_model_environment_as_before(state, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_visible")
    plan = prepare("r1-hub", instance_type="ml.g5.2xlarge")
    assert stage_ops.use_staged(plan, state) == []
    api.deploy(plan, state, loader(), policy=NO_WAIT)
    container = sagemaker().describe_model(ModelName="r1-hub")["PrimaryContainer"]
    assert container["Environment"]["HF_TOKEN"] == "hf_visible" and "ModelDataSource" not in container


def test_a_staged_copy_without_its_manifest_is_refused_before_anything_is_created(state, hub):
    staged = stage_ops.stage_model(state, loader(), MODEL, "aws", REGION)
    store = SageMakerProvider(role_arn=ROLE_ARN).weights_store(REGION)
    store.delete([f"{MODEL}/{staged.manifest.revision}/{staging.MANIFEST}"])  # as a stage cut short leaves it
    plan = prepare("r1-half", instance_type="ml.g5.2xlarge")
    stage_ops.use_staged(plan, state)
    with pytest.raises(InvalidInput, match="not complete"):
        api.deploy(plan, state, loader(), policy=NO_WAIT)
    assert resources()["models"] == []


def test_the_sandbox_fails_an_endpoint_whose_model_data_is_missing_as_sagemaker_does(cloud):
    moto_lifecycle.emulate_startup(0.2)
    sm = sagemaker()
    source = {"S3Uri": "s3://cloudrun-weights-nothing-here/m/", "S3DataType": "S3Prefix", "CompressionType": "None"}
    image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.36.0-lmi18.0.0-cu128"
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE_ARN,
                    PrimaryContainer={"Image": image, "ModelDataSource": {"S3DataSource": source}})
    variant = {"VariantName": "main", "ModelName": "m", "InstanceType": "ml.g5.2xlarge", "InitialInstanceCount": 1}
    sm.create_endpoint_config(EndpointConfigName="m", ProductionVariants=[variant])
    sm.create_endpoint(EndpointName="m", EndpointConfigName="m")
    time.sleep(0.3)
    described = sm.describe_endpoint(EndpointName="m")
    assert described["EndpointStatus"] == "Failed"
    assert "Failed to download model data" in described["FailureReason"] and source["S3Uri"] in described[
        "FailureReason"]


def test_stage_rm_marks_the_copy_removed_so_deploys_load_from_the_hub_again(state, hub):
    stage_ops.stage_model(state, loader(), MODEL, "aws", REGION)
    assert staged_store.find(state, "aws", REGION, MODEL) is not None
    assert stage_ops.unstage(state, loader(), MODEL, "aws", REGION)
    assert staged_store.find(state, "aws", REGION, MODEL) is None
    assert stage_ops.use_staged(prepare("r1-after", instance_type="ml.g5.2xlarge"), state) == []


def test_deploy_stage_stages_in_the_first_placement_region_once_then_loads_from_it(state, hub):
    plan = prepare("r1-first", instance_type="ml.g5.2xlarge")
    first = stage_ops.stage_first(state, loader(), plan)
    assert first is not None and first.manifest.region == REGION and first.sent_bytes > 0
    assert stage_ops.stage_first(state, loader(), prepare("r1-second", instance_type="ml.g5.2xlarge")) is None
    assert stage_ops.use_staged(plan, state) == [first.manifest.uri]
    assert plan.targets[0].spec.weights_uri == first.manifest.uri
