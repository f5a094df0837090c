"""The SageMaker adapter's one call layer: boto3 clients from one Session, AWS's error table, our retries.

Clients: one boto3 Session (the default credential chain: environment, shared files, SSO, container and
instance roles; `profile` picks a named profile), a client per (service, region), made once.

Retries: ours. Every client is built with botocore `total_max_attempts=1`, so the SDK sends each request
once and `cloudrun.retry` retries what `cloudrun.errors` marks retryable. (botocore's `retries={"max_attempts":
1}` counts retries, not attempts: it would still retry once.) The adapter, the price fetcher (aws_prices) and
the credit reader (aws_credits) all call through `AwsSession`, so AWS errors are translated here only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
from botocore import exceptions as boto_errors
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cloudrun import retry
from cloudrun.errors import (
    AuthError,
    CapacityUnavailable,
    CloudrunError,
    Conflict,
    InvalidInput,
    NotFound,
    QuotaExceeded,
    RateLimited,
    Transient,
)
from cloudrun.provider import ClientFactory
from cloudrun.session import CloudSession

from .common import CONFLICT_HINT, quota_hint

NO_SDK_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})
CREDENTIALS_MISSING = "no usable AWS credentials"  # how the error table says the credential chain found none

_ERRORS: dict[str, type[CloudrunError]] = {
    code: kind
    for kind, codes in (
        (RateLimited, "ThrottlingException Throttling TooManyRequestsException RequestLimitExceeded"),
        (QuotaExceeded, "ResourceLimitExceeded"),
        (CapacityUnavailable, "InsufficientInstanceCapacity InsufficientCapacity CapacityError"),
        (InvalidInput, "ValidationException ValidationError"),
        (AuthError, "UnrecognizedClientException InvalidClientTokenId"),
        (Conflict, "ResourceInUse EntityAlreadyExists"),
        (NotFound, "ResourceNotFound ResourceNotFoundException NoSuchEntity NoSuchResourceException"),
        # S3 (staged weights, aws_storage): HEAD answers carry the bare HTTP status as their code
        (Conflict, "BucketAlreadyExists BucketAlreadyOwnedByYou"),
        (NotFound, "NoSuchBucket NoSuchKey NoSuchTagSet NoSuchUpload 404"),
        (AuthError, "403"),
        (Transient, "InternalFailure InternalError ServiceUnavailable ServiceUnavailableException"),
        (Transient, "ModelNotReadyException"),  # invoke_endpoint before the model has loaded
    )
    for code in codes.split()
}
_AUTH_PREFIXES = ("AccessDenied", "ExpiredToken")  # AccessDenied, AccessDeniedException, ExpiredTokenException...
# SageMaker reports several conditions as a ValidationException that only its message tells apart.
_VALIDATION_MESSAGES = (
    ("cannot create already existing", Conflict),
    ("could not find", NotFound),
    ("does not exist", NotFound),
    # InvokeEndpoint's "Endpoint NAME of account ACCOUNT not found." is a ValidationError (quoted in
    # aws/amazon-sagemaker-examples#293 and #559, where a SageMaker engineer traced it to a deleted endpoint)
    ("not found.", NotFound),
)
_CAPACITY_MARKERS = ("insufficientinstancecapacity", "insufficient capacity", "capacityerror", "compute capacity")
_QUOTA_MARKERS = ("resourcelimitexceeded", "account-level service limit")
_CREDENTIAL_ERRORS = (
    boto_errors.NoCredentialsError, boto_errors.PartialCredentialsError, boto_errors.TokenRetrievalError,
    boto_errors.CredentialRetrievalError, boto_errors.SSOError, boto_errors.ProfileNotFound,
)  # fmt: skip
_CONNECTION_ERRORS = (
    boto_errors.EndpointConnectionError, boto_errors.ConnectTimeoutError, boto_errors.ReadTimeoutError,
    boto_errors.ConnectionClosedError,
)  # fmt: skip

CREDENTIALS_HINT = (
    "set up the AWS credential chain: `aws configure`, `aws sso login --profile P` + AWS_PROFILE=P, "
    "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
)
QUOTA_HINT = quota_hint(
    "request an increase in Service Quotas (service SageMaker, quota '<instance type> for endpoint usage')", "aws"
)
HINTS: dict[type[CloudrunError], str] = {
    QuotaExceeded: QUOTA_HINT,
    CapacityUnavailable: "SageMaker has no capacity for this type here now: try another instance type or region",
    Conflict: CONFLICT_HINT,
}


def translate(exc: Exception) -> CloudrunError:
    """Return the cloudrun error that a boto3/botocore exception stands for."""
    if isinstance(exc, _CREDENTIAL_ERRORS):
        return AuthError(f"{CREDENTIALS_MISSING}: {exc}", hint=CREDENTIALS_HINT)
    if isinstance(exc, _CONNECTION_ERRORS):
        return Transient(f"could not reach AWS: {exc}")
    if not isinstance(exc, ClientError):
        return CloudrunError(f"AWS SDK error: {exc}")
    error = exc.response.get("Error", {})
    code, message = error.get("Code", ""), error.get("Message") or str(exc)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    kind = error_class(code, message, status)
    text = f"{exc.operation_name}: {message}"
    if kind is RateLimited:
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        retry_after = headers.get("retry-after", "")
        return RateLimited(text, retry_after=float(retry_after) if retry_after.isdigit() else None)
    if kind is AuthError:
        denied = code.startswith("AccessDenied")
        return AuthError(text, hint=f"allow {exc.operation_name} for your AWS identity" if denied else CREDENTIALS_HINT)
    if kind is InvalidInput and "could not assume role" in message.lower():
        return InvalidInput(text, hint="the role's trust policy must allow sagemaker.amazonaws.com to assume it")
    return kind(text, hint=HINTS.get(kind))


def error_class(code: str, message: str, status: int) -> type[CloudrunError]:
    """Return the cloudrun error class for an AWS error code, refined by its message where AWS overloads a code."""
    if code in _ERRORS:
        kind = _ERRORS[code]
    elif code.startswith(_AUTH_PREFIXES):
        kind = AuthError
    else:
        kind = Transient if status >= 500 else CloudrunError
    if kind is InvalidInput:
        lowered = message.lower()
        if any(marker in lowered for marker in _CAPACITY_MARKERS):
            return CapacityUnavailable
        kind = next((refined for marker, refined in _VALIDATION_MESSAGES if marker in lowered), kind)
    return kind


def failure_kind(reason: str) -> type[CloudrunError]:
    """Return the error class a failed endpoint's FailureReason stands for (quota, capacity, or neither)."""
    lowered = reason.lower()
    if any(marker in lowered for marker in _QUOTA_MARKERS):
        return QuotaExceeded
    return CapacityUnavailable if "capacity" in lowered else CloudrunError


