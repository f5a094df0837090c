"""AWS SageMaker real-time endpoints serving a Hugging Face model with the LMI (vLLM) container.

Calls: every one through aws_client.AwsSession: the default credential chain (`profile=` picks a named
profile), boto3 with its own retries off, AWS's one error table, `cloudrun.retry`. Creates are retried on
RateLimited only: a throttled request was never executed, but a 5xx may have created the resource, so a
Transient on a create is rolled back (tag-checked) instead of repeated.

The files: aws_client (calls, errors), aws_resources (model, endpoint config, endpoint; tag checks),
aws_template (the requests), aws_metrics (Invocations, log tail, quotas), aws_role (the execution role),
aws_prices (Price List API, for `catalog refresh`), aws_credits (freetier and Cost Explorer, for `credits sync`).

Gaps: supports_spot=False, SageMaker real-time endpoints have no spot capacity (managed spot is for
training jobs). list_managed() finds endpoints with SageMaker Search, which is eventually consistent: an endpoint
created seconds ago may be missing from it for a while (the state store covers that window; a tagged model whose
endpoint Search has not indexed yet is checked by name). Models and endpoint configs are not searchable by tag: it
lists them and reads each one's tags (aws_resources.listed), one ListTags call per model and config in a region.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from cloudrun import retry
from cloudrun.errors import (
    AuthError,
    CloudrunError,
    InvalidInput,
    Transient,
)
from cloudrun.models import (
    DEPLOYMENT_TAG,
    MANAGED_TAG,
    CheckResult,
    DeploySpec,
    Endpoint,
    EndpointRef,
    EndpointState,
    Removal,
)
from cloudrun.provider import ClientFactory, Provider

from . import aws_client, aws_metrics, aws_resources, aws_role, aws_stage_job, aws_storage, aws_template
from .aws_client import CREDENTIALS_HINT
from .aws_resources import Listed
from .common import failure_error, require_staged

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

_GLOBAL_REGION = "us-east-1"  # STS and IAM are global; any region's client reaches them
Parts = set[tuple[str, str]]  # (kind, name) of the endpoint configs and models an endpoint uses


class SageMakerProvider(Provider):
    """SageMaker real-time endpoints serving a Hugging Face model with the LMI (vLLM) container."""

    name = "aws"
    service = "sagemaker"
    extra = "aws"
    supports_spot = False
    has_quota_api = True
    has_invocation_metrics = True
    can_stage_weights = True
    can_stage_in_cloud = True
    token_visible_in = (
        "the SageMaker model's container environment, readable with DescribeModel (CreateModel take"
        "s no secret reference there)"
    )

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
        self._aws = aws_client.AwsSession(client_factory, profile=profile, sleep=sleep, deadline_s=deadline_s)
        self._call = self._aws.call  # one SDK call: translated, retried if retryable
        self._quick = self._aws.quick_call  # the same to a short deadline: best-effort reads (check, quota)
        self._sleep = sleep  # for the IAM-propagation wait; tests pass a no-op
        self._role_arn = role_arn
        self._create_role = create_role
        self._quotas: dict[tuple[str, str], dict[str, int] | None] = {}
        self.notices: list[str] = []

    # --- the Provider interface -------------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Return the caller's identity from STS; never raises (a failure is a result with a hint)."""
        try:
            who = self._quick("sts", _GLOBAL_REGION, "get_caller_identity")
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
        if spec.weights_uri:
            require_staged(self.weights_store(spec.region), spec)
        role_arn = self.resolve_role()
        aws_resources.refuse_existing(self._call, spec)
        created: list[str] = []
        token = None if spec.weights_uri else aws_template.hf_token()
        for operation, params in aws_template.requests(spec, role_arn, token):
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

    def delete(self, ref: EndpointRef) -> Removal:
        """Return what was removed of the endpoint, its config and its models; Conflict if any lacks cloudrun's tag.

        cloudrun names all three after the deployment, so a ref of a set a deploy left half-made finds them too.
        """
        return aws_resources.guarded_removal(self._call, ref.region, ref.endpoint_id, ref.resources)

    def list_managed(self, regions: Sequence[str]) -> list[Endpoint]:
        """Return every deployment tagged cloudrun-managed=true in these regions, one Endpoint each.

        Endpoints come from SageMaker Search by tag; models and endpoint configs no listed endpoint uses come from
        aws_resources.listed (tags read one by one) and are grouped by their cloudrun-deployment tag: a deploy
        killed between its create calls leaves such a set (an incomplete Endpoint, `missing` set).
        """
        found = []
        for region in regions:
            models = aws_resources.listed(self._call, region, "model")
            configs = aws_resources.listed(self._call, region, "endpoint_config")
            used: Parts = set()
            for record in self._searched(region):
                tags = aws_resources.tag_dict(record.get("Tags", []))
                endpoint, parts = self._with_parts(region, record, tags, models, configs)
                found.append(endpoint)
                used |= parts
            names = {endpoint.ref.name for endpoint in found if endpoint.ref.region == region}
            found += self._leftovers(region, models, configs, used, names)
        return found

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
        kind = aws_client.failure_kind(endpoint.failure_reason or "")
        tail = "" if kind is not CloudrunError else aws_metrics.log_tail(self._quick, endpoint.ref.region,
                                                                          endpoint.ref.endpoint_id)  # fmt: skip
        return failure_error(endpoint, kind, aws_client.HINTS, service="SageMaker", unit="instance",
                             otherwise=f"more in CloudWatch Logs: /aws/sagemaker/Endpoints/{endpoint.ref.name}",
                             detail=f"; last log lines:\n{tail}" if tail else "")  # fmt: skip

    def in_cloud_copier(self, region: str) -> aws_stage_job.ProcessingJobCopier:
        """Return a SageMaker Processing job in `region` that copies weights into cloudrun's bucket (aws_stage_job),
        run as the execution role (found or made when the job starts)."""
        return aws_stage_job.ProcessingJobCopier(self._call, self.weights_store(region), self.resolve_role,
                                                 sleep=self._sleep)

    def weights_store(self, region: str) -> aws_storage.S3WeightsStore:
        """Return cloudrun's S3 bucket of staged weights for this account in `region` (aws_storage)."""
        account = self._call("sts", _GLOBAL_REGION, "get_caller_identity")["Account"]
        return aws_storage.S3WeightsStore(self._call, region, account)

    def resolve_role(self) -> str:
        """Return the execution role ARN: --role, $CLOUDRUN_SAGEMAKER_ROLE_ARN, or cloudrun's own (made if allowed)."""
        if not self._role_arn:
            self._role_arn = aws_role.resolve(self._iam, role_arn=None, create=self._create_role, notices=self.notices)
        return self._role_arn

    def render_requests(self, spec: DeploySpec, role_arn: str | None = None) -> list[aws_template.Request]:
        """Return the (operation, params) calls create() sends, sending nothing: token redacted, role as known."""
        token = aws_template.REDACTED_TOKEN if aws_template.hf_token() and not spec.weights_uri else None
        return aws_template.requests(spec, aws_role.known_without_calls(role_arn or self._role_arn), token)

    def _searched(self, region: str) -> list[dict[str, Any]]:
        """Return the Search records of the endpoints tagged cloudrun-managed=true in `region`."""
        search = {"Filters": [{"Name": f"Tags.{MANAGED_TAG}", "Operator": "Equals", "Value": "true"}]}
        params = {"Resource": "Endpoint", "SearchExpression": search, "MaxResults": 100}
        results = aws_resources.pages(self._call, "sagemaker", region, "search", params, "Results")
        records = [result.get("Endpoint") or {} for result in results]
        return [r for r in records if aws_resources.tag_dict(r.get("Tags", [])).get(MANAGED_TAG) == "true"]

    def _with_parts(self, region: str, record: dict[str, Any], tags: dict[str, str], models: dict[str, Listed],
                    configs: dict[str, Listed]) -> tuple[Endpoint, Parts]:  # fmt: skip
        """Return an endpoint with its config's and models' tags checked, and the (kind, name) of those parts."""
        config = aws_resources.endpoint_config(self._call, region, record.get("EndpointConfigName"))
        parts = {("endpoint_config", record.get("EndpointConfigName") or "")}
        parts |= {("model", name) for name in aws_resources.model_names(config or {})}
        theirs = [
            f"{kind.replace('_', ' ')} {name}"
            for kind, name in sorted(parts)
            if (part := (configs if kind == "endpoint_config" else models).get(name)) and not part.managed
        ]
        if tags.get(MANAGED_TAG) != "true":
            theirs.insert(0, f"endpoint {record['EndpointName']}")
        return _to_endpoint(record, region, tags, config, untagged=tuple(theirs)), parts

    def _leftovers(self, region: str, models: dict[str, Listed], configs: dict[str, Listed], used: Parts,
                   names: set[str]) -> list[Endpoint]:  # fmt: skip
        """Return the tagged models and configs no listed endpoint uses, one Endpoint per deployment."""
        groups: dict[str, list[Listed]] = {}
        for item in [*models.values(), *configs.values()]:
            if item.managed and (item.kind, item.name) not in used:
                groups.setdefault(item.deployment, []).append(item)
        found = []
        for name, parts in sorted(groups.items()):
            if name in names:
                continue  # its endpoint was listed: these are parts it no longer uses, left alone
            # Search is eventually consistent: ask for the endpoint by name before calling the set incomplete.
            endpoint = aws_resources.find(self._call, region, "endpoint", name)
            if endpoint is not None:
                record, tags = endpoint
                found.append(self._with_parts(region, record, {**parts[0].tags, **tags}, models, configs)[0])
                continue
            config = next((p for p in parts if p.kind == "endpoint_config"), None)
            record = aws_resources.endpoint_config(self._call, region, config.name) if config else None
            found.append(_incomplete(region, name, parts, record, models))
        return found

    def _iam(self, operation: str, **params: Any) -> Any:
        return self._call("iam", _GLOBAL_REGION, operation, params, idempotent=not operation.startswith("create"))

    def _quota_table(self, region: str, operation: str) -> dict[str, int] | None:
        """Return {quota name: value} for SageMaker in `region` (cached), or None if it cannot be read."""
        if (region, operation) not in self._quotas:
            try:  # best effort, to the quick deadline: keep plans fast
                self._quotas[region, operation] = aws_metrics.quota_table(self._quick, region, operation)
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
    untagged: tuple[str, ...] = (),
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
        untagged=untagged,
    )


