"""The tag-guarded lifecycle of one deployment's SageMaker resources: model, endpoint config, endpoint.

Every function takes `call`, the adapter's way to send one SDK operation (errors translated to
cloudrun errors, retryable ones retried), so this module never sees boto3 itself.

Finding models and endpoint configs by tag: SageMaker Search has no EndpointConfig resource (botocore
data/sagemaker/2017-07-24/service-2.json, shape ResourceType), and ListModels / ListEndpointConfigs return no tags
(shapes ModelSummary, EndpointConfigSummary: name, ARN, CreationTime). So `listed` pages through the list and
reads each one's tags with ListTags (ResourceArn): exact and read-after-write, unlike Search, at one ListTags call
per model and per config in the region.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cloudrun.errors import CloudrunError, Conflict, InvalidInput, NotFound
from cloudrun.models import DEPLOYMENT_TAG, MANAGED_TAG, DeploySpec, Removal

Call = Callable[..., Any]
"""(service, region, operation, params=None, *, idempotent=True) -> the SDK's response."""

KINDS = {  # kind: (describe operation, name parameter, ARN field, delete operation)
    "endpoint": ("describe_endpoint", "EndpointName", "EndpointArn", "delete_endpoint"),
    "endpoint_config": (
        "describe_endpoint_config",
        "EndpointConfigName",
        "EndpointConfigArn",
        "delete_endpoint_config",
    ),
    "model": ("describe_model", "ModelName", "ModelArn", "delete_model"),
}
LISTS = {  # kind: (list operation, key of its items, name field, ARN field)
    "model": ("list_models", "Models", "ModelName", "ModelArn"),
    "endpoint_config": ("list_endpoint_configs", "EndpointConfigs", "EndpointConfigName", "EndpointConfigArn"),
}
ROLE_PROPAGATION_S = 30.0  # IAM is eventually consistent: a new role may not be assumable for ~10-30 s
ROLE_PROPAGATION_STEP_S = 3.0

Found = tuple[dict[str, Any], dict[str, str]]
"""(the describe_* response, the resource's tags)"""


@dataclass(frozen=True)
class Listed:
    """A model or endpoint config as ListModels / ListEndpointConfigs name it, with its tags (ListTags)."""

    kind: str
    name: str
    created_at: datetime | None
    tags: dict[str, str]

    @property
    def managed(self) -> bool:
        return self.tags.get(MANAGED_TAG) == "true"

    @property
    def deployment(self) -> str:
        """Return the deployment it belongs to: its cloudrun-deployment tag (cloudrun names all three after it)."""
        return self.tags.get(DEPLOYMENT_TAG, self.name)

    @property
    def label(self) -> str:
        return f"{self.kind.replace('_', ' ')} {self.name}"


def pages(call: Call, service: str, region: str, operation: str, params: dict[str, Any], key: str) -> list[Any]:
    """Return every item under `key` across a NextToken-paginated operation."""
    items: list[Any] = []
    token = None
    while True:
        page = call(service, region, operation, {**params, **({"NextToken": token} if token else {})})
        items += page.get(key, [])
        token = page.get("NextToken")
        if not token:
            return items


def tags(call: Call, region: str, arn: str) -> dict[str, str]:
    """Return a SageMaker resource's tags as a dict."""
    return tag_dict(pages(call, "sagemaker", region, "list_tags", {"ResourceArn": arn}, "Tags"))


def tag_dict(tag_list: list[dict[str, str]]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tag_list}


def listed(call: Call, region: str, kind: str) -> dict[str, Listed]:
    """Return every model (or endpoint config) in the region with its tags, by name (tagged or not)."""
    operation, key, name_field, arn_field = LISTS[kind]
    found = {}
    for item in pages(call, "sagemaker", region, operation, {"MaxResults": 100}, key):
        try:
            item_tags = tags(call, region, item[arn_field])
        except NotFound:  # deleted between the list and its tags
            continue
        except InvalidInput:  # SageMaker's ListTags of a deleted resource is a ValidationException whose message
            if find(call, region, kind, item[name_field]) is None:  # is not documented: ask whether it still exists
                continue
            raise
        found[item[name_field]] = Listed(kind, item[name_field], item.get("CreationTime"), item_tags)
    return found


def is_managed(found: Found | None) -> bool:
    return found is not None and found[1].get(MANAGED_TAG) == "true"


def find(call: Call, region: str, kind: str, name: str) -> Found | None:
    """Return (description, tags) of a SageMaker resource, or None if it does not exist."""
    describe, name_param, arn_field, _ = KINDS[kind]
    try:
        description = call("sagemaker", region, describe, {name_param: name})
    except NotFound:
        return None
    return description, tags(call, region, description[arn_field])


