"""The fake Azure ML ARM API's request handling and workspace routes, on its state (azure_fake_state.py; see
azure_fake.py for the server around it; scoring, metrics and usages are answered in azure_fake_routes.py).

Strict where the real API is strict, so a test against it fails for the reasons production would:
endpoint and deployment names (3-32 letters, digits and '-', starting with a letter), traffic only to
existing deployments summing to 100 (or 0), a bearer token on every ARM call, the endpoint key on scoring.
PUT is an upsert, as on ARM: a create never conflicts, so callers must check existence themselves.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from cloudrun.sandbox import azure_fake_models, azure_fake_routes, blob_fake, fake_vllm
from cloudrun.sandbox.azure_fake_routes import CANNED_REPLY as CANNED_REPLY  # re-exported: tests import it here
from cloudrun.sandbox.azure_fake_state import STORAGE_ACCOUNT, ArmState, Reply, arm_error
from cloudrun.sandbox.http_fake import Routes

WORKSPACE_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
    r"/providers/Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)(?P<rest>/.*)?$",
    re.IGNORECASE,
)
USAGES_PATH = re.compile(
    r"^/subscriptions/[^/]+/providers/Microsoft\.MachineLearningServices/locations/(?P<loc>[^/]+)/usages$", re.I
)
NAME_RULE = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$")


class FakeArm(ArmState):
    """An in-memory Azure ML workspace answering ARM requests; thread-safe."""

    # --- dispatch ----------------------------------------------------------------------------------------

    def handle(self, method: str, url: str, headers: dict[str, str], body: bytes) -> Reply:
        path = urlsplit(url).path.rstrip("/")
        with self._lock:
            self.requests.append((method, path))
            if path.startswith("/score/"):
                return azure_fake_routes.score(self, path, headers, body)
            if path.startswith("/blob/"):  # the workspace's storage account (blob_fake)
                return blob_fake.handle(self.blob, method, url, headers, body)
            if not headers.get("authorization", "").lower().startswith("bearer "):
                return arm_error(401, "AuthenticationFailed", "Authentication failed: no bearer token.")
            retry_after = self.faults.throttles.take()
            if retry_after is not None:
                return arm_error(429, "TooManyRequests", "Rate limit exceeded.", {"Retry-After": f"{retry_after:g}"})
            if path.startswith("/operations/"):
                return self._operation(path.rsplit("/", 1)[-1])
            if "/providers/microsoft.insights/metrics" in path.lower():
                fault = self.faults.metrics.take()
                if fault is not None:
                    return fault[0], {}, fault[1]
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
        below_endpoint = len(parts) > 2 and parts[0].lower() == "onlineendpoints"
        if below_endpoint and parts[2].lower() == "deployments" and parts[1] not in self.endpoints:
            return self._missing("online endpoint", parts[1])  # whatever is asked of its deployments
        found = _WORKSPACE_ROUTES.find(method, "/".join(parts))
        if found:
            return found[0](self, method, parts, document)
        unknown = rest if parts[0].lower() == "onlineendpoints" else parts[0]
        return arm_error(404, "ResourceNotFound", f"{unknown} is not emulated by the cloudrun sandbox.")

    # --- resources: each route takes (method, the path's segments below the workspace, the JSON body) --------

    def _workspace(self, _method: str, _parts: list[str], _document: dict[str, Any]) -> Reply:
        return 200, {}, {
            "id": self._ws_id(""),
            "name": self.workspace,
            "type": "Microsoft.MachineLearningServices/workspaces",
            "location": self.location,
            "tags": {},
            "properties": {"friendlyName": self.workspace, "provisioningState": "Succeeded",
                           "storageAccount": f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                                             f"/providers/Microsoft.Storage/storageAccounts/{STORAGE_ACCOUNT}"},
        }  # fmt: skip

    def _not_allowed(self, method: str, _parts: list[str], _document: dict[str, Any]) -> Reply:
        return arm_error(405, "MethodNotAllowed", method)

    def _list_endpoints(self, _method: str, _parts: list[str], _document: dict[str, Any]) -> Reply:
        return 200, {}, {"value": [self._read_endpoint(n) for n in sorted(self.endpoints)]}

    def _list_keys(self, _method: str, parts: list[str], _document: dict[str, Any]) -> Reply:
        name = parts[1]
        if name not in self.endpoints:
            return self._missing("online endpoint", name)
        return 200, {}, {"primaryKey": self.keys[name], "secondaryKey": self.keys[name][::-1]}

    def _list_deployments(self, _method: str, parts: list[str], _document: dict[str, Any]) -> Reply:
        return 200, {}, {"value": [self._read_deployment(e, d) for (e, d) in sorted(self.deployments) if e == parts[1]]}

    def _endpoint(self, method: str, parts: list[str], document: dict[str, Any]) -> Reply:
        name = parts[1]
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
        self.settle()  # what is due first: a deletion that has finished makes this a fresh create
        existing = self.endpoints.get(name)
        if existing is not None and existing["properties"].get("provisioningState") == "Deleting":
            # As Azure answers a create under a name still being deleted (azureml-examples PR #1930: "There is
            # already an endpoint with this name ... unique within a region"; a BadRequest, the exact envelope [S]).
            return arm_error(400, "BadRequest", "There is already an endpoint with this name, Endpoint name needs "
                             "to be unique within a region. Try some other name.")  # fmt: skip
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

    def _deployment(self, method: str, parts: list[str], document: dict[str, Any]) -> Reply:
        endpoint, name = key = (parts[1], parts[3])
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
        refusal = self.faults.deployment_errors.take()
        if refusal is not None:
            return arm_error(*refusal)
        properties = dict(document.get("properties") or {})
        if not properties.get("instanceType"):
            return arm_error(400, "BadArgument", "instanceType is required for a managed online deployment.")
        environment_id = properties.get("environmentId", "")
        if environment_id.rsplit("/versions/", 1)[0].rsplit("/", 1)[-1] not in self.environments:
            return arm_error(400, "BadArgument", f"Environment {environment_id} was not found.")
        model_id = str(properties.get("model") or "")
        if model_id and _model_key(model_id) not in self.models:
            return arm_error(400, "BadArgument", f"Model {model_id} was not found.")
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
        injected = self.faults.readiness_logs.take()
        if injected is not None or crash:
            self._logs[key] = injected if injected is not None else crash
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
        mount = str(properties.get("modelMountPath") or "")
        if properties.get("model") and mount:  # the model asset mounted as the docs lay it out (azure_fake_models)
            folders = azure_fake_models.mounted(self, _model_key(str(properties["model"])), mount)
            served = fake_vllm.wrapper_model(image, variables["VLLM_MODEL"], folders)
            if served in folders:  # the staged copy's manifest says which model it is
                variables = {**variables, "VLLM_MODEL": folders[served]}
            elif served.startswith(mount):
                return f"OSError: {served} does not appear to have a file named config.json."
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

    def _get_logs(self, _method: str, parts: list[str], document: dict[str, Any]) -> Reply:
        endpoint, name = parts[1], parts[3]
        if (endpoint, name) not in self.deployments:
            return self._missing("deployment", name)
        lines = self._logs.get((endpoint, name), "").splitlines()
        tail = int(document.get("tail") or 50)
        return 200, {}, {"content": "\n".join(lines[-tail:])}


def _model_key(model_id: str) -> tuple[str, str]:
    """Return (name, version) of a model version's ARM id (…/models/NAME/versions/VERSION) or azureml:NAME:VERSION."""
    if model_id.startswith("azureml:"):
        _, name, version = (model_id.split(":") + [""])[:3]
        return name, version
    found = re.search(r"/models/([^/]+)/versions/([^/]+)$", model_id, re.IGNORECASE)
    return (found[1], found[2]) if found else ("", "")


