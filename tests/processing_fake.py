"""SageMaker Processing at the client the adapter's factory hands out, for `stage --in-cloud` tests.

moto 5 accepts CreateProcessingJob but keeps neither Environment nor ProcessingResources, checks nothing and marks
the job Completed without running it, so it can neither refuse a bad request nor copy a byte. This fake:
- checks each request against botocore's own sagemaker service model: required members, types, and every min, max,
  enum and pattern the model states (botocore's client checks only required members, types and minimums);
- runs the job: each S3 input is copied from (moto's) S3 to a temporary folder standing for its LocalPath, the
  entry point's `python3 SCRIPT ARGS` runs in this process with the job's Environment (boto3 inside it reaches
  moto), and the job ends Completed, or Failed with the script's error, after one InProgress answer.
"""

from __future__ import annotations

import contextlib
import os
import re
import runpy
import sys
import tempfile
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.exceptions import ClientError

_MODEL = botocore.session.get_session().get_service_model("sagemaker")


def invalid(shape: Any, value: Any, where: str) -> str | None:
    """Return what the service model refuses in `value`, or None."""
    meta = shape.metadata
    if shape.type_name == "structure":
        missing = [m for m in shape.required_members if m not in value]
        if missing:
            return f"{where}: missing {missing}"
        unknown = [k for k in value if k not in shape.members]
        if unknown:
            return f"{where}: unknown {unknown}"
        return next((e for k, v in value.items() if (e := invalid(shape.members[k], v, f"{where}.{k}"))), None)
    if shape.type_name == "list":
        if not meta.get("min", 0) <= len(value) <= meta.get("max", 10**9):
            return f"{where}: {len(value)} items, outside {meta}"
        return next((e for i, v in enumerate(value) if (e := invalid(shape.member, v, f"{where}[{i}]"))), None)
    if shape.type_name == "map":
        if len(value) > meta.get("max", 10**9):
            return f"{where}: {len(value)} entries, over {meta['max']}"
        for key, item in value.items():
            error = invalid(shape.key, key, f"{where} key") or invalid(shape.value, item, f"{where}[{key}]")
            if error:
                return error
        return None
    if shape.type_name == "string":
        if getattr(shape, "enum", None) and value not in shape.enum:
            return f"{where}: {value!r} is not one of the allowed values"
        if not meta.get("min", 0) <= len(value) <= meta.get("max", 10**9):
            return f"{where}: length {len(value)} outside {meta.get('min', 0)}-{meta.get('max')}"
        pattern = meta.get("pattern", "").replace("\\p{L}", "a-zA-Z").replace("\\p{Z}", " ").replace("\\p{N}", "0-9")
        if pattern and not re.fullmatch(pattern, value):
            return f"{where}: {value!r} does not match {meta['pattern']}"
    if shape.type_name == "integer" and not meta.get("min", -(10**18)) <= value <= meta.get("max", 10**18):
        return f"{where}: {value} outside {meta.get('min')}-{meta.get('max')}"
    return None


def _refuse(operation: str, code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}},
                       operation)  # fmt: skip


class FakeProcessing:
    """CreateProcessingJob and DescribeProcessingJob, run for real against moto's S3 in the same process."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.requests: list[dict[str, Any]] = []
        self.jobs: dict[str, dict[str, Any]] = {}

    def create_processing_job(self, **params: Any) -> dict[str, Any]:
        error = invalid(_MODEL.operation_model("CreateProcessingJob").input_shape, params, "CreateProcessingJob")
        if error:
            raise _refuse("CreateProcessingJob", "ValidationException", error)
        name = params["ProcessingJobName"]
        if name in self.jobs:
            raise _refuse("CreateProcessingJob", "ResourceInUse", f"Job {name} already exists")
        self.requests.append(params)
        failure = self._run(params)
        self.jobs[name] = {"answers": ["InProgress", "Failed" if failure else "Completed"], "failure": failure}
        return {"ProcessingJobArn": f"arn:aws:sagemaker:{self.region}:123456789012:processing-job/{name}"}

    def describe_processing_job(self, ProcessingJobName: str) -> dict[str, Any]:  # noqa: N803 - the API's name
        job = self.jobs.get(ProcessingJobName)
        if job is None:
            raise _refuse("DescribeProcessingJob", "ValidationException", "Could not find requested job")
        status = job["answers"].pop(0) if len(job["answers"]) > 1 else job["answers"][0]
        answer = {"ProcessingJobName": ProcessingJobName, "ProcessingJobStatus": status}
        if status == "Failed":
            answer["FailureReason"] = job["failure"]
        return answer

    def _run(self, params: dict[str, Any]) -> str | None:
        """Run the job's container command here; return its failure (as SageMaker reports it) or None."""
        s3 = boto3.client("s3", region_name=self.region)
        with tempfile.TemporaryDirectory() as root:
            mounts = {}
            for item in params.get("ProcessingInputs", []):
                source, local = item["S3Input"]["S3Uri"], item["S3Input"]["LocalPath"]
                bucket, _, prefix = source.removeprefix("s3://").partition("/")
                target = Path(root, local.lstrip("/"))
                for found in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
                    path = target / found["Key"].removeprefix(prefix)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(s3.get_object(Bucket=bucket, Key=found["Key"])["Body"].read())
                mounts[local] = str(target)
            spec = params["AppSpecification"]
            words = [*spec["ContainerEntrypoint"], *spec.get("ContainerArguments", [])]
            command = [_mapped(word, mounts) for word in words]
            if command[0] != "python3" or not Path(command[1]).is_file():
                return f"AlgorithmError: cannot run {command[:2]}"
            try:
                with _environment(params.get("Environment", {})), _argv(command[1:]):
                    runpy.run_path(command[1], run_name="__main__")
            except SystemExit as done:
                return None if done.code in (0, None) else f"AlgorithmError: exit code {done.code}"
            except Exception as exc:  # the container dies: SageMaker reports its error
                return f"AlgorithmError: {type(exc).__name__}: {exc}"
        return None


def _mapped(arg: str, mounts: dict[str, str]) -> str:
    for local, target in mounts.items():
        if arg.startswith(local.rstrip("/") + "/"):
            return target + arg[len(local.rstrip("/")) :]
    return arg


@contextlib.contextmanager
def _environment(values: dict[str, str]):  # noqa: ANN202
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _argv(args: list[str]):  # noqa: ANN202
    saved, sys.argv = sys.argv, list(args)
    try:
        yield
    finally:
        sys.argv = saved
