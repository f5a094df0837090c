"""The fake Vertex AI's routes: what each REST method does to the fake's state (vertex_fake_state.py; the server
around them is vertex_fake.py).

Every function runs under the state's lock and returns the JSON reply, or raises ApiError.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from cloudrun.sandbox import fake_vllm
from cloudrun.sandbox.http_fake import Routes
from cloudrun.sandbox.vertex_fake_state import PROJECT_NUMBER, TYPE, ApiError, VertexState, now_text

Reply = dict[str, Any] | bytes
EMPTY = {"@type": "type.googleapis.com/google.protobuf.Empty"}


def route(state: VertexState, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> Reply:
    """Return the reply to one request on a normalised path (projects/NUMBER/locations/L/...)."""
    if re.fullmatch(r"projects/[^/]+/timeSeries", path) and method == "GET":
        return _time_series(state, query)
    match = re.fullmatch(r"(projects/[^/]+/locations/[^/:]+)(?:/(.*))?", path)
    if not match:
        raise ApiError("NOT_FOUND", f"The requested URL /{path} was not found on this server.")
    parent, rest = match[1], match[2] or ""
    found = _ROUTES.find(method, rest)
    if found:
        handler, named = found
        return handler(state, parent, f"{parent}/{named[1]}" if named.groups() else parent, query, body)
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
    artifacts = model.get("artifactUri")
    if artifacts and (state.storage is None or state.storage.has_prefix(artifacts) is None):
        # Vertex copies artifact_uri when it uploads the model: nothing there, no model
        raise ApiError("INVALID_ARGUMENT", f'There are no files under "{artifacts}" to copy.')
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
    fault = state.deploy_faults.take()
    crash = _container_error(state, model, machine)

    def finish() -> dict[str, Any]:
        if fault:
            raise ApiError(*fault)
        if crash:  # accepted at once, failed once its container tried to start, as Vertex reports a dead server
            state.container_logs[name] = crash
            raise ApiError(
                "FAILED_PRECONDITION", f"{MODEL_SERVER_NEVER_READY} (sandbox: its container logged: {crash})"
            )
        endpoint = _find(state, "endpoints", name)
        deployed.update(id=state.new_id(), model=model_name, createTime=now_text())
        endpoint["deployedModels"].append(deployed)
        endpoint["trafficSplit"] = {deployed["id"]: 100}
        model["deployedModels"].append({"endpoint": name, "deployedModelId": deployed["id"]})
        return {"@type": f"{TYPE}DeployModelResponse", "deployedModel": deployed}

    return state.start_operation(name, "DeployModel", finish, delay_s=state.deploy_delay_s)


MODEL_SERVER_NEVER_READY = (
    "Model server never became ready. Please validate that your model file or container configuration are valid. "
    "Model server logs can be found in Cloud Logging (resource.type=aiplatform.googleapis.com/Endpoint)."
)


def _staged_model(state: VertexState, uri: str) -> str:
    """Return the model id the staged manifest under `uri` names (cloudrun stage wrote it), or the URI itself."""
    for key, item in (state.storage.has_prefix(uri) or {}).items():
        if key.endswith("/cloudrun-manifest.json"):
            try:
                return str(json.loads(item["data"])["model_id"])
            except (ValueError, KeyError):
                break
    return uri


def _container_error(state: VertexState, model: dict[str, Any], machine: dict[str, Any]) -> str | None:
    """Return the error the model's vLLM container would die with on this machine, or None (fake_vllm)."""
    spec = model.get("containerSpec") or {}
    gpu = fake_vllm.vertex_gpu(str(machine.get("acceleratorType", "")))
    args = [str(a) for a in spec.get("args") or []]
    if model.get("artifactUri"):  # $(AIP_STORAGE_URI) is the copy of artifactUri: the model its manifest names
        staged = _staged_model(state, str(model["artifactUri"]))
        args = [a.replace("$(AIP_STORAGE_URI)", staged) for a in args]
    launch = fake_vllm.args_launch(
        str(spec.get("imageUri", "")), args, gpu,
        int(machine.get("acceleratorCount") or 0), shared_memory_mb=int(spec.get("sharedMemorySizeMb") or 0) or None,
        host_memory_gb=fake_vllm.vertex_memory_gb(str(machine.get("machineType", ""))),
    )  # fmt: skip
    return fake_vllm.start(launch)


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


# --- Cloud Monitoring: the online prediction count ----------------------------------------------------------

PREDICTION_COUNT = "aiplatform.googleapis.com/prediction/online/prediction_count"
ENDPOINT_RESOURCE = "aiplatform.googleapis.com/Endpoint"
_CLAUSE = re.compile(r'(metric\.type|resource\.type|(?:metric|resource)\.labels?\.[a-z_]+)\s*=\s*"([^"]*)"')


