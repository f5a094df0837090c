"""The label-guarded lifecycle of one deployment's Vertex resources: model, endpoint, deployed model.

Every function takes `call` (one SDK method: errors translated to cloudrun errors, retryable ones retried)
and, where it changes something, `run` (a long-running operation, waited), so this module never sees the
SDK itself. Resources are found by the names Vertex returned or by their labels, never by rebuilt names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudrun.errors import CloudrunError, Conflict, InvalidInput, NotFound
from cloudrun.models import DEPLOYMENT_TAG, MANAGED_TAG, DeploySpec, EndpointRef, Removal

Call = Callable[..., Any]
"""(kind, region, method, request, **options) -> the SDK's response; kind is model, endpoint or prediction."""
Run = Callable[..., Any]
"""(kind, region, method, request, *, missing_ok=False) -> the finished operation (None if gone and missing_ok)."""

CONFLICT_HINT = "choose another deployment name, or remove the old one with `cloudrun down NAME`"


def find(call: Call, kind: str, region: str, name: str) -> Any:
    """Return the model or endpoint named `name`, or None if it does not exist."""
    try:
        return call(kind, region, f"get_{kind}", {"name": name})
    except NotFound:
        return None


def require_managed(kind: str, name: str, labels: Any) -> None:
    """Raise Conflict unless the resource carries cloudrun-managed=true."""
    if dict(labels).get(MANAGED_TAG) != "true":
        raise Conflict(f"the Vertex {kind} {name} has no {MANAGED_TAG}=true label: cloudrun leaves it alone")


def labelled(call: Call, project: str, kind: str, region: str, deployment: str) -> list[Any]:
    """Return the models or endpoints of deployment `deployment` (both cloudrun labels) in a region."""
    request = {
        "parent": f"projects/{project}/locations/{region}",
        "filter": f"labels.{MANAGED_TAG}=true AND labels.{DEPLOYMENT_TAG}={deployment}",
    }
    found = call(kind, region, f"list_{kind}s", request)
    return [r for r in found if r.labels.get(MANAGED_TAG) == "true" and r.labels.get(DEPLOYMENT_TAG) == deployment]


def inventory(call: Call, project: str, region: str) -> tuple[list[Any], list[Any]]:
    """Return the endpoints and the models labelled cloudrun-managed=true in a region.

    Both list calls filter on the label (`labels.key=value`, aiplatform_v1 ListEndpointsRequest.filter and
    ListModelsRequest.filter, google/cloud/aiplatform_v1/types/endpoint_service.py and model_service.py); the
    label is checked again here, so a filter the server ignored never lets another resource through.
    """
    request = {"parent": f"projects/{project}/locations/{region}", "filter": f"labels.{MANAGED_TAG}=true"}
    endpoints = [r for r in call("endpoint", region, "list_endpoints", request) if r.labels.get(MANAGED_TAG) == "true"]
    models = [m for m in call("model", region, "list_models", dict(request)) if m.labels.get(MANAGED_TAG) == "true"]
    return endpoints, models


def spare_models(models: list[Any], ours: set[str]) -> dict[str, list[Any]]:
    """Return, by deployment label, the labelled models deployed on none of the endpoints `ours` names."""
    spare: dict[str, list[Any]] = {}
    for model in models:
        if not any(d.endpoint in ours for d in model.deployed_models):
            spare.setdefault(model.labels.get(DEPLOYMENT_TAG, model.display_name), []).append(model)
    return spare


def refuse_existing(call: Call, project: str, spec: DeploySpec) -> None:
    """Raise Conflict if a deployment of this name already has resources in the region."""
    if labelled(call, project, "endpoint", spec.region, spec.name) or labelled(
        call, project, "model", spec.region, spec.name
    ):
        raise Conflict(f"a deployment named {spec.name} already exists in {spec.region}", hint=CONFLICT_HINT)


def remove(call: Call, run: Run, project: str, ref: EndpointRef) -> Removal:
    """Return what was removed of deployment `ref`: its endpoint(s) (models undeployed first), then its model(s).

    Found by the names `ref` holds and by the deployment's labels (a deploy killed part-way leaves a model, or an
    endpoint without its deployed model, that `ref` may not name). Every label is checked before any change.
    """
    not_found: list[str] = []
    endpoints = {e.name: e for e in labelled(call, project, "endpoint", ref.region, ref.name)}
    if ref.endpoint_id and ref.endpoint_id not in endpoints:
        endpoint = find(call, "endpoint", ref.region, ref.endpoint_id)
        if endpoint is None:
            not_found.append(f"endpoint {ref.endpoint_id}")
        else:
            endpoints[ref.endpoint_id] = endpoint
    wanted = {ref.resources["model"]} if ref.resources.get("model") else set()
    wanted |= {deployed.model for endpoint in endpoints.values() for deployed in endpoint.deployed_models}
    models = {m.name: m for m in labelled(call, project, "model", ref.region, ref.name)}
    for name in sorted(wanted - set(models)):
        model = find(call, "model", ref.region, name)
        if model is None:
            not_found.append(f"model {name}")
        else:
            models[name] = model
    for name, endpoint in endpoints.items():
        require_managed("endpoint", name, endpoint.labels)
    for name, model in models.items():
        require_managed("model", name, model.labels)
    removed = [*_remove_endpoints(run, ref.region, endpoints), *_remove_models(run, ref.region, models)]
    return Removal(removed=tuple(removed), not_found=tuple(not_found))


def _remove_endpoints(run: Run, region: str, endpoints: dict[str, Any]) -> list[str]:
    """Return the endpoints removed, each after undeploying its models (Vertex refuses to delete one that has any)."""
    for name, endpoint in endpoints.items():
        for deployed in endpoint.deployed_models:
            run(
                "endpoint",
                region,
                "undeploy_model",
                {"endpoint": name, "deployed_model_id": deployed.id},
                missing_ok=True,
            )
        run("endpoint", region, "delete_endpoint", {"name": name}, missing_ok=True)
    return [f"endpoint {name}" for name in endpoints]


def _remove_models(run: Run, region: str, models: dict[str, Any]) -> list[str]:
    for name in models:
        run("model", region, "delete_model", {"name": name}, missing_ok=True)
    return [f"model {name}" for name in models]


def roll_back(call: Call, run: Run, project: str, spec: DeploySpec, notices: list[str]) -> None:
    """Remove what create() made for `spec`, found by its labels (a create that failed with a 5xx may exist)."""
    try:
        remove(call, run, project, EndpointRef(provider="gcp", region=spec.region, name=spec.name, endpoint_id=""))
    except CloudrunError as exc:
        notices.append(f"could not remove everything {spec.name} left in {spec.region}: {exc}")


def deploy_operation(call: Call, region: str, endpoint_name: str, ref: EndpointRef | None) -> Any:
    """Return the endpoint's deploy operation: the one create() started, else the newest listed; or None."""
    name = ref.resources.get("deploy_operation") if ref else None
    try:
        if name:
            return call("endpoint", region, "get_operation", {"name": name})
        listed = call("endpoint", region, "list_operations", {"name": endpoint_name}, collect=False)
    except (NotFound, InvalidInput):
        return None
    deploys = [op for op in listed.operations if op.metadata.type_url.endswith("DeployModelOperationMetadata")]
    return deploys[-1] if deploys else None
