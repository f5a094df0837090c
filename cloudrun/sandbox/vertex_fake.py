"""A stateful fake of the Vertex AI REST API subset cloudrun uses, on 127.0.0.1 (stdlib only).

Serves what the real `aiplatform_v1` clients send with `transport="rest"`: models (upload, get, list,
delete), endpoints (create, get, list, delete, deployModel, undeployModel, predict, rawPredict, their
operations), and long-running operations on both the `/v1/` and `/ui/` prefixes (the REST LRO poller
uses `/ui/`). Beyond Vertex itself, the two read-only Google APIs the adapter asks about endpoints, on the
same port: Cloud Monitoring's `GET /v3/projects/P/timeSeries` (the online prediction count, built from the
predictions this fake served) and Cloud Quotas' `GET /v1/projects/P/locations/global/services/
aiplatform.googleapis.com/quotaInfos[/ID]` (the serving GPU quotas, generous by default, see QUOTAS).
It is strict where Vertex is: Google's label rules, no deleting an endpoint that still has a deployed
model or a model still deployed, no deploying to a missing endpoint or a missing model.
Resource names carry a project NUMBER even when the request named the project by id, as Vertex does.
Errors are shaped like Google's: `{"error": {"code": 404, "message": ..., "status": "NOT_FOUND"}}`.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cloudrun.loopback import require_loopback

PROJECT_NUMBER = "123456789012"
SANDBOX_PROJECT = "cloudrun-sandbox"
TYPE = "type.googleapis.com/google.cloud.aiplatform.v1."
STOCKOUT = (
    "Deploying model failed: the zone 'us-central1-a' does not have enough resources available to fulfill the "
    "request (ZONE_RESOURCE_POOL_EXHAUSTED, stockout). Resources are insufficient in region us-central1."
)
_HTTP_STATUS = {"INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400, "UNAUTHENTICATED": 401,
                "PERMISSION_DENIED": 403, "NOT_FOUND": 404, "ALREADY_EXISTS": 409, "ABORTED": 409,
                "RESOURCE_EXHAUSTED": 429, "INTERNAL": 500, "UNAVAILABLE": 503, "DEADLINE_EXCEEDED": 504}  # fmt: skip
GRPC_CODES = {"CANCELLED": 1, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4, "NOT_FOUND": 5, "ALREADY_EXISTS": 6,
              "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9, "ABORTED": 10,
              "INTERNAL": 13, "UNAVAILABLE": 14}  # fmt: skip
# Cloud Quotas ids of the Vertex serving GPU quotas (as gcloud's model-garden utilities name them) and the
# GPUs per region the sandbox project has: enough for the catalog's Vertex machines, as on an upgraded account.
QUOTAS = {
    "CustomModelServingL4GPUsPerProjectPerRegion": 8,
    "CustomModelServingT4GPUsPerProjectPerRegion": 4,
    "CustomModelServingA100GPUsPerProjectPerRegion": 8,
    "CustomModelServingA10080GBGPUsPerProjectPerRegion": 8,
    "CustomModelServingH100GPUsPerProjectPerRegion": 8,
    "CustomModelServingH200GPUsPerProjectPerRegion": 8,
    "CustomModelServingPreemptibleL4GPUsPerProjectPerRegion": 8,  # spot: its own quota (use-spot-vms)
    "CustomModelServingPreemptibleA100GPUsPerProjectPerRegion": 8,
    "CustomModelServingPreemptibleH100GPUsPerProjectPerRegion": 0,  # as on a new project: spot H100 not granted
}
QUOTA_REGIONS = ("us-central1", "us-east1", "us-east4", "us-west1", "us-west4", "europe-west1", "europe-west4",
                 "asia-east1", "asia-northeast1", "asia-southeast1")  # fmt: skip
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")


class ApiError(Exception):
    """A Google-shaped error reply."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": _HTTP_STATUS.get(self.status, 500), "message": self.message, "status": self.status}}


def now_text() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass
class Pending:
    """An operation that finishes at `due` (monotonic seconds) by running `finish`."""

    due: float
    finish: Any


