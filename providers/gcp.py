"""Google Vertex AI online prediction endpoints, serving a Hugging Face model with the vLLM container.

SDK: the low-level `google.cloud.aiplatform_v1` clients (ModelService, EndpointService, PredictionService),
imported only when a Google command runs (about 1.5 s faster than the high-level `google.cloud.aiplatform`),
over the REST transport: the transport the tests drive against the fake is the one that runs in production.
Credentials: Application Default Credentials (`gcloud auth application-default login`, a key file in
GOOGLE_APPLICATION_CREDENTIALS, or the metadata server on Google's machines). Project: `project=` (the CLI's
--project), else $GOOGLE_CLOUD_PROJECT, else the project ADC names (gcloud's default). The region is the
placement's. Vertex returns resource names with the project NUMBER; cloudrun keeps the names it is given
(EndpointRef.endpoint_id, resources["model"]) and never rebuilds one from the project id.

Retries: ours. aiplatform_v1 methods have no default retry, and every call passes `retry=None` and a
timeout anyway; long-running operations are polled (gcp_client) with the operations mixin's `get_operation`
(again `retry=None`), never with `Operation.result()`, whose operations client retries UNAVAILABLE on its
own. `cloudrun.retry.call` retries what `cloudrun.errors` marks retryable. Creates are not repeated after a
5xx (the resource may exist): they roll back by label instead.

Lifecycle: create() uploads the model and creates the endpoint (both operations waited, with a deadline),
then starts deploy_model and returns once Vertex accepted it: deploying a large model takes up to an hour.
describe() reports creating while that operation runs (its name is kept in resources["deploy_operation"]),
in_service once the endpoint has the deployed model, failed with the operation's error otherwise. An endpoint
with no deployed model and no deploy operation is incomplete (failed: a deploy stopped before deployModel), and
list_managed() lists labelled models too, so a model uploaded by a deploy killed before its endpoint is found.

Sandbox: CLOUDRUN_VERTEX_API_ENDPOINT=http://127.0.0.1:PORT sends every aiplatform call there, and, being
loopback, the Cloud Monitoring and Cloud Quotas reads too (a non-loopback override leaves those on Google's
hosts); CLOUDRUN_SANDBOX_CREDENTIALS=1 adds anonymous credentials and the project "cloudrun-sandbox", and is
refused for an endpoint that is not loopback. Then nothing else is called: no ADC lookup, no metadata
server, no Google host at all. gcp_client resolves all this: hosts, clients, credentials and project.

Free trial: a Google Free Trial account cannot use GPUs or request quota until it is upgraded to a paid
billing account (docs.cloud.google.com/free/docs/free-cloud-features); its $300 credit is kept after upgrading.
The planner (credits ledger) must not count a trial credit for GPU offers unless the user says the account is upgraded.

Metrics and quota (`gcp_metrics`, both plain REST reads): invocations() sums Cloud Monitoring's
`aiplatform.googleapis.com/prediction/online/prediction_count` for the endpoint; quota() reads the Cloud
Quotas serving GPU quota of the machine's GPU type in the region (e.g. CustomModelServingL4GPUsPerProjectPerRegion)
and divides by the machine's GPU count.

Spot: `deploy --spot` sets DeployedModel.dedicated_resources.spot; spot placements draw on the preemptible serving
quotas (gcp_metrics.SPOT_QUOTA_IDS, named as Google's own notebook helper names them; an id Cloud Quotas does not
know reads as unknown). Credits: no API exposes the remaining trial credit, so `credits sync` estimates it from
the ledger; prices come from the Cloud Billing Catalog (gcp_prices).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from google.cloud import aiplatform_v1
from google.protobuf import json_format, struct_pb2

from cloudrun import retry
from cloudrun.errors import AuthError, CloudrunError, InvalidInput
from cloudrun.loopback import is_loopback
from cloudrun.models import (
    DEPLOYMENT_TAG,
    CheckResult,
    DeploySpec,
    Endpoint,
    EndpointRef,
    EndpointState,
    Removal,
)
from cloudrun.pricing import shapes
from cloudrun.provider import ClientFactory, Provider

from . import gcp_client, gcp_metrics, gcp_resources, gcp_storage, gcp_template
from .common import failure_error, require_staged
from .gcp_client import SANDBOX_CREDENTIALS_ENV as SANDBOX_CREDENTIALS_ENV  # re-exported: public names stay here
from .gcp_client import SANDBOX_ENDPOINT_ENV as SANDBOX_ENDPOINT_ENV
from .gcp_client import SANDBOX_PROJECT as SANDBOX_PROJECT

# Vertex endpoints have no state field: cloudrun derives one from the deploy operation and the endpoint.
_STATE_MAP = {
    "deploying": EndpointState.creating,  # deploy_model operation still running
    "deployed": EndpointState.in_service,  # the endpoint carries a deployed model
    "deploy_failed": EndpointState.failed,  # the operation ended with an error
    "empty": EndpointState.failed,  # no model and no deploy running: a deploy stopped part-way (incomplete)
}

_CHECK_REGION = "us-central1"


class VertexProvider(Provider):
    """Vertex AI online prediction endpoints (dedicated GPU resources, optionally on Spot VMs)."""

    name = "gcp"
    service = "vertex"
    extra = "gcp"
    supports_spot = True
    has_quota_api = True
    has_invocation_metrics = True
    can_stage_weights = True
    token_visible_in = (
        "the Vertex model's container env, readable with models.get (ModelContainerSpec.env takes p"
        "lain values)"
    )

    def __init__(
        self,
        *,
        client_factory: ClientFactory | None = None,
        project: str | None = None,
        sleep: Callable[[float], None] | None = None,
        deadline_s: float = retry.DEFAULT_DEADLINE_S,
        lro_deadline_s: float = gcp_client.LRO_DEADLINE_S,
    ) -> None:
        self._google = gcp_client.VertexSession(
            client_factory=client_factory,
            project=project,
            sleep=sleep,
            deadline_s=deadline_s,
            lro_deadline_s=lro_deadline_s,
        )
        self.sandbox = self._google.sandbox
        self._call = self._google.call  # one SDK call: translated, retried if retryable
        self._quick = self._google.quick_call  # the same to a short deadline: best-effort reads (check, quota)
        self._run_operation = self._google.run_operation  # a long-running operation, waited to a deadline
        self._serving_quotas: dict[tuple[str, bool], dict[str, Any] | None] = {}  # (GPU, spot) -> QuotaInfo, once
        self.notices: list[str] = []

    # --- the Provider interface -------------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Return the project and whether Vertex answers with these credentials; never raises."""
        try:
            project = self.project
            parent = f"projects/{project}/locations/{_CHECK_REGION}"
            self._quick("endpoint", _CHECK_REGION, "list_endpoints", {"parent": parent, "page_size": 1}, collect=False)
        except CloudrunError as exc:
            hint = exc.hint or gcp_client.CREDENTIALS_HINT
            return CheckResult(provider=self.name, sdk_installed=True, credentials_ok=False, detail=str(exc), hint=hint)
        credentials = self._google.credentials
        who = "sandbox (anonymous)" if self.sandbox else getattr(credentials, "service_account_email", None)
        return CheckResult(provider=self.name, sdk_installed=True, credentials_ok=True,
                           identity=who or "application default credentials", detail=f"project {project}")  # fmt: skip

    def quota(self, instance_type: str, region: str, *, spot: bool = False) -> int | None:
        """Return how many `instance_type` replicas the serving GPU quota allows in `region`, or None if unknown.

        That is floor(the project's serving quota for the machine's GPU type in the region / its GPUs per
        machine), from Cloud Quotas; with `spot`, the preemptible serving quota (gcp_metrics.SPOT_QUOTA_IDS). None:
        a machine type or GPU cloudrun cannot map, or a quota it cannot read (best effort, quick deadline).
        """
        shape = shapes.for_provider(self.name).get(instance_type)
        if shape is None or shape.gpu_count < 1:
            return None
        try:
            accelerator = gcp_template.accelerator_type(instance_type)
        except InvalidInput:
            return None
        key = (accelerator, spot)
        if key not in self._serving_quotas:  # one read per GPU type covers every region
            try:
                self._serving_quotas[key] = gcp_metrics.serving_quota(self._quick, self.project, accelerator, spot)
            except CloudrunError as exc:
                kind = "spot serving" if spot else "serving"
                self.notices.append(f"Vertex {kind} quota for {accelerator} GPUs unknown: {exc}")
                self._serving_quotas[key] = None
        info = self._serving_quotas[key]
        gpus = None if info is None else gcp_metrics.regional_value(info, region)
        return None if gpus is None else gpus // shape.gpu_count

    def create(self, spec: DeploySpec) -> EndpointRef:
        """Upload the model, create the endpoint and start the deployment; roll back on a failed step."""
        if spec.provider != self.name:
            raise InvalidInput(f"the gcp adapter cannot deploy a {spec.provider} spec")
        plan = gcp_template.requests(spec, self.project, gcp_template.hf_token())  # validates machine and labels
        if spec.weights_uri:
            require_staged(self.weights_store(spec.region), spec)
        gcp_resources.refuse_existing(self._call, self.project, spec)
        model_name = endpoint_name = ""
        try:
            done = self._run_operation("model", spec.region, *plan[0])
            model_name = aiplatform_v1.UploadModelResponse.deserialize(done.response.value).model
            done = self._run_operation("endpoint", spec.region, *plan[1])
            endpoint_name = aiplatform_v1.Endpoint.deserialize(done.response.value).name
            deploy = gcp_template.requests(spec, self.project, gcp_template.hf_token(), model_name, endpoint_name)[2]
            started = self._call("endpoint", spec.region, deploy[0], deploy[1], idempotent=False)
        except (CloudrunError, KeyboardInterrupt):
            gcp_resources.roll_back(self._call, self._run_operation, self.project, spec, self.notices)
            raise
        operation = started.operation.name
        resources = {"model": model_name, "deploy_operation": operation, "machine_type": spec.instance_type}
        return EndpointRef(provider=self.name, region=spec.region, name=spec.name, endpoint_id=endpoint_name,
                           resources=resources)  # fmt: skip

    def render_requests(self, spec: DeploySpec) -> list[gcp_template.Request]:
        """Return the (method, request) calls create() sends, sending nothing: token redacted, names as placeholders."""
        token = gcp_template.REDACTED_TOKEN if gcp_template.hf_token() else None
        project = self._google.known_project or "<project from ADC>"
        return gcp_template.requests(spec, project, token)

    def describe(self, ref: EndpointRef) -> Endpoint:
        """Return the endpoint's state: creating while its deploy runs, then in_service or failed."""
        record = self._call("endpoint", ref.region, "get_endpoint", {"name": ref.endpoint_id})
        return self._to_endpoint(record, ref.region, ref)

    def invoke(self, ref: EndpointRef, payload: dict[str, Any]) -> dict[str, Any]:
        """Return the endpoint's chat completion for an OpenAI-style payload (Vertex predict, chatCompletions)."""
        instance = {"@requestFormat": "chatCompletions", **payload}
        request = aiplatform_v1.PredictRequest(endpoint=ref.endpoint_id)
        request.instances.extend([json_format.ParseDict(instance, struct_pb2.Value())])
        response = self._call("prediction", ref.region, "predict", request)
        predictions = aiplatform_v1.PredictResponse.to_dict(response).get("predictions") or []
        answer = predictions[0] if isinstance(predictions, list) and predictions else predictions
        if isinstance(answer, dict) and "choices" in answer:
            return answer
        return {"choices": [{"index": 0, "message": {"role": "assistant", "content": str(answer)}}]}

    def delete(self, ref: EndpointRef) -> Removal:
        """Return what was removed: undeployed, endpoint and model(s) deleted, found by `ref` and by the deployment's
        labels; Conflict (nothing changed) if one lacks cloudrun's label."""
        return gcp_resources.remove(self._call, self._run_operation, self.project, ref)

    def list_managed(self, regions: Sequence[str]) -> list[Endpoint]:
        """Return every deployment labelled cloudrun-managed=true in these regions, one Endpoint each.

        Endpoints and models are both listed by label (Vertex filters, cloudrun re-checks). A labelled model no
        endpoint uses is a deploy killed after its upload: an incomplete Endpoint with no endpoint id; a labelled
        endpoint with no model deployed and no deploy running is one killed before deployModel.
        """
        found = []
        for region in regions:
            endpoints, models = gcp_resources.inventory(self._call, self.project, region)
            ours = {e.name for e in endpoints}
            spare = gcp_resources.spare_models(models, ours)
            tagged = {model.name for model in models}
            for record in endpoints:
                deployment = record.labels.get(DEPLOYMENT_TAG, record.display_name)
                found.append(self._listed(record, region, deployment, spare.pop(deployment, []), tagged))
            found += [_left(region, deployment, left, ours) for deployment, left in sorted(spare.items())]
        return found

    def invocations(self, ref: EndpointRef, since: datetime) -> int | None:
        """Return the endpoint's online predictions since `since` from Cloud Monitoring; 0 without data, or None.

        Vertex writes `prediction/online/prediction_count` only for minutes in which predictions happened, so
        no time series (or no points) means no calls: 0, like SageMaker's missing Invocations datapoints.
        Any error (no monitoring.timeSeries.list permission, Monitoring unreachable after our retries, an
        endpoint name that is not Vertex's) is None: idleness unknown, and the teardown keeps the endpoint.
        """
        since = since if since.tzinfo else since.replace(tzinfo=timezone.utc)
        try:
            return gcp_metrics.invocation_count(self._call, ref.endpoint_id, since, datetime.now(timezone.utc))
        except CloudrunError as exc:
            needs = (
                " (needs monitoring.timeSeries.list, e.g. roles/monitoring.viewer)"
                if isinstance(exc, AuthError)
                else ""
            )
            self.notices.append(f"prediction count of {ref.name} unknown{needs}: {exc.message}")
            return None

    def failure_error(self, endpoint: Endpoint) -> CloudrunError:
        """Return the normalised error a failed deployment's reason stands for, so the deployer can fail over."""
        kind = gcp_client.failure_kind(endpoint.failure_reason or "")
        logs = "read its logs in Cloud Logging (resource type aiplatform.googleapis.com/Endpoint)"
        return failure_error(endpoint, kind, gcp_client.HINTS, service="Vertex", unit="machine", otherwise=logs)

    # --- beyond the interface ---------------------------------------------------------------------------

    def weights_store(self, region: str) -> gcp_storage.GcsWeightsStore:
        """Return cloudrun's Cloud Storage bucket of staged weights for this project in `region` (gcp_storage)."""
        from google.auth.transport.requests import AuthorizedSession

        endpoint = self._google.api_endpoint
        base = endpoint if endpoint and is_loopback(endpoint) else gcp_storage.STORAGE_URL
        session = AuthorizedSession(self._google.resolved_credentials())
        return gcp_storage.GcsWeightsStore(self._google.run, session, base, self.project, region)

    @property
    def project(self) -> str:
        """Return the project: --project, $GOOGLE_CLOUD_PROJECT, or the one ADC names (resolved on first use)."""
        return self._google.project

    def _listed(self, record: Any, region: str, deployment: str, spare: list[Any], tagged: set[str]) -> Endpoint:
        """Return a labelled endpoint with its spare models (labelled for it, deployed nowhere) and unlabelled parts."""
        idle = [model.name for model in spare if not model.deployed_models]
        resources = {"model": idle[0]} if idle and not record.deployed_models else {}
        ref = EndpointRef(provider=self.name, region=region, name=deployment, endpoint_id=record.name,
                          resources=resources)  # fmt: skip
        endpoint = self._to_endpoint(record, region, ref)
        theirs = [f"model {d.model}" for d in record.deployed_models if d.model not in tagged
                  and gcp_resources.find(self._call, "model", region, d.model) is not None]  # fmt: skip
        theirs += sorted({f"endpoint {d.endpoint}" for model in spare for d in model.deployed_models})
        return endpoint.model_copy(update={"untagged": tuple(theirs)}) if theirs else endpoint

    # --- converters to cloudrun models -------------------------------------------------------------------

    def _to_endpoint(self, record: Any, region: str, ref: EndpointRef | None = None) -> Endpoint:
        """Return an Endpoint from an aiplatform_v1.Endpoint; without a deployed model, its deploy operation decides."""
        operation = None
        if not record.deployed_models:
            operation = gcp_resources.deploy_operation(self._call, region, record.name, ref)
            if operation is not None and operation.done and not operation.HasField("error"):
                # the deploy finished between the two reads: the endpoint now has its model
                record = self._call("endpoint", region, "get_endpoint", {"name": record.name})
        return _to_endpoint(record, region, dict(record.labels), operation, ref)