def _time_series(state: VertexState, query: dict[str, str]) -> Reply:
    """Return the prediction_count series (per endpoint and deployed model, one DELTA point a minute) in the filter."""
    wanted = _monitoring_filter(query.get("filter", ""))
    if "interval.endTime" not in query:
        raise ApiError("INVALID_ARGUMENT", "Field interval.endTime had an invalid value: it is required.")
    end = _timestamp(query["interval.endTime"])
    start = _timestamp(query.get("interval.startTime") or query["interval.endTime"])
    if (
        wanted.get("metric.type") != PREDICTION_COUNT
        or wanted.get("resource.type", ENDPOINT_RESOURCE) != ENDPOINT_RESOURCE
    ):
        return {}  # this fake knows one metric; any other has no data here
    minutes: dict[tuple[str, str], Counter[datetime]] = {}
    for endpoint, deployed_model_id, at in state.prediction_log:
        if start < at <= end:  # a TimeInterval runs from just after its start through its end
            minute = at.replace(second=0, microsecond=0)
            minutes.setdefault((endpoint, deployed_model_id), Counter())[minute] += 1
    series = []
    for (endpoint, deployed_model_id), counts in sorted(minutes.items()):
        _, _, _, location, _, endpoint_id = endpoint.split("/")
        resource = {"resource_container": PROJECT_NUMBER, "location": location, "endpoint_id": endpoint_id}
        metric = {"deployed_model_id": deployed_model_id}
        labels = {f"resource.label.{k}": v for k, v in resource.items()} | {
            f"metric.label.{k}": v for k, v in metric.items()
        }
        if any(labels.get(key) != value for key, value in wanted.items() if ".label." in key):
            continue
        points = [_point(max(minute, start), min(minute + timedelta(minutes=1), end), count)
                  for minute, count in sorted(counts.items(), reverse=True)]  # fmt: skip  # newest first, as Google
        series.append({"metric": {"type": PREDICTION_COUNT, "labels": metric},
                       "resource": {"type": ENDPOINT_RESOURCE, "labels": resource},
                       "metricKind": "DELTA", "valueType": "INT64", "points": points})  # fmt: skip
    return {"timeSeries": series} if series else {}  # Google leaves out empty lists


def _monitoring_filter(text: str) -> dict[str, str]:
    """Return {field: value} of a `field = "value" AND ...` filter (resource.labels.X read as resource.label.X)."""
    wanted = {}
    for clause in re.split(r"\s+AND\s+", text.strip()):
        found = _CLAUSE.fullmatch(clause.strip())
        if not found:
            raise ApiError("INVALID_ARGUMENT", f"Could not parse filter: {text}")
        wanted[found[1].replace(".labels.", ".label.")] = found[2]
    if "metric.type" not in wanted:
        raise ApiError("INVALID_ARGUMENT", "A time series filter must specify a single metric type.")
    return wanted


def _timestamp(text: str) -> datetime:
    """Return an RFC 3339 timestamp (Z or an offset, up to nine fractional digits) as an aware datetime."""
    found = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)", text.strip())
    if not found:
        raise ApiError("INVALID_ARGUMENT", f"Invalid value at 'interval': {text!r} is not an RFC 3339 timestamp.")
    fraction = (found[2] or "0")[:6].ljust(6, "0")
    zone = "+00:00" if found[3] == "Z" else found[3]
    return datetime.fromisoformat(f"{found[1]}.{fraction}{zone}").astimezone(timezone.utc)


def _point(start: datetime, end: datetime, count: int) -> dict[str, Any]:
    def text(moment: datetime) -> str:
        return moment.isoformat().replace("+00:00", "Z")

    return {"interval": {"startTime": text(start), "endTime": text(end)}, "value": {"int64Value": str(count)}}


# --- Cloud Quotas: the serving GPU quotas ----------------------------------------------------------------------


def _quota_info(state: VertexState, parent: str, name: str, _query: dict, _body: dict) -> Reply:
    if not parent.endswith("/locations/global"):
        raise ApiError("INVALID_ARGUMENT", f"Quota infos live under locations/global, not {parent}.")
    quota_id = name.rsplit("/", 1)[1]
    if quota_id not in state.quotas:
        raise ApiError("NOT_FOUND", f"QuotaInfo {quota_id} of service aiplatform.googleapis.com was not found.")
    infos = [{"dimensions": {"region": region}, "details": {"value": str(gpus)} if gpus else {},
              "applicableLocations": [region]} for region, gpus in sorted(state.quotas[quota_id].items())]  # fmt: skip
    return {"name": name, "quotaId": quota_id, "service": "aiplatform.googleapis.com", "isPrecise": True,
            "containerType": "PROJECT", "dimensions": ["region"], "dimensionsInfos": infos}  # fmt: skip


def _list_quota_infos(state: VertexState, parent: str, name: str, query: dict, body: dict) -> Reply:
    infos = [
        _quota_info(state, parent, f"{name}/quotaInfos/{quota_id}", query, body) for quota_id in sorted(state.quotas)
    ]
    return {"quotaInfos": infos}


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
    deployed = endpoint["deployedModels"][0]
    state.record_prediction(name, deployed["id"])
    return deployed


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
_ROUTES: Routes[Callable[..., Reply]] = Routes(
    [
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
        ("GET", r"(services/aiplatform\.googleapis\.com/quotaInfos/[A-Za-z0-9]+)", _quota_info),
        ("GET", r"(services/aiplatform\.googleapis\.com)/quotaInfos", _list_quota_infos),
    ]
)
