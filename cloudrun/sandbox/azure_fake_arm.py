"""The state and workspace routes of the fake Azure ML ARM API (see azure_fake.py for the server around it;
scoring, metrics and usages are answered in azure_fake_routes.py).

Strict where the real API is strict, so a test against it fails for the reasons production would:
endpoint and deployment names (3-32 letters, digits and '-', starting with a letter), traffic only to
existing deployments summing to 100 (or 0), a bearer token on every ARM call, the endpoint key on scoring.
PUT is an upsert, as on ARM: a create never conflicts, so callers must check existence themselves.
Long-running operations answer with an Azure-AsyncOperation header whose status is InProgress until
`provision_delay_s` has passed, then Succeeded (or Failed, for an injected fault).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cloudrun.sandbox import azure_fake_routes, fake_vllm
from cloudrun.sandbox.azure_fake_routes import CANNED_REPLY as CANNED_REPLY  # re-exported: tests import it here

WORKSPACE_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
    r"/providers/Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)(?P<rest>/.*)?$",
    re.IGNORECASE,
)
USAGES_PATH = re.compile(
    r"^/subscriptions/[^/]+/providers/Microsoft\.MachineLearningServices/locations/(?P<loc>[^/]+)/usages$", re.I
)
NAME_RULE = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$")
# Usage row name -> (current vCPUs, limit vCPUs): a pay-as-you-go account with some GPU quota granted. Named as the
# usages API names them, "<family> Family Cluster Dedicated vCPUs" (azure-rest-api-specs 2024-04-01 Usage/list.json;
# "Standard NCASv3_T4 Family Cluster Dedicated vCPUs" as `az ml compute list-usage` shows it), not as the SKU list
# spells the family ("standard NCASv3_T4 Family"): the adapter must match them with spaces and case ignored.
DEFAULT_USAGES = {
    "Standard NCADSA100v4 Family Cluster Dedicated vCPUs": (0, 96),
    "Standard NCadsH100v5 Family Cluster Dedicated vCPUs": (0, 0),
    "Standard NCASv3_T4 Family Cluster Dedicated vCPUs": (0, 64),
    "Standard NCSv3 Family Cluster Dedicated vCPUs": (0, 24),
    "Standard NDAMSv4_A100 Family Cluster Dedicated vCPUs": (0, 0),
    "Standard NVADSA10v5 Family Cluster Dedicated vCPUs": (0, 36),
}

Reply = tuple[int, dict[str, str], Any]
"""(HTTP status, extra headers, JSON body or None)"""


def arm_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    return status, headers or {}, {"error": {"code": code, "message": message}}


@dataclass
class Operation:
    ready_at: float
    error: dict[str, str] | None = None


@dataclass
class Faults:
    """Faults the next matching requests meet (tests and the demo queue them)."""

    readiness_logs: deque[str] = field(default_factory=deque)  # next deployment fails its readiness probe
    deployment_errors: deque[tuple[int, str, str]] = field(default_factory=deque)  # (status, code, message) on PUT
    throttles: deque[float] = field(default_factory=deque)  # next ARM requests answer 429 with this Retry-After
    metrics: deque[tuple[int, Any]] = field(default_factory=deque)  # (status, JSON body) of the next metrics reads


class FakeArm:
    """An in-memory Azure ML workspace answering ARM requests; thread-safe."""

    def __init__(
        self, *, subscription: str, resource_group: str, workspace: str, location: str, provision_delay_s: float = 0.0
    ) -> None:
        self.subscription, self.resource_group, self.workspace = subscription, resource_group, workspace
        self.location = location
        self.provision_delay_s = provision_delay_s
        self.base_url = ""  # set by the server once it is bound
        self.faults = Faults()
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.deployments: dict[tuple[str, str], dict[str, Any]] = {}
        self.environments: dict[str, dict[str, Any]] = {}
        self.operations: dict[str, Operation] = {}
        self.keys: dict[str, str] = {}
        self.invocations: dict[str, list[float]] = {}
        self.usages = dict(DEFAULT_USAGES)
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, for tests
        self._ready_at: dict[str, float] = {}
        self._logs: dict[tuple[str, str], str] = {}
        self._failed: set[str] = set()  # resources whose operation fails (injected readiness fault)
        self._lock = threading.RLock()

    # --- seeding, for tests and the demo ---------------------------------------------------------------

    def add_endpoint(self, name: str, tags: dict[str, str] | None = None) -> None:
        """Create a finished endpoint directly (e.g. one made by hand, without cloudrun's tags)."""
        with self._lock:
            self.endpoints[name] = self._endpoint_resource(name, {"tags": tags or {}, "properties": {}})
            self.endpoints[name]["properties"]["provisioningState"] = "Succeeded"
            self.keys[name] = secrets.token_hex(16)

    def record_requests(self, endpoint: str, at: float, count: int = 1) -> None:
        """Count `count` scoring requests to `endpoint` at `at` (epoch seconds), as if served then."""
        with self._lock:
            self.invocations.setdefault(endpoint, []).extend([at] * count)

    # --- dispatch ----------------------------------------------------------------------------------------

    def handle(self, method: str, url: str, headers: dict[str, str], body: bytes) -> Reply:
        path = urlsplit(url).path.rstrip("/")
        with self._lock:
            self.requests.append((method, path))
            if path.startswith("/score/"):
                return azure_fake_routes.score(self, path, headers, body)
            if not headers.get("authorization", "").lower().startswith("bearer "):
                return arm_error(401, "AuthenticationFailed", "Authentication failed: no bearer token.")
            if self.faults.throttles:
                retry_after = self.faults.throttles.popleft()
                return arm_error(429, "TooManyRequests", "Rate limit exceeded.", {"Retry-After": f"{retry_after:g}"})
            if path.startswith("/operations/"):
                return self._operation(path.rsplit("/", 1)[-1])
            if "/providers/microsoft.insights/metrics" in path.lower():
                if self.faults.metrics:
                    status, document = self.faults.metrics.popleft()
                    return status, {}, document
                return azure_fake_routes.metrics(self, path, url)
            usages = USAGES_PATH.match(path)
            if usages:
                return azure_fake_routes.usages(self, usages["loc"])
            match = WORKSPACE_PATH.match(path)
            if not match or (match["sub"], match["rg"], match["ws"]) != (
                self.subscription,
                self.resource_group,
                self.workspace,
            ):
                return arm_error(404, "ResourceNotFound", f"The resource {path} was not found.")
            document = json.loads(body) if body else {}
            return self._workspace_route(method, match["rest"] or "", document)

    def _workspace_route(self, method: str, rest: str, document: dict[str, Any]) -> Reply:
        parts = [p for p in rest.split("/") if p]
        if not parts:
            return (200, {}, self._workspace()) if method == "GET" else arm_error(405, "MethodNotAllowed", method)
        kind = parts[0].lower()
        if kind == "environments":
            return self._environment(method, parts, document)
        if kind != "onlineendpoints":
            return arm_error(404, "ResourceNotFound", f"{parts[0]} is not emulated by the cloudrun sandbox.")
        if len(parts) == 1:
            return 200, {}, {"value": [self._read_endpoint(n) for n in sorted(self.endpoints)]}
        name = parts[1]
        if len(parts) == 2:
            return self._endpoint(method, name, document)
        if parts[2].lower() == "listkeys" and method == "POST":
            if name not in self.endpoints:
                return self._missing("online endpoint", name)
            return 200, {}, {"primaryKey": self.keys[name], "secondaryKey": self.keys[name][::-1]}
        if parts[2].lower() == "deployments":
            if name not in self.endpoints:
                return self._missing("online endpoint", name)
            if len(parts) == 3:
                found = [self._read_deployment(e, d) for (e, d) in sorted(self.deployments) if e == name]
                return 200, {}, {"value": found}
            if len(parts) == 5 and parts[4].lower() == "getlogs" and method == "POST":
                return self._get_logs(name, parts[3], document)
            if len(parts) == 4:
                return self._deployment(method, name, parts[3], document)
        return arm_error(404, "ResourceNotFound", f"{rest} is not emulated by the cloudrun sandbox.")

    # --- resources ---------------------------------------------------------------------------------------

    def _workspace(self) -> dict[str, Any]:
        return {
            "id": self._ws_id(""),
            "name": self.workspace,
            "type": "Microsoft.MachineLearningServices/workspaces",
            "location": self.location,
            "tags": {},
            "properties": {"friendlyName": self.workspace, "provisioningState": "Succeeded"},
        }

    def _endpoint(self, method: str, name: str, document: dict[str, Any]) -> Reply:
        if method == "GET":
            return (200, {}, self._read_endpoint(name)) if name in self.endpoints else self._missing("endpoint", name)
        if method == "DELETE":
            if name not in self.endpoints:
                return 204, {}, None
            self.endpoints[name]["properties"]["provisioningState"] = "Deleting"
            return self._accepted(202, None, name, remove=True)
        if method not in ("PUT", "PATCH"):
            return arm_error(405, "MethodNotAllowed", method)
        if not NAME_RULE.match(name):
            return arm_error(
                400,
                "BadArgument",
                f"Endpoint name '{name}' is invalid: 3-32 characters, letters, "
                "digits and '-', starting with a letter and not ending with '-'.",
            )
        existing = self.endpoints.get(name)
        if method == "PATCH" and existing is None:
            return self._missing("endpoint", name)
        merged = _merge(existing or {}, document)
        traffic = (merged.get("properties") or {}).get("traffic") or {}
        refused = self._check_traffic(name, traffic)
        if refused:
            return refused
        self.endpoints[name] = self._endpoint_resource(name, merged)
        self.endpoints[name]["properties"]["provisioningState"] = "Updating" if existing else "Creating"
        self.keys.setdefault(name, secrets.token_hex(16))
        return self._accepted(200 if existing else 201, self._read_endpoint(name), name)

    def _check_traffic(self, endpoint: str, traffic: dict[str, Any]) -> Reply | None:
        missing = sorted(d for d in traffic if (endpoint, d) not in self.deployments)
        if missing:
            return arm_error(400, "BadArgument", f"Traffic cannot go to deployments that do not exist: {missing}.")
        total = sum(int(v) for v in traffic.values())
        if traffic and total not in (0, 100):
            return arm_error(400, "BadArgument", f"Traffic must add up to 0 or 100, not {total}.")
        return None

    def _endpoint_resource(self, name: str, document: dict[str, Any]) -> dict[str, Any]:
        properties = dict(document.get("properties") or {})
        properties.setdefault("authMode", "Key")
        properties.setdefault("traffic", {})
        properties["scoringUri"] = f"{self.base_url}/score/{name}/v1/chat/completions"
        properties["swaggerUri"] = f"{self.base_url}/score/{name}/swagger.json"
        return {
            "id": self._ws_id(f"/onlineEndpoints/{name}"),
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
            "location": document.get("location") or self.location,
            "tags": document.get("tags") or {},
            "identity": document.get("identity") or {"type": "SystemAssigned"},
            "kind": document.get("kind") or "Managed",
            "properties": properties,
        }

    def _deployment(self, method: str, endpoint: str, name: str, document: dict[str, Any]) -> Reply:
        key = (endpoint, name)
        if method == "GET":
            return (
                (200, {}, self._read_deployment(*key)) if key in self.deployments else self._missing("deployment", name)
            )
        if method == "DELETE":
            if key not in self.deployments:
                return 204, {}, None
            self.deployments[key]["properties"]["provisioningState"] = "Deleting"
            return self._accepted(202, None, f"{endpoint}/{name}", remove=True)
        if method != "PUT":
            return arm_error(405, "MethodNotAllowed", method)
        if not NAME_RULE.match(name):
            return arm_error(400, "BadArgument", f"Deployment name '{name}' is invalid.")
        if self.faults.deployment_errors:
            status, code, message = self.faults.deployment_errors.popleft()
            return arm_error(status, code, message)
        properties = dict(document.get("properties") or {})
        if not properties.get("instanceType"):
            return arm_error(400, "BadArgument", "instanceType is required for a managed online deployment.")
        environment_id = properties.get("environmentId", "")
        if environment_id.rsplit("/versions/", 1)[0].rsplit("/", 1)[-1] not in self.environments:
            return arm_error(400, "BadArgument", f"Environment {environment_id} was not found.")
        properties["provisioningState"] = "Creating"
        properties.setdefault("scaleSettings", {"scaleType": "Default"})
        properties.setdefault("endpointComputeType", "Managed")
        self.deployments[key] = {
            "id": self._ws_id(f"/onlineEndpoints/{endpoint}/deployments/{name}"),
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
            "location": self.location,
            "tags": document.get("tags") or {},
            "sku": document.get("sku") or {"name": "Default", "capacity": 1},
            "kind": document.get("kind") or "Managed",
            "properties": properties,
        }
        error = None
        crash = self._container_error(environment_id, properties)
        if self.faults.readiness_logs or crash:
            self._logs[key] = self.faults.readiness_logs.popleft() if self.faults.readiness_logs else crash
            error = {
                "code": "ResourceNotReady",
                "message": "User container has crashed or terminated: the "
                "readiness probe failed. Please see troubleshooting guide.",
            }
        else:
            self._logs[key] = f"INFO: Started server process\nINFO: Application startup complete.\n{name} ready"
        return self._accepted(201, self._read_deployment(*key), f"{endpoint}/{name}", error=error)

    def _container_error(self, environment_id: str, properties: dict[str, Any]) -> str | None:
        """Return what the deployment's vLLM container would die of (fake_vllm), or None if it would serve.

        Only a wrapper image that reads VLLM_MODEL/VLLM_ARGS is judged: the stock image ignores them and serves
        vLLM's default model, which is a wrong answer, not a crash.
        """
        name = environment_id.rsplit("/versions/", 1)[0].rsplit("/", 1)[-1]
        image = str(((self.environments.get(name) or {}).get("properties") or {}).get("image", ""))
        variables = properties.get("environmentVariables") or {}
        if "VLLM_MODEL" not in variables or image.startswith(("vllm/vllm-openai", "docker.io/vllm/vllm-openai")):
            return None
        gpu, count = fake_vllm.azure_gpus(str(properties.get("instanceType", "")))
        launch = fake_vllm.args_launch(image, fake_vllm.wrapper_args(variables), gpu, count)
        return fake_vllm.start(launch)

    def _environment(self, method: str, parts: list[str], document: dict[str, Any]) -> Reply:
        if len(parts) < 2:
            return 200, {}, {"value": []}
        name = parts[1]
        if len(parts) == 4 and method == "PUT":
            resource = {
                "id": self._ws_id("/" + "/".join(parts)),
                "name": parts[3],
                "properties": document.get("properties", {}),
            }
            self.environments[name] = resource
            return 200, {}, resource
        if name in self.environments:
            return (
                200,
                {},
                self.environments[name]
                if len(parts) == 4
                else {"id": self._ws_id(f"/environments/{name}"), "name": name, "properties": {}},
            )
        return self._missing("environment", name)

    def _get_logs(self, endpoint: str, name: str, document: dict[str, Any]) -> Reply:
        if (endpoint, name) not in self.deployments:
            return self._missing("deployment", name)
        lines = self._logs.get((endpoint, name), "").splitlines()
        tail = int(document.get("tail") or 50)
        return 200, {}, {"content": "\n".join(lines[-tail:])}

    # --- long-running operations --------------------------------------------------------------------------

    def _accepted(
        self, status: int, body: Any, resource: str, *, remove: bool = False, error: dict[str, str] | None = None
    ) -> Reply:
        op_id = uuid.uuid4().hex
        ready_at = time.monotonic() + self.provision_delay_s
        self.operations[op_id] = Operation(ready_at=ready_at, error=error)
        self._ready_at[resource] = ready_at
        if remove:
            self._ready_at[resource] = -ready_at  # negative: remove when done
        elif error:
            self._failed.add(resource)
        # No Retry-After here: the SDK deserializes the initial response's Retry-After as an int.
        headers = {"Azure-AsyncOperation": f"{self.base_url}/operations/{op_id}"}
        return status, headers, body

    def _operation(self, op_id: str) -> Reply:
        operation = self.operations.get(op_id)
        if operation is None:
            return arm_error(404, "ResourceNotFound", f"operation {op_id} not found")
        self.settle()
        if time.monotonic() < operation.ready_at:
            # Real ARM sends whole seconds; azure-core parses a float, which keeps tests fast.
            return 200, {"Retry-After": "0.05"}, {"name": op_id, "status": "InProgress"}
        if operation.error:
            return 200, {}, {"name": op_id, "status": "Failed", "error": operation.error}
        return 200, {}, {"name": op_id, "status": "Succeeded"}

    def settle(self) -> None:
        """Apply every operation whose time has come (lazily, on each read)."""
        now = time.monotonic()
        for resource, ready_at in list(self._ready_at.items()):
            failed = resource in self._failed
            if now < abs(ready_at):
                continue
            endpoint, _, deployment = resource.partition("/")
            record = self.deployments.get((endpoint, deployment)) if deployment else self.endpoints.get(endpoint)
            del self._ready_at[resource]
            self._failed.discard(resource)
            if record is None:
                continue
            if ready_at < 0:
                self._remove(endpoint, deployment)
            else:
                record["properties"]["provisioningState"] = "Failed" if failed else "Succeeded"

    def _remove(self, endpoint: str, deployment: str) -> None:
        if deployment:
            self.deployments.pop((endpoint, deployment), None)
            return
        self.endpoints.pop(endpoint, None)
        self.keys.pop(endpoint, None)
        for key in [k for k in self.deployments if k[0] == endpoint]:
            del self.deployments[key]

    def _read_endpoint(self, name: str) -> dict[str, Any]:
        self.settle()
        return self.endpoints[name]

    def _read_deployment(self, endpoint: str, name: str) -> dict[str, Any]:
        self.settle()
        return self.deployments[endpoint, name]

    # --- helpers ------------------------------------------------------------------------------------------

    def _ws_id(self, suffix: str) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{self.workspace}{suffix}"
        )

    @staticmethod
    def _missing(kind: str, name: str) -> Reply:
        return arm_error(404, "ResourceNotFound", f"The {kind} '{name}' could not be found.")


def _merge(existing: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Return `existing` with `update` applied: nested dicts merged, other values replaced (ARM PATCH)."""
    merged = dict(existing)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "traffic":
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