def default_client_factory(profile: str | None = None) -> ClientFactory:
    """Return a factory of boto3 clients from one Session (the credential chain), with the SDK's retries off."""
    session: boto3.Session | None = None

    def make_client(service: str, region: str) -> Any:
        nonlocal session
        session = session or boto3.Session(profile_name=profile)
        return session.client(service, region_name=region, config=NO_SDK_RETRIES)

    return make_client


class AwsSession(CloudSession):
    """Calls to AWS: `call(service, region, operation, params)`, translated and retried."""

    sdk_errors = (ClientError, BotoCoreError)

    def __init__(
        self,
        client_factory: ClientFactory | None = None,
        *,
        profile: str | None = None,
        sleep: Callable[[float], None] | None = None,
        deadline_s: float = retry.DEFAULT_DEADLINE_S,
    ) -> None:
        super().__init__(sleep=sleep, deadline_s=deadline_s)
        self._factory = client_factory or default_client_factory(profile)

    def translate(self, exc: BaseException) -> CloudrunError:
        return translate(exc)  # type: ignore[arg-type]

    def make_client(self, kind: str, region: str) -> Any:
        return self._factory(kind, region)

    def call(
        self,
        service: str,
        region: str,
        operation: str,
        params: dict[str, Any] | None = None,
        *,
        idempotent: bool = True,
        deadline_s: float | None = None,
    ) -> Any:
        """Return the SDK's response to one operation; errors come out translated, retried if retryable."""

        def once() -> Any:  # the client is made inside: a missing profile is an error to translate too
            return getattr(self.client(service, region), operation)(**(params or {}))

        return self.run(once, idempotent=idempotent, deadline_s=deadline_s)

    def quick_call(self, service: str, region: str, operation: str, params: dict[str, Any] | None = None) -> Any:
        """Return `call(...)` to the quick deadline (best-effort reads)."""
        return self.call(service, region, operation, params, deadline_s=self.quick_deadline_s)