def _to_endpoint(record: Any, region: str, labels: dict[str, str], operation: Any, ref: EndpointRef | None) -> Endpoint:
    deployed = list(record.deployed_models)
    reason = None
    if deployed:
        situation = "deployed"
    elif operation is not None and not operation.done:
        situation = "deploying"
    elif operation is not None and operation.HasField("error"):
        situation = "deploy_failed"
        reason = f"{gcp_client.operation_error(operation).message}"
    else:
        situation = "empty"
        left = ", ".join(
            [f"endpoint {record.name}"] + [f"model {m}" for m in [ref.resources.get("model")] if ref and m]
        )
        reason = f"incomplete: {left} left, no deployed model"
    first = deployed[0] if deployed else None
    resources = dict(ref.resources) if ref else {}
    if first is not None:
        resources.update(model=first.model, deployed_model_id=first.id)
    ref = ref or EndpointRef(provider="gcp", region=region, name=labels.get(DEPLOYMENT_TAG, record.display_name),
                             endpoint_id=record.name, resources=resources)  # fmt: skip
    if first is not None and ref.resources != resources:
        ref = ref.model_copy(update={"resources": resources})
    machine = first.dedicated_resources if first is not None else None
    created = record.create_time
    return Endpoint(
        ref=ref,
        state=_STATE_MAP[situation],
        instance_type=machine.machine_spec.machine_type if machine else ref.resources.get("machine_type"),
        instance_count=machine.min_replica_count if machine else None,
        created_at=created.astimezone(timezone.utc) if created else None,
        failure_reason=reason,
        url=f"https://{region}-aiplatform.googleapis.com/v1/{record.name}:predict",
        tags=labels,
        missing=("deployed model",) if situation == "empty" else (),
    )


def _left(region: str, deployment: str, models: list[Any], ours: set[str]) -> Endpoint:
    """Return the Endpoint of labelled models without a labelled endpoint: a deploy killed after its upload, or (a
    model deployed on an endpoint that is not cloudrun's) a look-alike."""
    theirs = sorted({f"endpoint {d.endpoint}" for m in models for d in m.deployed_models if d.endpoint not in ours})
    times = [m.create_time.astimezone(timezone.utc) for m in models if m.create_time]
    names = ", ".join(f"model {m.name}" for m in models)
    return Endpoint(
        ref=EndpointRef(provider="gcp", region=region, name=deployment, endpoint_id="",
                        resources={"model": models[0].name}),
        state=EndpointState.failed,
        created_at=max(times) if times else None,
        failure_reason=f"incomplete: {names} left, no endpoint",
        tags=dict(models[0].labels),
        missing=("endpoint", "deployed model"),
        untagged=tuple(theirs),
    )  # fmt: skip