def _merge(existing: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Return `existing` with `update` applied: nested dicts merged, other values replaced (ARM PATCH)."""
    merged = dict(existing)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "traffic":
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# Below the workspace, with empty path segments dropped and case ignored: (method, "" for any; path; route).
_WORKSPACE_ROUTES: Routes[Callable[[FakeArm, str, list[str], dict[str, Any]], Reply]] = Routes(
    [
        ("GET", r"", FakeArm._workspace),
        ("", r"", FakeArm._not_allowed),
        ("", r"environments(?:/.*)?", FakeArm._environment),
        ("", r"datastores/[^/]+", azure_fake_models.datastore),
        ("", r"models/[^/]+/versions(?:/[^/]+)?", azure_fake_models.model),
        ("", r"onlineEndpoints", FakeArm._list_endpoints),
        ("", r"onlineEndpoints/[^/]+", FakeArm._endpoint),
        ("POST", r"onlineEndpoints/[^/]+/listKeys(?:/.*)?", FakeArm._list_keys),
        ("", r"onlineEndpoints/[^/]+/deployments", FakeArm._list_deployments),
        ("POST", r"onlineEndpoints/[^/]+/deployments/[^/]+/getLogs", FakeArm._get_logs),
        ("", r"onlineEndpoints/[^/]+/deployments/[^/]+", FakeArm._deployment),
    ],
    re.IGNORECASE,
)
