"""Azure ML managed online endpoints serving a Hugging Face model with vLLM in a custom container.

SDK: azure-ai-ml's MLClient with DefaultAzureCredential; which workspace and which cloud is decided in
azure_client.py (arguments, environment, config.json; CLOUDRUN_AZURE_ARM_ENDPOINT for the sandbox).

Retries: ours. MLClient is built with retry_total=0, so azure-core's RetryPolicy sends each request once,
and `cloudrun.retry.call` retries what `cloudrun.errors` marks retryable. ARM PUTs are upserts, so retrying
a create step is safe. azure-ai-ml's pollers print a dot to stdout on every poll from a background thread:
that print is removed once per process (quiet_polling) and operations start with stdout redirected, so
`--json` stays one document. Both, and the retry layer, live in azure_client.AzureSession, which every call uses.

Lifecycle: create() makes the endpoint (key auth; waited, it takes about a minute) and starts the
deployment "main" (not waited: a large model takes many minutes to download and load), then returns.
describe() reports creating until the deployment has Succeeded and the endpoint sends it 100 % of traffic;
the traffic step is taken by describe() itself once the deployment is ready, because traffic can only
point at a deployment that exists. A deployment that fails (e.g. its readiness probe) is `failed` with the
last 50 lines of its logs in failure_reason; the deployer then calls delete(), which removes the endpoint
and its deployments. delete() and the traffic step return once Azure accepted them.

Free accounts (MicrosoftDocs/azure-docs cost-management-billing/manage/avoid-charges-free-account.md and
upgrade-azure-subscription.md, azure-subscription-service-limits.md; azure-ai-docs how-to-manage-quotas.md):
the $200 credit of an Azure free account lasts 30 days and is lost on day 30 even after an upgrade to
pay-as-you-go; Free Trial subscriptions get no quota increases, and GPU families start at 0 vCPUs, so a trial
can deploy nothing here until upgraded. quota() shows it (0).

Gaps: supports_spot=False, managed online deployments have no low-priority VMs (those are for batch).
Credit balances are read by azure_credits (`credits sync`), prices by azure_prices. invocations() reads Azure Monitor's
RequestsPerMinute for the endpoint over ARM's REST API with its only supported aggregation, Average
(azure_metrics); an interval without a value means no requests, any other surprise means unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from cloudrun import retry
from cloudrun.errors import (
    CapacityUnavailable,
    CloudrunError,
    Conflict,
    InvalidInput,
    NotFound,
)
from cloudrun.loopback import is_loopback
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

from . import azure_client, azure_metrics, azure_quota, azure_storage, azure_template
from .azure_client import CREDENTIALS_HINT
from .azure_resources import (
    Observed,
    created_at,
    deployment_entity,
    endpoint_entity,
    ensure_datastore,
    managed,
    model_entity,
    needs_traffic,
    observe,
    region_key,
    to_usage,
)
from .common import CONFLICT_HINT, failure_error, require_staged

_STATE_MAP = {
    "Creating": EndpointState.creating,
    "Updating": EndpointState.updating,
    "Scaling": EndpointState.updating,
    "Succeeded": EndpointState.in_service,
    "Failed": EndpointState.failed,
    "Canceled": EndpointState.failed,
    "Deleting": EndpointState.deleting,
}

_ENDPOINT_DEADLINE_S = 900.0  # creating an empty endpoint takes about a minute


class AzureMLProvider(Provider):
    """Azure ML managed online endpoints serving a Hugging Face model with vLLM."""

    name = "azure"
    service = "azureml"
    extra = "azure"
    supports_spot = False
    has_quota_api = True
    has_invocation_metrics = True
    can_stage_weights = True
    token_visible_in = (
        "the Azure ML deployment's environment variables, readable with a deployment GET (cloudrun "
        "does not use the preview secret injection through workspace connections yet)"
    )

    def __init__(
        self,
        *,
        client_factory: ClientFactory | None = None,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        workspace: str | None = None,
        credential: Any = None,
        sleep: Callable[[float], None] | None = None,
        deadline_s: float = retry.DEFAULT_DEADLINE_S,
    ) -> None:
        self._target = azure_client.resolve(subscription_id, resource_group, workspace)
        session = azure_client.AzureSession(
            self._target,
            service=self.service,
            client_factory=client_factory,
            credential=credential,
            sleep=sleep,
            deadline_s=deadline_s,
        )
        # Every call to Azure goes through the session: translated errors, the one retry layer, quiet starts.
        self._call, self._begin, self._wait, self._ml = session.call, session.begin, session.wait, session.ml
        self._token_credential = session.token_credential
        self._quick_deadline_s = session.quick_deadline_s  # best-effort reads (check, quota) give up sooner
        self._location: str | None = None
        self._usages: dict[str, list[azure_quota.Usage] | None] = {}
        self.notices: list[str] = []

    # --- the Provider interface -------------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Return the workspace and its region; never raises (a failure is a result with a hint)."""
        try:
            location = self._workspace_location(deadline_s=self._quick_deadline_s)
        except CloudrunError as exc:
            return CheckResult(
                provider=self.name,
                sdk_installed=True,
                credentials_ok=False,
                detail=exc.message,
                hint=exc.hint or CREDENTIALS_HINT,
            )
        ml = self._ml()
        return CheckResult(
            provider=self.name,
            sdk_installed=True,
            credentials_ok=True,
            identity=f"subscription {ml.subscription_id}",
            detail=f"workspace {ml.workspace_name} in {location} (resource group {ml.resource_group_name})",
        )

    def quota(self, instance_type: str, region: str, *, spot: bool = False) -> int | None:
        """Return how many instances the family's free vCPUs allow in `region` (20 % reserve where it applies)."""
        if instance_type not in azure_quota.INSTANCE_TYPES:
            return None
        if region not in self._usages:
            try:
                rows = self._call(
                    lambda: list(self._ml().compute.list_usage(location=region)), deadline_s=self._quick_deadline_s
                )
                self._usages[region] = [to_usage(row) for row in rows]
            except CloudrunError:
                self._usages[region] = None
        usages = self._usages[region]
        return None if usages is None else azure_quota.instances_allowed(instance_type, usages)

    def unavailable_reason(self, spec: DeploySpec) -> str | None:
        """Return why this spec cannot be deployed from here: the stock vLLM image cannot take its arguments."""
        return azure_template.stock_image_problem()

    def create(self, spec: DeploySpec) -> EndpointRef:
        """Create the endpoint, start its vLLM deployment, and return; roll the endpoint back on a failed step."""
        if spec.provider != self.name or spec.spot:
            raise InvalidInput(
                f"the azure adapter cannot deploy this spec (provider {spec.provider}, spot {spec.spot})"
            )
        unavailable = self.unavailable_reason(spec)
        if unavailable:
            raise InvalidInput(unavailable)
        azure_template.check_name(spec.name)
        self._check_region(spec.region)
        if self._find_endpoint(spec.name) is not None:
            raise Conflict(f"an Azure ML online endpoint named {spec.name} already exists", hint=CONFLICT_HINT)
        token = None if spec.weights_uri else azure_template.hf_token()
        (_, endpoint), (_, deployment), _traffic = azure_template.requests(spec, token)
        if spec.weights_uri:
            self._register_staged(spec)
        try:
            poller = self._begin(lambda: self._ml().online_endpoints.begin_create_or_update(endpoint_entity(endpoint)))
            self._wait(poller, f"endpoint {spec.name}", _ENDPOINT_DEADLINE_S)
            self._begin(lambda: self._ml().online_deployments.begin_create_or_update(deployment_entity(deployment)))
        except CloudrunError:
            self._roll_back(spec.name)
            raise
        resources = {"deployment": deployment["name"], "workspace": self._ml().workspace_name}
        return EndpointRef(
            provider=self.name, region=spec.region, name=spec.name, endpoint_id=spec.name, resources=resources
        )

    def render_requests(self, spec: DeploySpec) -> list[tuple[str, dict[str, Any]]]:
        """Return the calls create() makes, sending nothing: the Hugging Face token redacted."""
        token = azure_template.REDACTED_TOKEN if azure_template.hf_token() and not spec.weights_uri else None
        staged = []
        if spec.weights_uri:  # cloudrun's datastore (created once), then the model asset on it
            staged = [("datastores.create_or_update", azure_template.datastore(spec)),
                      ("models.create_or_update", azure_template.model_asset(spec))]
        return staged + azure_template.requests(spec, token)

    def describe(self, ref: EndpointRef) -> Endpoint:
        """Return the endpoint's state (endpoint, deployment and traffic together); NotFound if it is gone."""
        endpoint = self._call(lambda: self._ml().online_endpoints.get(ref.endpoint_id))
        deployment_name = ref.resources.get("deployment", azure_template.deployment_name())
        observed = observe(endpoint, deployment_name, call=self._call, ml=self._ml, states=_STATE_MAP)
        if observed.state is EndpointState.creating and needs_traffic(endpoint, observed.deployment, deployment_name):
            endpoint.traffic = {deployment_name: 100}
            self._begin(lambda: self._ml().online_endpoints.begin_create_or_update(endpoint))
        return _to_endpoint(endpoint, observed, ref=ref)

    def invoke(self, ref: EndpointRef, payload: dict[str, Any]) -> dict[str, Any]:
        """Return the endpoint's parsed answer to an OpenAI-style chat payload, sent to the scoring URI with its key."""
        endpoint = self._call(lambda: self._ml().online_endpoints.get(ref.endpoint_id))
        keys = self._call(lambda: self._ml().online_endpoints.get_keys(ref.endpoint_id))
        if not endpoint.scoring_uri:
            raise CloudrunError(f"endpoint {ref.name} has no scoring URI yet", hint="wait until it is in service")
        response = self._call(azure_client.score, endpoint.scoring_uri, keys.primary_key, payload)
        try:
            return response.json()
        except ValueError as exc:
            raise CloudrunError(f"endpoint {ref.name} did not answer with JSON: {response.text[:200]!r}") from exc

    def delete(self, ref: EndpointRef) -> Removal:
        """Return what was removed: the endpoint with its deployments; gone is done.

        Tag-exact: deleting an endpoint deletes every deployment in it (Azure ML docs, how-to-deploy-online-endpoints,
        "Delete the endpoint and the deployment": "it deletes the endpoint and all the underlying deployments"), so
        if one lacks cloudrun's tag only the tagged deployments are deleted, one by one, and Conflict names the rest.
        """
        endpoint = self._find_endpoint(ref.endpoint_id)
        if endpoint is None:
            return Removal(not_found=(f"endpoint {ref.endpoint_id}",))
        if not managed(endpoint):
            raise Conflict(f"endpoint {ref.endpoint_id} is not managed by cloudrun; refusing to delete it")
        deployments = self._deployments(ref.endpoint_id)
        theirs = [d.name for d in deployments if not managed(d)]
        if theirs:
            removed = self._remove_deployments(ref.endpoint_id, [d for d in deployments if managed(d)])
            done = f"removed {', '.join(removed)}; " if removed else ""
            raise Conflict(
                f"endpoint {ref.endpoint_id} holds deployment {', '.join(theirs)} without the {MANAGED_TAG}=true tag: "
                f"{done}the endpoint and {', '.join(theirs)} are kept",
                hint="cloudrun deletes only what carries its tag: remove those deployments yourself, then run "
                f"`cloudrun down {ref.name}` again",
            )
        removed = (f"endpoint {ref.endpoint_id}", *(f"deployment {d.name}" for d in deployments))
        if endpoint.provisioning_state == "Deleting":
            return Removal(removed=removed)
        try:
            self._begin(lambda: self._ml().online_endpoints.begin_delete(name=ref.endpoint_id))
        except NotFound:
            return Removal(not_found=(f"endpoint {ref.endpoint_id}",))
        return Removal(removed=removed)

    def list_managed(self, regions: Sequence[str]) -> list[Endpoint]:
        """Return the workspace's endpoints tagged cloudrun-managed=true whose location is in `regions`.

        Each with its deployments' tags checked (a deployment without the tag makes it a look-alike) and, when it
        has no deployment at all, marked incomplete (a deploy killed between the endpoint and its deployment).
        Deployments live inside their endpoint, so no other kind needs listing.
        """
        wanted = {region_key(r) for r in regions}
        found = self._call(lambda: list(self._ml().online_endpoints.list()))
        endpoints = []
        for endpoint in found:
            if not managed(endpoint) or region_key(endpoint.location or "") not in wanted:
                continue
            deployments = self._deployments(endpoint.name)
            observed = observe(
                endpoint, azure_template.deployment_name(), call=self._call, ml=self._ml, states=_STATE_MAP
            )
            theirs = tuple(f"deployment {d.name}" for d in deployments if not managed(d))
            endpoints.append(_to_endpoint(endpoint, observed, untagged=theirs, bare=not deployments))
        return endpoints

    def invocations(self, ref: EndpointRef, since: datetime) -> int | None:
        """Return the endpoint's requests since `since` (Azure Monitor RequestsPerMinute, Average x minutes).

        None (unknown, so the endpoint is kept) when Monitor cannot be read or answers in a shape cloudrun does
        not know how to count (see azure_metrics).
        """
        path, params = azure_metrics.metrics_request(self._ml(), ref.endpoint_id, since, datetime.now(timezone.utc))
        try:
            body = self._call(azure_client.arm_get, self._target, self._token_credential(), path, params)
            return azure_metrics.request_count(body, params["interval"])
        except (CloudrunError, azure_metrics.UnexpectedMetrics) as exc:
            self.notices.append(f"requests of {ref.name} unknown: {exc}")
            return None

    def failure_error(self, endpoint: Endpoint) -> CloudrunError:
        """Return the normalised error a failed endpoint's reason stands for, so the deployer can fail over."""
        kind = azure_client.failure_kind(endpoint.failure_reason or "")
        deployment = endpoint.ref.resources.get("deployment", azure_template.deployment_name())
        logs = f"more logs: `az ml online-deployment get-logs -e {endpoint.ref.name} -n {deployment}`"
        return failure_error(endpoint, kind, azure_client.HINTS, service="Azure ML", unit="instance", otherwise=logs)

    # --- the endpoint's parts -----------------------------------------------------------------------------

    def _deployments(self, endpoint_name: str) -> list[Any]:
        """Return the endpoint's deployments (azure-ai-ml OnlineDeploymentOperations.list); none if it is gone."""
        try:
            return self._call(lambda: list(self._ml().online_deployments.list(endpoint_name)))
        except NotFound:
            return []

    def _remove_deployments(self, endpoint_name: str, deployments: list[Any]) -> list[str]:
        """Return the deployments whose deletion Azure accepted, deleted one by one (each returns once accepted)."""
        removed = []
        for deployment in deployments:
            if deployment.provisioning_state != "Deleting":
                try:
                    self._begin(lambda d=deployment: self._ml().online_deployments.begin_delete(
                        name=d.name, endpoint_name=endpoint_name))  # fmt: skip
                except NotFound:
                    continue
            removed.append(f"deployment {deployment.name}")
        return removed

    def _find_endpoint(self, name: str) -> Any | None:
        try:
            return self._call(lambda: self._ml().online_endpoints.get(name))
        except NotFound:
            return None

    def _check_region(self, region: str) -> None:
        location = self._workspace_location()
        if region_key(location) != region_key(region):
            raise CapacityUnavailable(
                f"the Azure ML workspace {self._ml().workspace_name} is in {location}, so it cannot place an endpoint "
                f"in {region}",
                hint=f"plan with --region {location}, or point cloudrun at a workspace in {region}",
            )

    def weights_store(self, region: str) -> azure_storage.BlobWeightsStore:
        """Return cloudrun's Blob container of staged weights in the workspace's storage account (azure_storage).

        The workspace's region is the only one: a managed online deployment reads model assets from its workspace.
        """
        ml = self._ml()
        workspace = self._call(lambda: ml.workspaces.get(ml.workspace_name))
        location = str(workspace.location)
        if region != location:
            raise InvalidInput(f"workspace {ml.workspace_name} is in {location}: its weights are staged there",
                               hint=f"use --region {location}")  # fmt: skip
        account = str(workspace.storage_account or "").rsplit("/", 1)[-1]
        if not account:
            raise CloudrunError(f"workspace {ml.workspace_name} names no storage account")
        arm = self._target.arm_url
        base = f"{arm}/blob/{account}" if is_loopback(arm) else f"https://{account}.blob.core.windows.net"

        def token() -> str:
            return str(self._token_credential().get_token(azure_storage.TOKEN_SCOPE).token)

        where = f"{ml.subscription_id}/{ml.resource_group_name}/{ml.workspace_name}"
        return azure_storage.BlobWeightsStore(self._call, token, base, where, location)

    def _register_staged(self, spec: DeploySpec) -> None:
        """Register the staged weights as the deployment's model asset, once their manifest is found; InvalidInput
        (nothing created) when the copy is not complete."""
        require_staged(self.weights_store(spec.region), spec)
        ensure_datastore(self._call, self._ml(), azure_template.datastore(spec))
        asset = model_entity(azure_template.model_asset(spec))
        self._call(lambda: self._ml().models.create_or_update(asset))

    def _workspace_location(self, deadline_s: float | None = None) -> str:
        if self._location is None:
            workspace = self._call(lambda: self._ml().workspaces.get(self._ml().workspace_name), deadline_s=deadline_s)
            self._location = str(workspace.location)
        return self._location

    def _roll_back(self, name: str) -> None:
        try:
            self._begin(lambda: self._ml().online_endpoints.begin_delete(name=name))
        except NotFound:
            pass
        except CloudrunError as exc:
            self.notices.append(f"could not roll back endpoint {name}: {exc}; remove it with `cloudrun down {name}`")


