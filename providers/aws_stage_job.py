"""`cloudrun stage --in-cloud` on AWS: a SageMaker Processing job in the bucket's region copies the weights.

The job runs AWS's SageMaker scikit-learn image with providers/aws_stage_job_script.py (its code input) on one
CPU instance, as the execution role cloudrun uses for endpoints (aws_role.py, which may write to cloudrun's weights
buckets for this), tagged cloudrun-managed. Facts and sources: templates/sagemaker-stage-job.json. The request is
checked here against the API's own limits before it is sent (job name, Environment values, runtime).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from cloudrun.errors import InvalidInput
from cloudrun.models import MANAGED_TAG
from cloudrun.stage_in_cloud import DONE, FAILED, RUNNING, CloudCopier

from . import aws_resources
from .aws_storage import S3WeightsStore

TEMPLATE = "sagemaker-stage-job.json"
SCRIPT = "aws_stage_job_script.py"
JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # ProcessingJobName (API_CreateProcessingJob.html)
PESSIMISTIC_BYTES_PER_S = 50e6  # the Hub's pessimistic rate (cloudrun.serving): the runtime limit is sized on it
_STATES = {"InProgress": RUNNING, "Stopping": RUNNING, "Completed": DONE, "Failed": FAILED, "Stopped": FAILED}
Call = Callable[..., Any]  # (service, region, operation, params): translated, retried (aws_client.AwsSession.call)


@cache
def load_template() -> dict[str, Any]:
    return json.loads(resources.files("cloudrun.templates").joinpath(TEMPLATE).read_text(encoding="utf-8"))


def image(region: str) -> str:
    """Return the scikit-learn processing image in `region`; InvalidInput where AWS publishes none."""
    template = load_template()
    account = template["registries"].get(region)
    if account is None:
        raise InvalidInput(f"no SageMaker scikit-learn image is published in {region}, so --in-cloud cannot run there",
                           hint="stage without --in-cloud")  # fmt: skip
    return template["image"].format(account=account, region=region)


def job_name(model_id: str, now: float) -> str:
    """Return a new processing job name (unique in the account and region, as the API wants):
    cloudrun-stage-<8 hex of the model>-<epoch seconds>-<6 random hex>."""
    digest = hashlib.sha256(model_id.encode()).hexdigest()[:8]
    return f"cloudrun-stage-{digest}-{int(now)}-{secrets.token_hex(3)}"


def request(name: str, region: str, role_arn: str, plan: dict[str, Any], token: str | None) -> dict[str, Any]:
    """Return the CreateProcessingJob request for `plan`, whose script and plan sit under the bucket's jobs prefix;
    InvalidInput for what the API would refuse (a name off its pattern, an Environment value over 256 characters)."""
    template = load_template()
    if not JOB_NAME.match(name):
        raise InvalidInput(f"{name!r} is not a valid SageMaker processing job name")
    environment = {"PYTHONUNBUFFERED": "1"}
    if token:
        if len(token) > template["environment_value_max"]:
            raise InvalidInput("HF_TOKEN is longer than the 256 characters a processing job's environment holds")
        environment["HF_TOKEN"] = token
    total = sum(int(f["size"]) for f in plan["files"])
    runtime = min(template["max_runtime_s"], max(template["min_runtime_s"], round(2 * total / PESSIMISTIC_BYTES_PER_S)))
    code = template["code_path"]
    return {
        "ProcessingJobName": name,
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": template["instance_type"],
                                                  "VolumeSizeInGB": template["volume_gb"]}},  # fmt: skip
        "StoppingCondition": {"MaxRuntimeInSeconds": runtime},
        "AppSpecification": {"ImageUri": image(region), "ContainerEntrypoint": ["python3", f"{code}/{SCRIPT}"],
                             "ContainerArguments": [f"{code}/plan.json"]},  # fmt: skip
        "ProcessingInputs": [{"InputName": "code", "S3Input": {
            "S3Uri": f"s3://{plan['bucket']}/{template['jobs_prefix']}{name}/", "LocalPath": code,
            "S3DataType": "S3Prefix", "S3InputMode": "File"}}],  # fmt: skip
        "Environment": environment,
        "RoleArn": role_arn,
        "Tags": [{"Key": MANAGED_TAG, "Value": "true"}, {"Key": "cloudrun-purpose", "Value": "stage-weights"}],
    }


class ProcessingJobCopier(CloudCopier):
    """A SageMaker Processing job in the store's region that runs a staging plan."""

    def __init__(self, call: Call, store: S3WeightsStore, role: Callable[[], str], *,
                 sleep: Callable[[float], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self._call, self.store, self._role, self._sleep, self._clock = call, store, role, sleep, clock
        self.describe = f"a SageMaker Processing job on {load_template()['instance_type']} in {store.region}"

    def start(self, plan: dict[str, Any], token: str | None) -> str:
        name = job_name(plan["manifest"]["model_id"], self._clock())
        built = request(name, self.store.region, self._role(), plan, token)  # checked before anything is written
        script = resources.files("cloudrun.providers").joinpath(SCRIPT).read_bytes()
        for key, body in ((SCRIPT, script), ("plan.json", json.dumps(plan).encode())):
            self._s3("put_object", Bucket=self.store.bucket, Key=self._key(name, key), Body=body,
                     ServerSideEncryption="AES256")  # fmt: skip
        aws_resources.create_step(self._call, self.store.region, "create_processing_job", built, self._sleep)
        return name

    def status(self, job: str) -> tuple[str, str]:
        answer = self._call("sagemaker", self.store.region, "describe_processing_job", {"ProcessingJobName": job})
        state = _STATES.get(str(answer.get("ProcessingJobStatus")), RUNNING)
        return state, str(answer.get("FailureReason") or answer.get("ExitMessage") or answer["ProcessingJobStatus"])

    def cleanup(self, job: str) -> None:
        keys = [{"Key": self._key(job, key)} for key in (SCRIPT, "plan.json")]
        self._s3("delete_objects", Bucket=self.store.bucket, Delete={"Objects": keys, "Quiet": True})

    def _key(self, job: str, name: str) -> str:
        return f"{load_template()['jobs_prefix']}{job}/{name}"

    def _s3(self, operation: str, **params: Any) -> Any:
        return self._call("s3", self.store.region, operation, params)