def _incomplete(region: str, name: str, parts: list[Listed], config: dict[str, Any] | None,
                models: dict[str, Listed]) -> Endpoint:  # fmt: skip
    """Return the Endpoint of a deployment whose endpoint was never created: its tagged model and/or config."""
    have = {part.kind: part.name for part in parts}
    model_names = aws_resources.model_names(config or {}) or [have.get("model", name)]
    theirs = tuple(f"model {m}" for m in model_names if m in models and not models[m].managed)
    missing = tuple(kind.replace("_", " ") for kind in ("model", "endpoint_config") if kind not in have)
    missing += ("endpoint",)
    left = ", ".join(part.label for part in parts)
    times = [part.created_at for part in parts if part.created_at]
    variant = ((config or {}).get("ProductionVariants") or [{}])[0]
    return Endpoint(
        ref=EndpointRef(provider="aws", region=region, name=name, endpoint_id=name,
                        resources={"model": model_names[0], "endpoint_config": have.get("endpoint_config", name)}),
        state=EndpointState.failed,
        instance_type=variant.get("InstanceType"),
        created_at=max(times).astimezone(timezone.utc) if times else None,
        failure_reason=f"incomplete: {left} left, no {', no '.join(missing)}",
        tags={MANAGED_TAG: "true", DEPLOYMENT_TAG: name},
        missing=missing,
        untagged=theirs,
    )  # fmt: skip