# --- converters to cloudrun models -----------------------------------------------------------------------


def _to_endpoint(endpoint: Any, observed: Observed, *, ref: EndpointRef | None = None, untagged: tuple[str, ...] = (),
                 bare: bool = False) -> Endpoint:  # fmt: skip
    """Return an Endpoint from azure-ai-ml's OnlineEndpoint and the observed state of its deployment.

    `bare`: the endpoint holds no deployment at all, so (unless it is going) a deploy stopped part-way.
    """
    tags = {str(k): str(v) for k, v in (endpoint.tags or {}).items()}
    deployment = observed.deployment
    ref = ref or EndpointRef(
        provider="azure",
        region=region_key(endpoint.location or ""),
        name=tags.get(DEPLOYMENT_TAG, endpoint.name),
        endpoint_id=endpoint.name,
        resources={"deployment": deployment.name if deployment else azure_template.deployment_name()},
    )
    reason = observed.reason if observed.state is EndpointState.failed else None
    incomplete = bare and observed.state is not EndpointState.deleting
    if incomplete:
        reason = f"incomplete: endpoint {endpoint.name} left, no deployment"
    return Endpoint(
        ref=ref,
        state=EndpointState.failed if incomplete else observed.state,
        instance_type=getattr(deployment, "instance_type", None),
        instance_count=getattr(deployment, "instance_count", None),
        created_at=created_at(endpoint),
        failure_reason=reason,
        url=endpoint.scoring_uri or None,
        tags=tags,
        missing=(f"deployment {azure_template.deployment_name()}",) if incomplete else (),
        untagged=untagged,
    )
