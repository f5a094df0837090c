"""The state of the fake Azure ML ARM API (the server is azure_fake.py, the workspace routes azure_fake_arm.py,
scoring, metrics and usages azure_fake_routes.py): one workspace's endpoints, deployments, environments, keys
and scoring requests, the faults queued for it, and its long-running operations, which answer with an
Azure-AsyncOperation header whose status is InProgress until `provision_delay_s` has passed, then Succeeded
(or Failed, for an injected fault). Errors are shaped like ARM's: `{"error": {"code": ..., "message": ...}}`.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from cloudrun.sandbox.blob_fake import BlobState
from cloudrun.sandbox.http_fake import FaultQueue, Operations

STORAGE_ACCOUNT = "cloudrunsandboxsa"  # the workspace's storage account (3-24 lowercase letters and digits)

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
class Faults:
    """Faults the next matching requests meet (tests and the demo queue them)."""

    readiness_logs: FaultQueue[str] = field(default_factory=FaultQueue)  # next deployment fails its readiness probe
    deployment_errors: FaultQueue[tuple[int, str, str]] = field(default_factory=FaultQueue)  # (status, code, message)
    throttles: FaultQueue[float] = field(default_factory=FaultQueue)  # next ARM requests: 429 with this Retry-After
    metrics: FaultQueue[tuple[int, Any]] = field(default_factory=FaultQueue)  # (status, JSON body), next metrics reads


class ArmState:
    """An in-memory Azure ML workspace and its operations; every access holds `_lock` (FakeArm serves requests)."""

    def __init__(
        self, *, subscription: str, resource_group: str, workspace: str, location: str, provision_delay_s: float = 0.0
    ) -> None:
        self.subscription, self.resource_group, self.workspace = subscription, resource_group, workspace
        self.location = location
        self.provision_delay_s = provision_delay_s
        self.base_url = ""  # set by the server once it is bound
        self.blob = BlobState(account=STORAGE_ACCOUNT)  # the workspace's storage account, served under /blob/
        self.models: dict[tuple[str, str], dict[str, Any]] = {}  # (name, version) -> model asset
        self.datastores: dict[str, dict[str, Any]] = {}  # name -> datastore
        self.faults = Faults()
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.deployments: dict[tuple[str, str], dict[str, Any]] = {}
        self.environments: dict[str, dict[str, Any]] = {}
        self.operations = Operations()  # operation id -> when it is done, and its error if it fails
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

    def add_deployment(self, endpoint: str, name: str, tags: dict[str, str] | None = None) -> None:
        """Put a finished deployment into an endpoint directly (e.g. someone's own, without cloudrun's tags)."""
        with self._lock:
            self.deployments[endpoint, name] = {
                "id": self._ws_id(f"/onlineEndpoints/{endpoint}/deployments/{name}"),
                "name": name,
                "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
                "location": self.location,
                "tags": tags or {},
                "sku": {"name": "Default", "capacity": 1},
                "kind": "Managed",
                "properties": {"provisioningState": "Succeeded", "instanceType": "Standard_DS3_v2",
                               "endpointComputeType": "Managed", "scaleSettings": {"scaleType": "Default"}},
            }  # fmt: skip

    def record_requests(self, endpoint: str, at: float, count: int = 1) -> None:
        """Count `count` scoring requests to `endpoint` at `at` (epoch seconds), as if served then."""
        with self._lock:
            self.invocations.setdefault(endpoint, []).extend([at] * count)

    # --- long-running operations --------------------------------------------------------------------------

    def _accepted(
        self, status: int, body: Any, resource: str, *, remove: bool = False, error: dict[str, str] | None = None
    ) -> Reply:
        op_id = uuid.uuid4().hex
        ready_at = self.operations.start(op_id, self.provision_delay_s, error=error).due
        self._ready_at[resource] = ready_at
        self._failed.discard(resource)  # a new operation replaces the last one's outcome (a re-PUT after a failure)
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
        if not operation.done:
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

    def _endpoint_resource(self, name: str, document: dict[str, Any]) -> dict[str, Any]:
        properties = dict(document.get("properties") or {})
        properties.setdefault("authMode", "Key")
        properties.setdefault("properties", {})  # the endpoint's property bag: ARM always returns it, maybe empty
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
            "systemData": _system_data((self.endpoints.get(name) or {}).get("systemData")),
        }

    def _ws_id(self, suffix: str) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{self.workspace}{suffix}"
        )

    @staticmethod
    def _missing(kind: str, name: str) -> Reply:
        return arm_error(404, "ResourceNotFound", f"The {kind} '{name}' could not be found.")


def _system_data(existing: dict[str, Any] | None) -> dict[str, Any]:
    """Return ARM's systemData for a resource written now: createdAt kept from its first write, lastModifiedAt now.

    The fields of ARM's common type (azure-rest-api-specs, common-types/resource-management/v3/types.json, systemData).
    """
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    created = existing or {"createdBy": "sandbox@cloudrun.local", "createdByType": "User", "createdAt": now}
    return {**created, "lastModifiedBy": "sandbox@cloudrun.local", "lastModifiedByType": "User", "lastModifiedAt": now}
