"""AWS SageMaker real-time endpoints.

SDK: boto3 with the default credential chain (environment variables, shared config and credentials
files, SSO profiles, container and instance roles); `profile=` picks a named profile.

Retries: ours. Every client is built with botocore `total_max_attempts=1`, so the SDK sends each
request once and `cloudrun.retry.call` retries what `cloudrun.errors` marks retryable. (botocore's
`retries={"max_attempts": 1}` counts retries, not attempts: it would still retry once.) Creates are
retried on RateLimited only: a throttled request was never executed, but a 5xx may have created the
resource, so a Transient on a create is rolled back (tag-checked) instead of repeated.

Gaps: supports_spot=False, SageMaker real-time endpoints have no spot capacity (managed spot is for
training jobs). has_live_balances=False, the Free-plan credit (freetier) is read elsewhere, later.
list_managed() uses SageMaker Search, which is eventually consistent: an endpoint created seconds ago
may be missing from it for a while (the state store covers that window).
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from botocore import exceptions as boto_errors
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
from cloudrun.models import DEPLOYMENT_TAG, MANAGED_TAG, CheckResult, DeploySpec, Endpoint, EndpointRef, EndpointState
from cloudrun.provider import ClientFactory, Provider

from . import aws_metrics, aws_resources, aws_role, aws_template
from .aws_client import default_client_factory as default_client_factory  # re-exported

_STATE_MAP = {
    "Creating": EndpointState.creating,
    "InService": EndpointState.in_service,
    "Updating": EndpointState.updating,
    "SystemUpdating": EndpointState.updating,
    "RollingBack": EndpointState.updating,
    "OutOfService": EndpointState.updating,  # not serving, not terminal: SageMaker may bring it back
    "Deleting": EndpointState.deleting,
    "Failed": EndpointState.failed,
    "UpdateRollbackFailed": EndpointState.failed,
}

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
_QUOTA_HINT = (
    "request an increase in Service Quotas (service SageMaker, quota '<instance type> for endpoint usage'), "
    "or plan without it: `cloudrun plan --exclude aws`"
)
_HINTS: dict[type[CloudrunError], str] = {
    QuotaExceeded: _QUOTA_HINT,
    CapacityUnavailable: "SageMaker has no capacity for this type here now: try another instance type or region",
    Conflict: "choose another deployment name, or remove the old one with `cloudrun down NAME`",
}


def _translate(exc: Exception) -> CloudrunError:
    """Return the cloudrun error that a boto3/botocore exception stands for."""
    if isinstance(exc, _CREDENTIAL_ERRORS):
        return AuthError(f"{aws_role.CREDENTIALS_MISSING}: {exc}", hint=CREDENTIALS_HINT)
    if isinstance(exc, _CONNECTION_ERRORS):
        return Transient(f"could not reach AWS: {exc}")
    if not isinstance(exc, ClientError):
        return CloudrunError(f"AWS SDK error: {exc}")
    error = exc.response.get("Error", {})
    code, message = error.get("Code", ""), error.get("Message") or str(exc)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    kind = _error_class(code, message, status)
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
    return kind(text, hint=_HINTS.get(kind))


def _error_class(code: str, message: str, status: int) -> type[CloudrunError]:
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


_GLOBAL_REGION = "us-east-1"  # STS and IAM are global; any region's client reaches them
_QUICK_DEADLINE_S = 10.0


class SageMakerProvider(Provider):
    """SageMaker real-time endpoints serving a Hugging Face model with the LMI (vLLM) container."""

    name = "aws"
    service = "sagemaker"
    extra = "aws"
    supports_spot = False
    has_quota_api = True
    has_live_balances = False
    has_invocation_metrics = True

    def __init__(
        self,
        *,
        client_factory: ClientFactory | None = None,
        role_arn: str | None = None,
        profile: str | None = None,
        create_role: bool = True,
        sleep: Callable[[float], None] | None = None,
        deadline_s: float = retry.DEFAULT_DEADLINE_S,
    ) -> None:
        self._factory = client_factory or default_client_factory(profile)
        self._role_arn = role_arn
        self._create_role = create_role
        self._sleep = sleep  # for retry backoff and the IAM-propagation wait; tests pass a no-op
        self._deadline_s = deadline_s
        # check() and quota() are best effort: they give up sooner than the calls that change things.
        self._quick_deadline_s = min(_QUICK_DEADLINE_S, deadline_s)
        self._clients: dict[tuple[str, str], Any] = {}
        self._clients_lock = threading.Lock()
        self._quotas: dict[tuple[str, str], dict[str, int] | None] = {}
        self.notices: list[str] = []

    # --- the Provider interface -------------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Return the caller's identity from STS; never raises (a failure is a result with a hint)."""
        try:
            who = self._call("sts", _GLOBAL_REGION, "get_caller_identity", deadline_s=self._quick_deadline_s)
        except CloudrunError as exc:
            hint = exc.hint if isinstance(exc, AuthError) and exc.hint else CREDENTIALS_HINT
            return CheckResult(
                provider=self.name, sdk_installed=True, credentials_ok=False, detail=exc.message, hint=hint
            )
        return CheckResult(
            provider=self.name,
            sdk_installed=True,
            credentials_ok=True,
            identity=who["Arn"],
            detail=f"account {who['Account']}",
        )

    def quota(self, instance_type: str, region: str, *, spot: bool = False) -> int | None:
        """Return the account's '<type> for endpoint usage' quota in `region`, or None if it cannot be read."""
        quota_name = f"{instance_type} for endpoint usage"
        # list_service_quotas gives applied values only; a quota never changed shows only among the defaults.
        for operation in ("list_service_quotas", "list_aws_default_service_quotas"):
            table = self._quota_table(region, operation)
            if table is None:
                return None
            if quota_name in table:
                return table[quota_name]
        return None

    def create(self, spec: DeploySpec) -> EndpointRef:
        """Create the model, endpoint config and endpoint named spec.name; roll back on a failed step."""
        if spec.provider != self.name or spec.spot:
            raise InvalidInput(f"the aws adapter cannot deploy this spec (provider {spec.provider}, spot {spec.spot})")
        role_arn = self.resolve_role()
        aws_resources.refuse_existing(self._call, spec)
        created: list[str] = []
        for operation, params in aws_template.requests(spec, role_arn, aws_template.hf_token()):
            kind = operation.removeprefix("create_")
            try:
                aws_resources.create_step(self._call, spec.region, operation, params, self._sleep)
            except CloudrunError as exc:
                uncertain = kind if isinstance(exc, Transient) else None  # a 5xx create may have succeeded
                aws_resources.rollback(self._call, spec, created, uncertain, self.notices)
                raise
            created.append(kind)
        resources = {"model": spec.name, "endpoint_config": spec.name}
        return EndpointRef(
            provider=self.name, region=spec.region, name=spec.name, endpoint_id=spec.name, resources=resources
        )

    def describe(self, ref: EndpointRef) -> Endpoint:
        """Return the endpoint as SageMaker describes it now; NotFound if it is gone."""
        record = self._call("sagemaker", ref.region, "describe_endpoint", {"EndpointName": ref.endpoint_id})
        config = aws_resources.endpoint_config(self._call, ref.region, record.get("EndpointConfigName"))
        tags = aws_resources.tags(self._call, ref.region, record["EndpointArn"])
        return _to_endpoint(record, ref.region, tags, config, ref=ref)

    def invoke(self, ref: EndpointRef, payload: dict[str, Any]) -> dict[str, Any]:
        """Return the endpoint's parsed JSON answer to an OpenAI-style chat payload (LMI accepts it)."""
        params = {
            "EndpointName": ref.endpoint_id,
            "ContentType": "application/json",
            "Accept": "application/json",
            "Body": json.dumps(payload),
        }
        body = self._call("sagemaker-runtime", ref.region, "invoke_endpoint", params)["Body"].read()
        try:
            return json.loads(body)
        except ValueError as exc:
            raise CloudrunError(f"endpoint {ref.name} did not answer with JSON: {body[:200]!r}") from exc

    def delete(self, ref: EndpointRef) -> None:
        """Delete the endpoint, its config and its model; refuse (Conflict) if any lacks cloudrun's tag."""
        aws_resources.guarded_removal(self._call, ref.region, ref.endpoint_id, ref.resources)

    def list_managed(self, regions: Sequence[str]) -> list[Endpoint]:
        """Return the endpoints tagged cloudrun-managed=true in these regions (SageMaker Search, by tag)."""
        search = {"Filters": [{"Name": f"Tags.{MANAGED_TAG}", "Operator": "Equals", "Value": "true"}]}
        endpoints = []
        for region in regions:
            params = {"Resource": "Endpoint", "SearchExpression": search, "MaxResults": 100}
            for result in aws_resources.pages(self._call, "sagemaker", region, "search", params, "Results"):
                record = result.get("Endpoint") or {}
                tags = aws_resources.tag_dict(record.get("Tags", []))
                if tags.get(MANAGED_TAG) != "true":
                    continue
                config = aws_resources.endpoint_config(self._call, region, record.get("EndpointConfigName"))
                endpoints.append(_to_endpoint(record, region, tags, config))
        return endpoints

    def invocations(self, ref: EndpointRef, since: datetime) -> int | None:
        """Return the Invocations since `since` summed over every variant of the endpoint; 0 without datapoints.

        None (unknown, so the endpoint is kept) when the endpoint, its variants or any variant's metric cannot be
        read or come back in an unexpected shape (see aws_metrics).
        """
        now = datetime.now(timezone.utc)
        since = since if since.tzinfo else since.replace(tzinfo=timezone.utc)
        try:
            return aws_metrics.endpoint_invocations(self._call, ref.region, ref.endpoint_id, since, now)
        except (CloudrunError, aws_metrics.UnexpectedMetrics) as exc:
            self.notices.append(f"invocations of {ref.name} unknown: {exc}")
            return None

    # --- beyond the interface ---------------------------------------------------------------------------

    def failure_error(self, endpoint: Endpoint) -> CloudrunError:
        """Return the normalised error a Failed endpoint's reason stands for, so the deployer can fail over."""
        reason = endpoint.failure_reason or "SageMaker gave no reason"
        where = f"endpoint {endpoint.ref.name} ({endpoint.instance_type or 'instance type unknown'}"
        message = f"{where} in {endpoint.ref.region}) failed: {reason}"
        lowered = reason.lower()
        if any(marker in lowered for marker in _QUOTA_MARKERS):
            return QuotaExceeded(message, hint=_QUOTA_HINT)
        if "capacity" in lowered:
            return CapacityUnavailable(message, hint=_HINTS[CapacityUnavailable])
        quick = functools.partial(self._call, deadline_s=self._quick_deadline_s)
        tail = aws_metrics.log_tail(quick, endpoint.ref.region, endpoint.ref.endpoint_id)
        if tail:
            message += f"; last log lines:\n{tail}"
        return CloudrunError(message, hint=f"more in CloudWatch Logs: /aws/sagemaker/Endpoints/{endpoint.ref.name}")

    def resolve_role(self) -> str:
        """Return the execution role ARN: --role, $CLOUDRUN_SAGEMAKER_ROLE_ARN, or cloudrun's own (made if allowed)."""
        if not self._role_arn:
            self._role_arn = aws_role.resolve(self._iam, role_arn=None, create=self._create_role, notices=self.notices)
        return self._role_arn

    def render_requests(self, spec: DeploySpec, role_arn: str | None = None) -> list[aws_template.Request]:
        """Return the (operation, params) calls create() sends, sending nothing: token redacted, role as known."""
        token = aws_template.REDACTED_TOKEN if aws_template.hf_token() else None
        return aws_template.requests(spec, aws_role.known_without_calls(role_arn or self._role_arn), token)

    # --- calls: translated errors, the one retry layer ----------------------------------------------------

    def _call(
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

        def attempt() -> Any:
            try:
                return getattr(self._client(service, region), operation)(**(params or {}))
            except (ClientError, BotoCoreError) as exc:
                error = _translate(exc)
                if not idempotent and isinstance(error, Transient):
                    error.retryable = False  # the create may have happened: roll back, never repeat blindly
                raise error from exc

        deadline = self._deadline_s if deadline_s is None else deadline_s
        return retry.call(attempt, deadline_s=deadline, sleep=self._sleep)

    def _client(self, service: str, region: str) -> Any:
        # boto3 sessions are not safe to create clients from in several threads at once (concurrent teardown)
        with self._clients_lock:
            if (service, region) not in self._clients:
                self._clients[service, region] = self._factory(service, region)
            return self._clients[service, region]

    def _iam(self, operation: str, **params: Any) -> Any:
        return self._call("iam", _GLOBAL_REGION, operation, params, idempotent=not operation.startswith("create"))

    def _quota_table(self, region: str, operation: str) -> dict[str, int] | None:
        """Return {quota name: value} for SageMaker in `region` (cached), or None if it cannot be read."""
        if (region, operation) not in self._quotas:
            params = {"ServiceCode": "sagemaker"}
            quick = functools.partial(self._call, deadline_s=self._quick_deadline_s)  # best effort: keep plans fast
            try:
                quotas = aws_resources.pages(quick, "service-quotas", region, operation, params, "Quotas")
                self._quotas[region, operation] = {q["QuotaName"]: int(q["Value"]) for q in quotas}
            except CloudrunError:
                self._quotas[region, operation] = None
        return self._quotas[region, operation]


# --- converters to cloudrun models -----------------------------------------------------------------------


def _to_endpoint(
    record: dict[str, Any],
    region: str,
    tags: dict[str, str],
    config: dict[str, Any] | None,
    *,
    ref: EndpointRef | None = None,
) -> Endpoint:
    """Return an Endpoint from a describe_endpoint (or Search) record and its endpoint config."""
    name = record["EndpointName"]
    planned = ((config or {}).get("ProductionVariants") or [{}])[0]
    live = (record.get("ProductionVariants") or [{}])[0]
    ref = ref or EndpointRef(
        provider="aws",
        region=region,
        name=tags.get(DEPLOYMENT_TAG, name),
        endpoint_id=name,
        resources={"model": planned.get("ModelName", name), "endpoint_config": record.get("EndpointConfigName", name)},
    )
    created_at = record.get("CreationTime")
    return Endpoint(
        ref=ref,
        state=_STATE_MAP.get(record.get("EndpointStatus", ""), EndpointState.updating),
        instance_type=planned.get("InstanceType"),
        instance_count=live.get("CurrentInstanceCount")
        or live.get("DesiredInstanceCount")
        or planned.get("InitialInstanceCount"),
        created_at=created_at.astimezone(timezone.utc) if created_at else None,
        failure_reason=record.get("FailureReason") or None,
        url=f"https://runtime.sagemaker.{region}.amazonaws.com/endpoints/{name}/invocations",
        tags=tags,
    )