def remove(call: Call, region: str, kind: str, name: str) -> None:
    """Delete one SageMaker resource; not-found counts as done."""
    _, name_param, _, delete = KINDS[kind]
    with contextlib.suppress(NotFound):
        call("sagemaker", region, delete, {name_param: name})


def endpoint_config(call: Call, region: str, name: str | None) -> dict[str, Any] | None:
    """Return describe_endpoint_config for `name`, or None if there is none."""
    if not name:
        return None
    try:
        return call("sagemaker", region, "describe_endpoint_config", {"EndpointConfigName": name})
    except NotFound:
        return None


def model_names(config: dict[str, Any]) -> list[str]:
    return [variant["ModelName"] for variant in config.get("ProductionVariants", []) if variant.get("ModelName")]


def refuse_existing(call: Call, spec: DeploySpec) -> None:
    """Raise Conflict if an endpoint with this name exists (moto accepts duplicates; SageMaker does not)."""
    try:
        call("sagemaker", spec.region, "describe_endpoint", {"EndpointName": spec.name})
    except NotFound:
        return
    raise Conflict(
        f"an endpoint named {spec.name} already exists in {spec.region}",
        hint="choose another deployment name, or remove the old one with `cloudrun down NAME`",
    )


def create_step(
    call: Call, region: str, operation: str, params: dict[str, Any], sleep: Callable[[float], None] | None
) -> None:
    """Send one create, never repeated on a 5xx; create_model and create_processing_job wait out IAM propagation of
    a new role."""
    waited = 0.0
    while True:
        try:
            call("sagemaker", region, operation, params, idempotent=False)
            return
        except InvalidInput as exc:
            assumable_soon = (operation in ("create_model", "create_processing_job")
                              and "could not assume role" in exc.message.lower())  # fmt: skip
            if not assumable_soon or waited >= ROLE_PROPAGATION_S:
                raise
        (sleep or time.sleep)(ROLE_PROPAGATION_STEP_S)
        waited += ROLE_PROPAGATION_STEP_S


def rollback(call: Call, spec: DeploySpec, created: list[str], uncertain: str | None, notices: list[str]) -> None:
    """Delete what a failed create made, newest first; `uncertain` only if it exists and is tagged ours."""
    for kind in reversed([*created, *([uncertain] if uncertain else [])]):
        try:
            if kind == uncertain and not is_managed(find(call, spec.region, kind, spec.name)):
                continue
            remove(call, spec.region, kind, spec.name)
        except CloudrunError as exc:
            label = kind.replace("_", " ")
            notices.append(f"could not remove {label} {spec.name} after the failed create ({exc}); delete it by hand")


def guarded_removal(call: Call, region: str, endpoint_name: str, resources: dict[str, str]) -> Removal:
    """Return what was removed of an endpoint, its config and models, after checking all carry cloudrun's tag.

    Raises Conflict naming every part without the tag, before anything is changed.
    """
    endpoint = find(call, region, "endpoint", endpoint_name)
    # cloudrun names all three after the deployment, so the names are known even if a step is gone.
    config_name = endpoint[0]["EndpointConfigName"] if endpoint else resources.get("endpoint_config", endpoint_name)
    config = find(call, region, "endpoint_config", config_name)
    models = model_names(config[0]) if config else [resources.get("model", endpoint_name)]
    found = [("endpoint", endpoint_name, endpoint), ("endpoint_config", config_name, config)]
    found += [("model", name, find(call, region, "model", name)) for name in models]
    theirs = [
        f"{kind.replace('_', ' ')} {name}" for kind, name, resource in found if resource and not is_managed(resource)
    ]
    if theirs:
        one = len(theirs) == 1
        raise Conflict(
            f"{', '.join(theirs)} {'is' if one else 'are'} not managed by cloudrun; refusing to delete "
            f"{'it' if one else 'them'}",
            hint=f"cloudrun only deletes what carries the tag {MANAGED_TAG}=true; delete it yourself if intended",
        )
    removed, not_found = [], []
    for kind, name, resource in found:
        label = f"{kind.replace('_', ' ')} {name}"
        (removed if resource else not_found).append(label)
        going = kind == "endpoint" and resource is not None and resource[0].get("EndpointStatus") == "Deleting"
        if resource and not going:  # an endpoint already Deleting cannot be asked again; its config and models can
            remove(call, region, kind, name)
    return Removal(removed=tuple(removed), not_found=tuple(not_found))