@dataclass
class VertexState:
    """Everything the fake holds; every access goes through `lock`."""

    deploy_delay_s: float = 0.0
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: dict[str, Pending] = field(default_factory=dict)
    deploy_faults: list[tuple[str, str]] = field(default_factory=list)  # (status, message) for the next deploys
    request_faults: list[tuple[str, str, str, str]] = field(default_factory=list)  # (method, marker, status, message)
    predictions: dict[str, int] = field(default_factory=dict)  # endpoint name -> predict calls served
    # (endpoint name, deployed model id, when) of every prediction: Cloud Monitoring's prediction_count
    prediction_log: list[tuple[str, str, datetime]] = field(default_factory=list)
    quotas: dict[str, dict[str, int]] = field(  # quota id -> region -> GPUs
        default_factory=lambda: {quota: dict.fromkeys(QUOTA_REGIONS, gpus) for quota, gpus in QUOTAS.items()}
    )
    container_logs: dict[str, str] = field(default_factory=dict)  # endpoint name -> what its container died of
    seen: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of every request
    seen_queries: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)  # (method, path, query)
    lock: threading.RLock = field(default_factory=threading.RLock)
    ids: Any = field(default_factory=lambda: itertools.count(1001))

    def new_id(self) -> str:
        return str(next(self.ids))

    def record_prediction(self, endpoint: str, deployed_model_id: str, at: datetime | None = None) -> None:
        """Count one prediction served by `endpoint` at `at` (default now), as Vertex reports it to Monitoring."""
        self.predictions[endpoint] = self.predictions.get(endpoint, 0) + 1
        self.prediction_log.append((endpoint, deployed_model_id, at or datetime.now(timezone.utc)))

    def check_labels(self, labels: dict[str, Any]) -> None:
        for key, value in (labels or {}).items():
            if not _LABEL_KEY.match(str(key)) or not isinstance(value, str) or not _LABEL_VALUE.match(value):
                raise ApiError(
                    "INVALID_ARGUMENT",
                    f"Invalid label {key}={value!r}: keys and values may contain only lowercase letters, numeric "
                    "characters, underscores and dashes, at most 63 characters; keys must start with a letter.",
                )

    def start_operation(self, resource: str, kind: str, finish: Any, delay_s: float = 0.0) -> dict[str, Any]:
        """Return a new running operation under `resource`; `finish()` gives its response (or raises ApiError)."""
        name = f"{resource}/operations/{self.new_id()}"
        metadata = {"@type": f"{TYPE}{kind}OperationMetadata", "genericMetadata": {"createTime": now_text()}}
        self.operations[name] = {"name": name, "metadata": metadata, "done": False}
        self.pending[name] = Pending(time.monotonic() + delay_s, finish)
        return self.operations[name]

    def operation(self, name: str) -> dict[str, Any]:
        """Return the operation, finishing it first if its time has come."""
        if name not in self.operations:
            raise ApiError("NOT_FOUND", f"Operation {name} is not found.")
        pending = self.pending.get(name)
        if pending and time.monotonic() >= pending.due:
            del self.pending[name]
            record = self.operations[name]
            try:
                record["response"] = pending.finish()
            except ApiError as exc:
                record["error"] = {"code": GRPC_CODES.get(exc.status, 2), "message": exc.message}
            record["done"] = True
            record["metadata"]["genericMetadata"]["updateTime"] = now_text()
        return self.operations[name]


class _Handler(BaseHTTPRequestHandler):
    state: VertexState  # set on the subclass made per server

    def log_message(self, *_: Any) -> None:  # no request log lines in the user's terminal
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def _serve(self, method: str) -> None:
        from cloudrun.sandbox.vertex_fake_routes import route  # the routes module builds on this one

        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, reply, content_type = 200, b"{}", "application/json"
        with self.state.lock:
            self.state.seen.append((method, parts.path))
            self.state.seen_queries.append((method, parts.path, query))
            try:
                self._fault(method, parts.path)
                body = json.loads(raw) if raw and method != "GET" else {}
                answer = route(self.state, method, _normalise(parts.path), query, body)
                reply = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            except ApiError as exc:
                status, reply = _HTTP_STATUS.get(exc.status, 500), json.dumps(exc.body()).encode()
            except ValueError as exc:
                error = ApiError("INVALID_ARGUMENT", f"Invalid JSON payload received. {exc}")
                status, reply = 400, json.dumps(error.body()).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def _fault(self, method: str, path: str) -> None:
        for index, (verb, marker, status, message) in enumerate(self.state.request_faults):
            if marker in path and verb in ("", method):
                del self.state.request_faults[index]
                raise ApiError(status, message)


