"""The label-guarded lifecycle of one deployment's Vertex resources: model, endpoint, deployed model.

Every function takes `call` (one SDK method: errors translated to cloudrun errors, retryable ones retried)
and, where it changes something, `run` (a long-running operation, waited), so this module never sees the
SDK itself. Resources are found by the names Vertex returned or by their labels, never by rebuilt names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cloudrun.errors import CloudrunError, Conflict, InvalidInput, NotFound
from cloudrun.models import DEPLOYMENT_TAG, MANAGED_TAG, DeploySpec, EndpointRef

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


def refuse_existing(call: Call, project: str, spec: DeploySpec) -> None:
    """Raise Conflict if a deployment of this name already has resources in the region."""
    if labelled(call, project, "endpoint", spec.region, spec.name) or labelled(
        call, project, "model", spec.region, spec.name
    ):
        raise Conflict(f"a deployment named {spec.name} already exists in {spec.region}", hint=CONFLICT_HINT)


def remove(call: Call, run: Run, ref: EndpointRef) -> None:
    """Undeploy every model, delete the endpoint, then its model(s); every label checked before any change."""
    endpoint = find(call, "endpoint", ref.region, ref.endpoint_id)
    model_names = {ref.resources["model"]} if ref.resources.get("model") else set()
    if endpoint is not None:
        require_managed("endpoint", ref.endpoint_id, endpoint.labels)
        model_names |= {deployed.model for deployed in endpoint.deployed_models}
    models = {name: find(call, "model", ref.region, name) for name in sorted(model_names)}
    for name, model in models.items():
        if model is not None:
            require_managed("model", name, model.labels)
    if endpoint is not None:
        for deployed in endpoint.deployed_models:
            request = {"endpoint": endpoint.name, "deployed_model_id": deployed.id}
            run("endpoint", ref.region, "undeploy_model", request, missing_ok=True)
        run("endpoint", ref.region, "delete_endpoint", {"name": endpoint.name}, missing_ok=True)
    for name, model in models.items():
        if model is not None:
            run("model", ref.region, "delete_model", {"name": name}, missing_ok=True)


def roll_back(call: Call, run: Run, project: str, spec: DeploySpec, notices: list[str]) -> None:
    """Remove what create() made for `spec`, found by its labels (a create that failed with a 5xx may exist)."""
    try:
        for endpoint in labelled(call, project, "endpoint", spec.region, spec.name):
            ref = EndpointRef(provider="gcp", region=spec.region, name=spec.name, endpoint_id=endpoint.name)
            remove(call, run, ref)
        for model in labelled(call, project, "model", spec.region, spec.name):
            run("model", spec.region, "delete_model", {"name": model.name}, missing_ok=True)
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
