"""Helpers of the Azure adapter: azure-ai-ml entities from rendered parameters, the observed state of an
endpoint and its deployment (with its logs tail when it failed), and quota rows (metrics: azure_metrics).
Calls go through the adapter's `call` (translated, retried); state names map through the adapter's map."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from azure.ai.ml.entities import (
    AzureBlobDatastore,
    Environment,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    Model,
    OnlineRequestSettings,
    ProbeSettings,
)

from cloudrun.errors import CloudrunError, Conflict, NotFound
from cloudrun.models import MANAGED_TAG, EndpointState

from . import azure_quota

LOG_LINES = 50
Call = Callable[[Callable[[], Any]], Any]


class Observed:
    __slots__ = ("state", "deployment", "reason")

    def __init__(self, state: EndpointState, deployment: Any, reason: str | None) -> None:
        self.state, self.deployment, self.reason = state, deployment, reason


def endpoint_entity(params: dict[str, Any]) -> ManagedOnlineEndpoint:
    return ManagedOnlineEndpoint(name=params["name"], auth_mode=params["auth_mode"], tags=dict(params["tags"]))


def model_entity(params: dict[str, Any]) -> Model:
    """Return the model asset of staged weights: a folder of blobs in the workspace's storage account."""
    return Model(name=params["name"], version=params["version"], path=params["path"], type=params["type"],
                 tags=dict(params["tags"]), description=params.get("description"))  # fmt: skip


def ensure_datastore(call: Call, ml: Any, params: dict[str, Any]) -> None:
    """Create cloudrun's identity-based Blob datastore over its weights container unless it exists; Conflict (nothing
    changed) when a datastore of that name exists without cloudrun's tag."""
    try:
        existing = call(lambda: ml.datastores.get(params["name"]))
    except NotFound:
        existing = None
    if existing is not None:
        if (existing.tags or {}).get(MANAGED_TAG) != "true":
            raise Conflict(f"datastore {params['name']} exists without cloudrun's tag: cloudrun will not change it",
                           hint=f"tag it {MANAGED_TAG}=true if it is cloudrun's, or remove it")  # fmt: skip
        return
    store = AzureBlobDatastore(name=params["name"], account_name=params["account_name"],
                               container_name=params["container_name"], description=params["description"],
                               tags=dict(params["tags"]))  # fmt: skip
    call(lambda: ml.datastores.create_or_update(store))


def deployment_entity(params: dict[str, Any]) -> ManagedOnlineDeployment:
    environment = params["environment"]
    staged = {key: params[key] for key in ("model", "model_mount_path") if key in params}
    return ManagedOnlineDeployment(
        **staged,
        name=params["name"],
        endpoint_name=params["endpoint_name"],
        tags=dict(params["tags"]),
        environment=Environment(image=environment["image"], inference_config=environment["inference_config"]),
        environment_variables=dict(params["environment_variables"]),
        instance_type=params["instance_type"],
        instance_count=params["instance_count"],
        request_settings=OnlineRequestSettings(**params["request_settings"]),
        readiness_probe=ProbeSettings(**params["readiness_probe"]),
        liveness_probe=ProbeSettings(**params["liveness_probe"]),
    )


def needs_traffic(endpoint: Any, deployment: Any, deployment_name: str) -> bool:
    return (
        deployment is not None
        and deployment.provisioning_state == "Succeeded"
        and endpoint.provisioning_state == "Succeeded"
        and (endpoint.traffic or {}).get(deployment_name) != 100
    )


def observe(
    endpoint: Any, deployment_name: str, *, call: Call, ml: Callable[[], Any], states: Mapping[str, EndpointState]
) -> Observed:
    """Return the combined state of an endpoint and its deployment (with the logs tail if it failed)."""
    try:
        deployment = call(lambda: ml().online_deployments.get(deployment_name, endpoint.name))
    except NotFound:
        deployment = None
    endpoint_state = states.get(endpoint.provisioning_state or "", EndpointState.updating)
    if endpoint_state in (EndpointState.deleting, EndpointState.failed):
        return Observed(endpoint_state, deployment, f"endpoint is {endpoint.provisioning_state}")
    if deployment is None:
        return Observed(EndpointState.failed, None, f"its deployment {deployment_name} is missing")
    deployment_state = states.get(deployment.provisioning_state or "", EndpointState.updating)
    if deployment_state is EndpointState.failed:
        return Observed(EndpointState.failed, deployment, failure_reason(endpoint.name, deployment, call=call, ml=ml))
    ready = deployment_state is EndpointState.in_service and endpoint_state is EndpointState.in_service
    if ready and (endpoint.traffic or {}).get(deployment_name) == 100:
        return Observed(EndpointState.in_service, deployment, None)
    return Observed(EndpointState.creating, deployment, None)


def failure_reason(endpoint_name: str, deployment: Any, *, call: Call, ml: Callable[[], Any]) -> str:
    """Return why a deployment failed: its state and the last LOG_LINES lines of its logs (if they can be read)."""
    try:
        logs = call(lambda: ml().online_deployments.get_logs(deployment.name, endpoint_name, LOG_LINES))
    except CloudrunError as exc:
        logs = f"(logs unavailable: {exc.message})"
    return f"deployment {deployment.name} is {deployment.provisioning_state}; last log lines:\n{logs.strip()}"


def to_usage(row: Any) -> azure_quota.Usage:
    """Return a quota usage row from azure-ai-ml's Usage (which keeps the REST model's keys, camelCase or not)."""
    fields = vars(row)
    name = row.name
    if isinstance(name, str):
        value, localized = name, ""
    else:
        get = name.get if isinstance(name, dict) else lambda key, default=None: getattr(name, key, default)
        value = get("value") or ""
        localized = get("localized_value") or get("localizedValue") or ""
    # azure-ai-ml 1.35 copies the REST model's wire keys into Usage: `currentValue` stays camelCase and
    # `current_value` None (Usage._from_rest_object uses as_dict()); read either.
    current = fields.get("current_value") or fields.get("currentValue") or 0
    return azure_quota.Usage(name=str(value), localized=str(localized), type=str(fields.get("type") or ""),
                             current=int(current), limit=int(row.limit or 0))  # fmt: skip


def managed(resource: Any) -> bool:
    """Return whether an endpoint or deployment carries cloudrun-managed=true."""
    return (getattr(resource, "tags", None) or {}).get(MANAGED_TAG) == "true"


def created_at(endpoint: Any) -> datetime | None:
    """Return when ARM says the endpoint was created (its systemData.createdAt), or None if it does not say.

    azure-ai-ml copies systemData into OnlineEndpoint.properties as "createdAt", formatted "%Y-%m-%dT%H:%M:%S.%f%z"
    (azure/ai/ml/entities/_endpoint/online_endpoint.py, OnlineEndpoint._from_rest_object).
    """
    text = (getattr(endpoint, "properties", None) or {}).get("createdAt")
    try:
        return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(timezone.utc) if text else None
    except ValueError:
        return None


def region_key(location: str) -> str:
    return location.replace(" ", "").lower()


def seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
