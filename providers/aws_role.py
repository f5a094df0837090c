"""The IAM role SageMaker assumes to run an endpoint: find the one to use, or create cloudrun's own.

The role cloudrun creates may do what AWS lists for a hosting role, scoped down: pull the LMI serving image,
publish the endpoint's metrics, write its logs, and read weights staged in `cloudrun-*` S3 buckets; and, for the
processing job `cloudrun stage --in-cloud` runs as it, pull the scikit-learn processing image and write objects in
`cloudrun-weights-*` buckets (so an endpoint running as this role could write there too: pass --role to keep a
read-only role for endpoints). A role
cloudrun made earlier (tagged cloudrun-managed) gets the current policy again when it is reused.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

from cloudrun.errors import AuthError, CloudrunError, Conflict, NotFound
from cloudrun.models import MANAGED_TAG

from . import aws_template

ROLE_NAME = "cloudrun-sagemaker-execution"
ROLE_ENV = "CLOUDRUN_SAGEMAKER_ROLE_ARN"
LMI_REPOSITORY = "djl-inference"  # the LMI image's repository, in each region's registry account
STAGE_JOB_REPOSITORY = "sagemaker-scikit-learn"  # the in-cloud staging job's image (templates/sagemaker-stage-job.json)
CREDENTIALS_MISSING = "no usable AWS credentials"  # how the adapter's error table says the chain found none
NO_ROLE_HINT = f"pass --role ARN, set {ROLE_ENV}, or allow iam:CreateRole so cloudrun can create {ROLE_NAME}"

TRUST_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def execution_policy() -> dict[str, Any]:
    """Return the role's inline policy: AWS's list for a CreateModel execution role, scoped to what cloudrun uses.

    AWS documents these actions for an execution role passed to CreateModel: cloudwatch:PutMetricData, the four
    logs actions, s3:GetObject/ListBucket, ecr:GetAuthorizationToken and the three image-pull actions, with ECR
    "scope[d] to a specific registry path that you specify as the PrimaryContainer.Image" (SageMaker Developer
    Guide, sagemaker-roles.html#sagemaker-roles-createmodel-perms). Here the pull is scoped to the LMI repository
    in every account that publishes it (the SDK's djl-lmi.json, templates/sagemaker-lmi.json), S3 to cloudrun's
    own buckets, logs to SageMaker's log groups.
    """
    accounts = aws_template.registry_accounts()
    repositories = [f"arn:aws:ecr:*:{account}:repository/{LMI_REPOSITORY}" for account in accounts]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "EcrToken", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {
                "Sid": "PullServingImage",
                "Effect": "Allow",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                "Resource": repositories,
            },  # fmt: skip
            {"Sid": "EndpointMetrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"},
            {
                "Sid": "EndpointLogs",
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                "Resource": "arn:aws:logs:*:*:log-group:/aws/sagemaker/*",
            },  # fmt: skip
            {
                "Sid": "ReadStagedWeights",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": ["arn:aws:s3:::cloudrun-*", "arn:aws:s3:::cloudrun-*/*"],
            },  # fmt: skip
            {
                "Sid": "StageInCloudWrite",  # `cloudrun stage --in-cloud`: the processing job writes the weights
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
                "Resource": "arn:aws:s3:::cloudrun-weights-*/*",
            },  # fmt: skip
            {
                "Sid": "StageInCloudImage",  # and runs in AWS's scikit-learn processing image (aws_stage_job.py)
                "Effect": "Allow",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                "Resource": [f"arn:aws:ecr:*:{account}:repository/{STAGE_JOB_REPOSITORY}"
                             for account in stage_job_accounts()],
            },  # fmt: skip
        ],
    }


def stage_job_accounts() -> list[str]:
    """Return every AWS account publishing the scikit-learn processing image (templates/sagemaker-stage-job.json)."""
    document = resources.files("cloudrun.templates").joinpath("sagemaker-stage-job.json").read_text(encoding="utf-8")
    return sorted(set(json.loads(document)["registries"].values()))


IamCall = Callable[..., dict[str, Any]]
"""(operation, **params) -> response, with the SDK's errors already translated to cloudrun errors."""


def resolve(
    iam: IamCall,
    *,
    role_arn: str | None,
    create: bool,
    notices: list[str],
    environ: Mapping[str, str] | None = None,
) -> str:
    """Return the execution role ARN: the one given, $CLOUDRUN_SAGEMAKER_ROLE_ARN, cloudrun's own (made if allowed)."""
    environ = os.environ if environ is None else environ
    if role_arn:
        return role_arn
    if environ.get(ROLE_ENV):
        return environ[ROLE_ENV]
    try:
        role = iam("get_role", RoleName=ROLE_NAME)["Role"]
    except NotFound:
        role = None
    except AuthError as exc:
        raise _no_role(exc) from exc
    if role is not None:
        _refresh(iam, role, notices)
        return role["Arn"]
    if not create:
        raise AuthError(f"no SageMaker execution role and {ROLE_NAME} does not exist", hint=NO_ROLE_HINT)
    return _create(iam, notices)


def known_without_calls(role_arn: str | None, environ: Mapping[str, str] | None = None) -> str:
    """Return the role a deploy would use as far as it is known without calling AWS (for `--dry-run`)."""
    environ = os.environ if environ is None else environ
    return role_arn or environ.get(ROLE_ENV) or f"arn:aws:iam::<account>:role/{ROLE_NAME}"


def _create(iam: IamCall, notices: list[str]) -> str:
    """Return the ARN of a newly created cloudrun execution role with its inline least-privilege policy."""
    try:
        arn = iam(
            "create_role",
            RoleName=ROLE_NAME,
            AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
            Description="Lets SageMaker pull the LMI serving image and write endpoint logs for cloudrun",
            Tags=[{"Key": MANAGED_TAG, "Value": "true"}],
        )["Role"]["Arn"]
    except Conflict:  # created by a concurrent cloudrun run a moment ago
        return iam("get_role", RoleName=ROLE_NAME)["Role"]["Arn"]
    except AuthError as exc:
        raise _no_role(exc) from exc
    try:
        iam("put_role_policy", RoleName=ROLE_NAME, PolicyName=ROLE_NAME, PolicyDocument=json.dumps(execution_policy()))
    except CloudrunError as exc:
        _delete_quietly(iam)
        if isinstance(exc, AuthError):
            raise _no_role(exc) from exc
        raise
    notices.append(f"created IAM role {ROLE_NAME} ({arn}) for SageMaker to pull the serving image and write logs")
    return arn


def _refresh(iam: IamCall, role: dict[str, Any], notices: list[str]) -> None:
    """Bring the policy of a role cloudrun made (tagged cloudrun-managed) up to date; best effort, never fatal."""
    tags = {tag.get("Key"): tag.get("Value") for tag in role.get("Tags") or []}
    if tags.get(MANAGED_TAG) != "true":
        return  # someone else's role of that name: not ours to change
    try:
        iam("put_role_policy", RoleName=ROLE_NAME, PolicyName=ROLE_NAME, PolicyDocument=json.dumps(execution_policy()))
    except CloudrunError as exc:
        notices.append(f"could not update the policy of {ROLE_NAME} ({exc.message}); it may lack newer permissions")


def _no_role(cause: AuthError) -> AuthError:
    """Return the error for a role cloudrun could not find or make, keeping its root cause in the message.

    Missing credentials are not a role problem: that error is returned as it is, with the credentials hint.
    """
    if cause.message.startswith(CREDENTIALS_MISSING):
        return cause
    return AuthError(f"no SageMaker execution role: {cause.message}", hint=NO_ROLE_HINT)


def _delete_quietly(iam: IamCall) -> None:
    """Remove a role left without its policy; a failure here must not hide the error that caused it."""
    with contextlib.suppress(CloudrunError):
        iam("delete_role", RoleName=ROLE_NAME)
