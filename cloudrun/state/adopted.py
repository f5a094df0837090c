"""Adopting what the cloud has: the row the state store records for an endpoint found by its cloudrun tags.

Pure: an Endpoint (and the row of its name, if any) in, a Deployment out; `StateStore.adopt` writes it, and a dry
run shows it (`adoption`). Nothing untagged is ever adopted.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from cloudrun import timeutil
from cloudrun.errors import InvalidInput
from cloudrun.models import (
    DEPLOYMENT_TAG,
    MANAGED_TAG,
    Deployment,
    DeploymentStatus,
    Endpoint,
    EndpointState,
)

_ADOPTED_STATUS = {
    EndpointState.creating: DeploymentStatus.creating,
    EndpointState.updating: DeploymentStatus.creating,
    EndpointState.in_service: DeploymentStatus.in_service,
    EndpointState.failed: DeploymentStatus.failed,
    EndpointState.deleting: DeploymentStatus.deleting,
    EndpointState.deleted: DeploymentStatus.vanished,
}


def changed(deployment: Deployment, **changes: Any) -> Deployment:
    """Return a validated copy of the deployment with `changes` applied."""
    return Deployment.model_validate({**deployment.model_dump(), **changes})




def check_marked(endpoint: Endpoint) -> None:
    """Raise InvalidInput unless the endpoint carries cloudrun's tags for its name: nothing else is adopted."""
    name, tags = endpoint.ref.name, endpoint.tags
    if tags.get(MANAGED_TAG) != "true" or tags.get(DEPLOYMENT_TAG, name) != name:
        raise InvalidInput(
            f"endpoint {endpoint.ref.endpoint_id} is not tagged {MANAGED_TAG}=true, {DEPLOYMENT_TAG}={name}:"
            " cloudrun adopts only endpoints it created"
        )


def from_cloud(endpoint: Endpoint, at: datetime, *, default_created_at: datetime) -> dict[str, Any]:
    """Return the row fields that the cloud's description of an adopted endpoint sets."""
    status = _ADOPTED_STATUS[endpoint.state]
    return {
        "ref": endpoint.ref,
        "status": status,
        "adopted": True,
        "created_at": timeutil.utc(endpoint.created_at or default_created_at),
        "failure_reason": endpoint.failure_reason,
        "deleted_at": at if status is DeploymentStatus.vanished else None,
    }


def orphan(
    endpoint: Endpoint, model_id: str, price: Decimal, price_source: str, service: str, at: datetime
) -> Deployment:
    """Return a new row for an endpoint cloudrun has no record of; what the cloud does not say is unknown/0."""
    return Deployment(
        name=endpoint.ref.name,
        model_id=model_id,
        provider=endpoint.ref.provider,
        service=service,
        region=endpoint.ref.region,
        instance_type=endpoint.instance_type or "unknown",
        instance_count=endpoint.instance_count or 1,
        gpu_count=0,
        precision="unknown",
        price_per_hour_usd=price,
        price_source=price_source,
        **from_cloud(endpoint, at, default_created_at=at),
    )


def adoption(
    endpoint: Endpoint, current: Deployment | None, *, service: str, now: datetime | None = None
) -> Deployment:
    """Return the row `StateStore.adopt` would write for this endpoint over `current`, writing nothing (dry runs)."""
    at = timeutil.utc(now)
    check_marked(endpoint)
    if current is not None and current.status is DeploymentStatus.intent:
        return changed(current, **from_cloud(endpoint, at, default_created_at=current.created_at))
    return orphan(endpoint, "unknown", Decimal(0), "unknown (adopted)", service, at)
