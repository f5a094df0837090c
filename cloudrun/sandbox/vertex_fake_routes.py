"""The fake Vertex AI's routes: what each REST method does to the fake's state (see vertex_fake.py).

Every function runs under the state's lock and returns the JSON reply, or raises ApiError.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from cloudrun.sandbox.vertex_fake import PROJECT_NUMBER, TYPE, ApiError, VertexState, now_text

Reply = dict[str, Any] | bytes
EMPTY = {"@type": "type.googleapis.com/google.protobuf.Empty"}


def route(state: VertexState, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> Reply:
    """Return the reply to one request on a normalised path (projects/NUMBER/locations/L/...)."""
    match = re.fullmatch(r"(projects/[^/]+/locations/[^/:]+)(?:/(.*))?", path)
    if not match:
        raise ApiError("NOT_FOUND", f"The requested URL /{path} was not found on this server.")
    parent, rest = match[1], match[2] or ""
    for verb, pattern, handler in _ROUTES:
        found = re.fullmatch(pattern, rest)
        if verb == method and found:
            return handler(state, parent, f"{parent}/{found[1]}" if found.groups() else parent, query, body)
    raise ApiError("NOT_FOUND", f"The requested URL /{path} was not found on this server ({method}).")


def _operation(state: VertexState, _parent: str, name: str, _query: dict, _body: dict) -> Reply:
    return state.operation(name)


def _list_operations(state: VertexState, _parent: str, resource: str, _query: dict, _body: dict) -> Reply:
    names = [name for name in state.operations if name.startswith(f"{resource}/operations/")]
    return {"operations": [state.operation(name) for name in names]}


# --- models --------------------------------------------------------------------------------------------------


def _upload_model(state: VertexState, parent: str, _name: str, _query: dict, body: dict) -> Reply:
    model = dict(body.get("model") or {})
    if not model.get("displayName") or not (model.get("containerSpec") or {}).get("imageUri"):
        raise ApiError("INVALID_ARGUMENT", "Model.display_name and container_spec.image_uri are required.")
    state.check_labels(model.get("labels") or {})
    name = f"{parent}/models/{state.new_id()}"
    stamp = now_text()
    model.update(name=name, versionId="1", createTime=stamp, updateTime=stamp, deployedModels=[])
    state.models[name] = model
    response = {"@type": f"{TYPE}UploadModelResponse", "model": name, "modelVersionId": "1"}
    return state.start_operation(name, "UploadModel", lambda: response)


def _get(kind: str) -> Callable[..., Reply]:
    def get(state: VertexState, _parent: str, name: str, _query: dict, _body: dict) -> Reply:
        return _find(state, kind, name)

    return get


def _list(kind: str) -> Callable[..., Reply]:
    def list_resources(state: VertexState, parent: str, _name: str, query: dict, _body: dict) -> Reply:
        table = state.models if kind == "models" else state.endpoints
        items = [item for name, item in table.items() if name.startswith(f"{parent}/") and _matches(item, query)]
        return {kind: items}

    return list_resources


def _delete_model(state: VertexState, _parent: str, name: str, _query: dict, _body: dict) -> Reply:
    model = _find(state, "models", name)
    if model["deployedModels"]:
        endpoints = ", ".join(ref["endpoint"] for ref in model["deployedModels"])
        raise ApiError(
            "FAILED_PRECONDITION",
            f'The Model "{name}" is deployed or being deployed at the following Endpoint(s): {endpoints}.',
        )
    return state.start_operation(name, "Delete", lambda: (state.models.pop(name, None), EMPTY)[1])


# --- endpoints -----------------------------------------------------------------------------------------------


def _create_endpoint(state: VertexState, parent: str, _name: str, _query: dict, body: dict) -> Reply:
    if not body.get("displayName"):
        raise ApiError("INVALID_ARGUMENT", "Endpoint.display_name is required.")
    state.check_labels(body.get("labels") or {})
    name = f"{parent}/endpoints/{state.new_id()}"
    stamp = now_text()
    endpoint = {**body, "name": name, "createTime": stamp, "updateTime": stamp, "deployedModels": [],
                "trafficSplit": {}, "etag": "AMEw9y" + name.rsplit("/", 1)[1]}  # fmt: skip
    state.endpoints[name] = endpoint
    return state.start_operation(name, "CreateEndpoint", lambda: {"@type": f"{TYPE}Endpoint", **endpoint})


def _delete_endpoint(state: VertexState, _parent: str, name: str, _query: dict, _body: dict) -> Reply:
    endpoint = _find(state, "endpoints", name)
    if endpoint["deployedModels"]:
        raise ApiError("FAILED_PRECONDITION", f"Endpoint {name} has deployed or being deployed DeployedModel(s).")
    return state.start_operation(name, "Delete", lambda: (state.endpoints.pop(name, None), EMPTY)[1])


def _deploy_model(state: VertexState, _parent: str, name: str, _query: dict, body: dict) -> Reply:
    _find(state, "endpoints", name)
    deployed = dict(body.get("deployedModel") or {})
    model_name = re.sub(r"^projects/[^/]+", f"projects/{PROJECT_NUMBER}", deployed.get("model", ""))
    model = _find(state, "models", model_name)
    resources = deployed.get("dedicatedResources") or {}
    machine = resources.get("machineSpec") or {}
    if not machine.get("machineType") or int(resources.get("minReplicaCount") or 0) < 1:
        raise ApiError("INVALID_ARGUMENT", "dedicated_resources.machine_spec and min_replica_count >= 1 are required.")
    if int(resources.get("maxReplicaCount") or 0) < int(resources["minReplicaCount"]):
        raise ApiError("INVALID_ARGUMENT", "max_replica_count must not be below min_replica_count.")
    fault = state.deploy_faults.pop(0) if state.deploy_faults else None

    def finish() -> dict[str, Any]:
        if fault:
            raise ApiError(*fault)
        endpoint = _find(state, "endpoints", name)
        deployed.update(id=state.new_id(), model=model_name, createTime=now_text())
        endpoint["deployedModels"].append(deployed)
        endpoint["trafficSplit"] = {deployed["id"]: 100}
        model["deployedModels"].append({"endpoint": name, "deployedModelId": deployed["id"]})
        return {"@type": f"{TYPE}DeployModelResponse", "deployedModel": deployed}

    return state.start_operation(name, "DeployModel", finish, delay_s=state.deploy_delay_s)


def _undeploy_model(state: VertexState, _parent: str, name: str, _query: dict, body: dict) -> Reply:
    endpoint = _find(state, "endpoints", name)
    wanted = str(body.get("deployedModelId", ""))
    deployed = next((d for d in endpoint["deployedModels"] if d["id"] == wanted), None)
    if deployed is None:
        raise ApiError("NOT_FOUND", f"DeployedModel {wanted} does not exist in Endpoint {name}.")

    def finish() -> dict[str, Any]:
        endpoint["deployedModels"].remove(deployed)
        endpoint["trafficSplit"] = {d["id"]: 100 for d in endpoint["deployedModels"][:1]}
        model = state.models.get(deployed["model"])
        if model:
            model["deployedModels"] = [r for r in model["deployedModels"] if r["deployedModelId"] != wanted]
        return {"@type": f"{TYPE}UndeployModelResponse"}

    return state.start_operation(name, "UndeployModel", finish)


def _predict(state: VertexState, _parent: str, name: str, _query: dict, body: dict) -> Reply:
    deployed = _serving(state, name)
    instances = body.get("instances") or [{}]
    return {"predictions": [_chat_completion(instances[0])], "deployedModelId": deployed["id"]}


def _raw_predict(state: VertexState, _parent: str, name: str, _query: dict, body: dict) -> Reply:
    _serving(state, name)
    return json.dumps(_chat_completion(body)).encode()


# --- helpers --------------------------------------------------------------------------------------------------


def _find(state: VertexState, kind: str, name: str) -> dict[str, Any]:
    table = state.models if kind == "models" else state.endpoints
    if name not in table:
        singular = "Model" if kind == "models" else "Endpoint"
        raise ApiError("NOT_FOUND", f'{singular} "{name}" not found.')
    return table[name]


def _serving(state: VertexState, name: str) -> dict[str, Any]:
    endpoint = _find(state, "endpoints", name)
    if not endpoint["deployedModels"]:
        raise ApiError("FAILED_PRECONDITION", f"Endpoint {name} does not have any deployed model.")
    state.predictions[name] = state.predictions.get(name, 0) + 1
    return endpoint["deployedModels"][0]


def _matches(item: dict[str, Any], query: dict[str, str]) -> bool:
    """Return whether a resource passes a `labels.KEY=VALUE [AND ...]` filter (the only kind cloudrun sends)."""
    text = (query.get("filter") or "").strip()
    if not text:
        return True
    for clause in re.split(r"\s+AND\s+", text):
        found = re.fullmatch(r'labels\.([a-z0-9_-]+)\s*=\s*"?([a-z0-9_-]*)"?', clause.strip())
        if not found:
            raise ApiError("INVALID_ARGUMENT", f"Unsupported filter: {text}")
        if (item.get("labels") or {}).get(found[1]) != found[2]:
            return False
    return True


def _chat_completion(request: dict[str, Any]) -> dict[str, Any]:
    """Return a canned OpenAI-style chat completion answering the request's last message."""
    messages = request.get("messages") or [{"role": "user", "content": request.get("prompt", "")}]
    asked = str(messages[-1].get("content", ""))[:60]
    content = f"Hello from the Vertex AI sandbox. You said: {asked}"
    return {
        "id": f"chatcmpl-sandbox-{int(time.time() * 1000)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "sandbox",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": len(asked.split()),
            "completion_tokens": len(content.split()),
            "total_tokens": len(asked.split()) + len(content.split()),
        },  # fmt: skip
    }


_ID = r"(?:models|endpoints)/[0-9]+"
_ROUTES: list[tuple[str, str, Callable[..., Reply]]] = [
    ("GET", rf"({_ID}/operations/[0-9]+)", _operation),
    ("GET", rf"({_ID})/operations", _list_operations),
    ("POST", r"models:upload", _upload_model),
    ("GET", r"models", _list("models")),
    ("GET", r"(models/[0-9]+)", _get("models")),
    ("DELETE", r"(models/[0-9]+)", _delete_model),
    ("POST", r"endpoints", _create_endpoint),
    ("GET", r"endpoints", _list("endpoints")),
    ("GET", r"(endpoints/[0-9]+)", _get("endpoints")),
    ("DELETE", r"(endpoints/[0-9]+)", _delete_endpoint),
    ("POST", r"(endpoints/[0-9]+):deployModel", _deploy_model),
    ("POST", r"(endpoints/[0-9]+):undeployModel", _undeploy_model),
    ("POST", r"(endpoints/[0-9]+):predict", _predict),
    ("POST", r"(endpoints/[0-9]+):rawPredict", _raw_predict),
]
