"""A stateful fake of the Vertex AI REST API subset cloudrun uses, on 127.0.0.1 (stdlib only).

Serves what the real `aiplatform_v1` clients send with `transport="rest"`: models (upload, get, list,
delete), endpoints (create, get, list, delete, deployModel, undeployModel, predict, rawPredict, their
operations), and long-running operations on both the `/v1/` and `/ui/` prefixes (the REST LRO poller
uses `/ui/`). Beyond Vertex itself, on the same port: Cloud Storage (gcs_fake: staged weights, which uploadModel's
artifactUri must name) and the two read-only Google APIs the adapter asks about endpoints, Cloud Monitoring's
`GET /v3/projects/P/timeSeries` (the online prediction count, built from the
predictions this fake served) and Cloud Quotas' `GET /v1/projects/P/locations/global/services/
aiplatform.googleapis.com/quotaInfos[/ID]` (the serving GPU quotas, generous by default, see QUOTAS).
It is strict where Vertex is: Google's label rules, no deleting an endpoint that still has a deployed
model or a model still deployed, no deploying to a missing endpoint or a missing model.
Resource names carry a project NUMBER even when the request named the project by id, as Vertex does.
Errors are shaped like Google's: `{"error": {"code": 404, "message": ..., "status": "NOT_FOUND"}}`.
This module is the server (the fake's state is in vertex_fake_state.py, its routes in vertex_fake_routes.py).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from cloudrun.loopback import require_loopback
from cloudrun.sandbox import gcs_fake
from cloudrun.sandbox.http_fake import JsonHandler, RunningServer, query_params, start_server
from cloudrun.sandbox.vertex_fake_routes import route
from cloudrun.sandbox.vertex_fake_state import PROJECT_NUMBER, ApiError, VertexState
from cloudrun.sandbox.vertex_fake_state import QUOTAS as QUOTAS  # re-exported: tests and docs name it here

SANDBOX_PROJECT = "cloudrun-sandbox"
STOCKOUT = (
    "Deploying model failed: the zone 'us-central1-a' does not have enough resources available to fulfill the "
    "request (ZONE_RESOURCE_POOL_EXHAUSTED, stockout). Resources are insufficient in region us-central1."
)


class _Handler(JsonHandler):
    state: VertexState  # set on the subclass made per server

    def _serve(self) -> None:
        method, parts = self.command, urlsplit(self.path)
        if parts.path.startswith(("/storage/", "/upload/storage/")):  # Cloud Storage, on the same port (gcs_fake)
            host, port = self.server.server_address[:2]
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, extra, document = gcs_fake.handle(self.state.storage, method, self.path, headers,
                                                      self.read_body(), f"http://{host}:{port}")  # fmt: skip
            self.send_json(status, document, extra)
            return
        if method == "PUT":
            self.send_json(404, ApiError("NOT_FOUND", "PUT is not a Vertex AI method").body())
            return
        query = query_params(self.path)
        raw = self.read_body()
        status, reply = 200, b"{}"
        with self.state.lock:
            self.state.seen.append((method, parts.path))
            self.state.seen_queries.append((method, parts.path, query))
            try:
                self._fault(method, parts.path)
                body = json.loads(raw) if raw and method != "GET" else {}
                answer = route(self.state, method, _normalise(parts.path), query, body)
                reply = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            except ApiError as exc:
                status, reply = exc.http_status, json.dumps(exc.body()).encode()
            except ValueError as exc:
                error = ApiError("INVALID_ARGUMENT", f"Invalid JSON payload received. {exc}")
                status, reply = 400, json.dumps(error.body()).encode()
        self.send_json(status, reply)

    do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _serve  # noqa: N815 - http.server's naming (PUT: storage only)

    def _fault(self, method: str, path: str) -> None:
        fault = self.state.request_faults.take(lambda fault: fault[1] in path and fault[0] in ("", method))
        if fault is not None:
            raise ApiError(fault[2], fault[3])


def _normalise(path: str) -> str:
    """Return the resource path without the /v1/, /ui/ or /v3/ prefix, with the project id turned into its number."""
    path = re.sub(r"^/(v1|ui|v3)/", "", path)
    return re.sub(r"^projects/[^/]+", f"projects/{PROJECT_NUMBER}", path)


@dataclass
class VertexSandbox(RunningServer):
    """A running fake; `stop()` ends it. Tests use the fault helpers to make Vertex misbehave on cue."""

    url: str
    state: VertexState

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
    state = VertexState(deploy_delay_s=deploy_delay_s, storage=gcs_fake.GcsState())
    handler = type("VertexHandler", (_Handler,), {"state": state})
    server, thread = start_server(handler, port, "vertex-fake", poll_interval=0.05)
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
