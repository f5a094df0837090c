"""The IAM role SageMaker assumes to run an endpoint: find the one to use, or create cloudrun's own.

The role cloudrun creates may do three things only: pull the serving image from the AWS Deep Learning
Containers registry, write the endpoint's logs, and read weights staged in `cloudrun-*` S3 buckets.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from cloudrun.errors import AuthError, CloudrunError, Conflict, NotFound
from cloudrun.models import MANAGED_TAG

ROLE_NAME = "cloudrun-sagemaker-execution"
ROLE_ENV = "CLOUDRUN_SAGEMAKER_ROLE_ARN"
DLC_REGISTRY_ACCOUNT = "763104351884"  # AWS Deep Learning Containers (the LMI image lives here)
CREDENTIALS_MISSING = "no usable AWS credentials"  # how the adapter's error table says the chain found none
NO_ROLE_HINT = f"pass --role ARN, set {ROLE_ENV}, or allow iam:CreateRole so cloudrun can create {ROLE_NAME}"

TRUST_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
EXECUTION_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "EcrToken", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {
            "Sid": "PullServingImage",
            "Effect": "Allow",
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            "Resource": f"arn:aws:ecr:*:{DLC_REGISTRY_ACCOUNT}:repository/*",
        },
        {
            "Sid": "EndpointLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": "arn:aws:logs:*:*:log-group:/aws/sagemaker/*",
        },
        {
            "Sid": "ReadStagedWeights",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::cloudrun-*", "arn:aws:s3:::cloudrun-*/*"],
        },
    ],
}

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
        return iam("get_role", RoleName=ROLE_NAME)["Role"]["Arn"]
    except NotFound:
        pass
    except AuthError as exc:
        raise _no_role(exc) from exc
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
        iam("put_role_policy", RoleName=ROLE_NAME, PolicyName=ROLE_NAME, PolicyDocument=json.dumps(EXECUTION_POLICY))
    except CloudrunError as exc:
        _delete_quietly(iam)
        if isinstance(exc, AuthError):
            raise _no_role(exc) from exc
        raise
    notices.append(f"created IAM role {ROLE_NAME} ({arn}) for SageMaker to pull the serving image and write logs")
    return arn


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