def _normalise(path: str) -> str:
    """Return the resource path without the /v1/, /ui/ or /v3/ prefix, with the project id turned into its number."""
    path = re.sub(r"^/(v1|ui|v3)/", "", path)
    return re.sub(r"^projects/[^/]+", f"projects/{PROJECT_NUMBER}", path)


@dataclass
class VertexSandbox:
    """A running fake; `stop()` ends it. Tests use the fault helpers to make Vertex misbehave on cue."""

    url: str
    server: ThreadingHTTPServer
    state: VertexState
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def fail_next_deploy(self, message: str = STOCKOUT, status: str = "RESOURCE_EXHAUSTED") -> None:
        """Make the next deployModel operation end with this error (default: a GPU stockout)."""
        with self.state.lock:
            self.state.deploy_faults.append((status, message))

    def fail_next_request(self, path_marker: str, status: str, message: str, method: str = "") -> None:
        """Make the next request (of `method`, if given) whose path contains `path_marker` fail with this error."""
        with self.state.lock:
            self.state.request_faults.append((method, path_marker, status, message))

    def record_prediction(self, endpoint: str, at: datetime | None = None, count: int = 1) -> None:
        """Count `count` predictions of `endpoint` (its full name) at `at` (e.g. 10 minutes ago), as if served then."""
        with self.state.lock:
            record = self.state.endpoints.get(endpoint) or {}
            deployed = record.get("deployedModels") or [{"id": "0"}]
            for _ in range(count):
                self.state.record_prediction(endpoint, deployed[0]["id"], at)

    def make_old(self, endpoint: str, age: timedelta) -> None:
        """Move the endpoint's (and its deployed models') creation time `age` into the past."""
        stamp = (datetime.now(timezone.utc) - age).isoformat().replace("+00:00", "Z")
        with self.state.lock:
            record = self.state.endpoints[endpoint]
            record["createTime"] = stamp
            for deployed in record["deployedModels"]:
                deployed["createTime"] = stamp

    def set_quota(self, quota_id: str, region: str, gpus: int) -> None:
        """Set the serving GPU quota `quota_id` (e.g. CustomModelServingL4GPUsPerProjectPerRegion) in `region`."""
        with self.state.lock:
            self.state.quotas.setdefault(quota_id, {})[region] = gpus


def start(port: int = 0, deploy_delay_s: float = 0.0) -> VertexSandbox:
    """Return a fake Vertex AI on 127.0.0.1; deployModel operations finish `deploy_delay_s` after they start."""
    state = VertexState(deploy_delay_s=deploy_delay_s)
    handler = type("VertexHandler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="vertex-fake", daemon=True)
    thread.start()
    host, bound = server.server_address[:2]
    return VertexSandbox(url=f"http://{host}:{bound}", server=server, state=state, thread=thread)


def environment(url: str) -> dict[str, str]:
    """Return the environment that points cloudrun's Vertex adapter at the fake, and only at it."""
    require_loopback(url)
    return {
        "CLOUDRUN_VERTEX_API_ENDPOINT": url,
        "CLOUDRUN_SANDBOX_CREDENTIALS": "1",
        "GOOGLE_CLOUD_PROJECT": SANDBOX_PROJECT,
        # google-auth never runs with anonymous credentials, but if anything asks it: no metadata server probe.
        "NO_GCE_CHECK": "true",  # google-auth compares with lowercase "true" (read when it is imported)
        "GCE_METADATA_HOST": "127.0.0.1:1",
        "GCE_METADATA_IP": "127.0.0.1:1",
    }


def activate(url: str) -> None:
    """Point this process's Vertex calls at the fake (and drop the key file ADC would otherwise read)."""
    os.environ.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    os.environ.update(environment(url))
