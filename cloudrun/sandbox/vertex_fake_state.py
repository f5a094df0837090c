"""The state of the fake Vertex AI (see vertex_fake.py for its server, vertex_fake_routes.py for its routes): the
models, endpoints, operations, predictions and quotas it holds, the faults queued for it, and the Google-shaped
error its routes raise, `{"error": {"code": 404, "message": ..., "status": "NOT_FOUND"}}`.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from cloudrun.sandbox.http_fake import FaultQueue, Operations

PROJECT_NUMBER = "123456789012"
TYPE = "type.googleapis.com/google.cloud.aiplatform.v1."
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

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS.get(self.status, 500)

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.http_status, "message": self.message, "status": self.status}}


def now_text() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass
class VertexState:
    """Everything the fake holds; every access goes through `lock`."""

    deploy_delay_s: float = 0.0
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: Operations = field(default_factory=Operations)  # operation name -> when and how it finishes
    deploy_faults: FaultQueue[tuple[str, str]] = field(default_factory=FaultQueue)  # (status, message), next deploys
    # (method or "", path marker, status, message) for the next matching requests
    request_faults: FaultQueue[tuple[str, str, str, str]] = field(default_factory=FaultQueue)
    predictions: dict[str, int] = field(default_factory=dict)  # endpoint name -> predict calls served
    # (endpoint name, deployed model id, when) of every prediction: Cloud Monitoring's prediction_count
    prediction_log: list[tuple[str, str, datetime]] = field(default_factory=list)
    quotas: dict[str, dict[str, int]] = field(  # quota id -> region -> GPUs
        default_factory=lambda: {quota: dict.fromkeys(QUOTA_REGIONS, gpus) for quota, gpus in QUOTAS.items()}
    )
    container_logs: dict[str, str] = field(default_factory=dict)  # endpoint name -> what its container died of
    storage: Any = None  # the Cloud Storage fake on the same port (gcs_fake.GcsState): artifactUri is checked there
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
        self.pending.start(name, delay_s, finish=finish)
        return self.operations[name]

    def operation(self, name: str) -> dict[str, Any]:
        """Return the operation, finishing it first if its time has come."""
        if name not in self.operations:
            raise ApiError("NOT_FOUND", f"Operation {name} is not found.")
        pending = self.pending.take_done(name)
        if pending is not None:
            record = self.operations[name]
            try:
                record["response"] = pending.finish()
            except ApiError as exc:
                record["error"] = {"code": GRPC_CODES.get(exc.status, 2), "message": exc.message}
            record["done"] = True
            record["metadata"]["genericMetadata"]["updateTime"] = now_text()
        return self.operations[name]
