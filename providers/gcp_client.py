"""How the Vertex adapter reaches Google: which host, which credentials, which project; one call, one operation.

Hosts: aiplatform_v1 clients over REST at https://REGION-aiplatform.googleapis.com; Cloud Monitoring and Cloud
Quotas through gcp_metrics.RestClient at Google's hosts. CLOUDRUN_VERTEX_API_ENDPOINT sends every aiplatform
call to another URL and, when it is loopback, the Monitoring and Quotas reads too.

Credentials and project: Application Default Credentials, looked up on first use (never at construction);
the project is the one given, else $GOOGLE_CLOUD_PROJECT, else the one ADC names. CLOUDRUN_SANDBOX_CREDENTIALS=1
means anonymous credentials and the project "cloudrun-sandbox", and is refused unless the endpoint is loopback.

Calls: `VertexSession` (a cloudrun.session.CloudSession) passes `retry=None` to the SDK and retries through
`cloudrun.retry` what `cloudrun.errors` marks retryable; a create is never repeated after a 5xx. `run_operation`
polls a long-running operation with `get_operation` to a deadline. Google's errors are translated here, once
(`translate`): the adapter, its price fetcher (gcp_prices) and its metrics and quota reads all use it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import google.auth
from google.api_core import exceptions as google_errors
from google.api_core.client_options import ClientOptions
from google.auth import exceptions as auth_errors
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform_v1
from requests import exceptions as http_errors

from cloudrun import retry
from cloudrun.errors import (
    AuthError,
    CapacityUnavailable,
    CloudrunError,
    Conflict,
    InvalidInput,
    NotFound,
    QuotaExceeded,
    RateLimited,
    Transient,
)
from cloudrun.loopback import is_loopback
from cloudrun.provider import ClientFactory
from cloudrun.session import CloudSession

from . import gcp_metrics
from .common import CONFLICT_HINT, quota_hint

SANDBOX_ENDPOINT_ENV = "CLOUDRUN_VERTEX_API_ENDPOINT"
SANDBOX_CREDENTIALS_ENV = "CLOUDRUN_SANDBOX_CREDENTIALS"
SANDBOX_PROJECT = "cloudrun-sandbox"
CREDENTIALS_HINT = "run `gcloud auth application-default login` (or set GOOGLE_APPLICATION_CREDENTIALS to a key file)"
LRO_DEADLINE_S = 900.0  # upload, create, undeploy and delete take seconds to minutes; deploy is not waited
_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
_CLIENTS = {"model": "ModelServiceClient", "endpoint": "EndpointServiceClient", "prediction": "PredictionServiceClient"}
_REST_APIS = {"monitoring": gcp_metrics.MONITORING_URL, "quotas": gcp_metrics.QUOTAS_URL}  # no GAPIC REST client
_RPC_TIMEOUT_S = 60.0

_ERRORS: dict[str, type[CloudrunError]] = {
    "RESOURCE_EXHAUSTED": RateLimited,  # refined by its message: quota, capacity or throttling
    "FAILED_PRECONDITION": Conflict,
    "ALREADY_EXISTS": Conflict,
    "ABORTED": Transient,  # a concurrent change: the request did nothing
    "NOT_FOUND": NotFound,
    "PERMISSION_DENIED": AuthError,
    "UNAUTHENTICATED": AuthError,
    "INVALID_ARGUMENT": InvalidInput,
    "OUT_OF_RANGE": InvalidInput,
    "UNAVAILABLE": Transient,
    "INTERNAL": Transient,
    "DEADLINE_EXCEEDED": Transient,
}
_HTTP_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
                504: "DEADLINE_EXCEEDED"}  # fmt: skip
_CAPACITY_MARKERS = ("zone_resource_pool_exhausted", "stockout", "resources are insufficient",
                     "does not have enough resources", "out of capacity", "resource_availability")  # fmt: skip
_RATE_MARKERS = ("per minute", "rate limit", "rate_limit", "too many requests", "requests per")
_QUOTA_MARKERS = ("quota",)

QUOTA_HINT = quota_hint(
    "request 'Custom model serving <GPU> GPUs per region' (custom_model_serving_*; the preemptible_ ones for spot) "
    "in the console's Quotas page; free-trial accounts must upgrade first",
    "gcp",
)
HINTS: dict[type[CloudrunError], str] = {
    QuotaExceeded: QUOTA_HINT,
    CapacityUnavailable: "Vertex has no GPUs of this type here now: try on-demand, another machine type or region",
    Conflict: CONFLICT_HINT,
}


def status_name(exc: google_errors.GoogleAPICallError) -> str:
    """Return Google's canonical status name (e.g. FAILED_PRECONDITION) for an API error, REST or gRPC."""
    if getattr(exc.grpc_status_code, "name", None):
        return exc.grpc_status_code.name
    try:  # over REST, api_core picks the class from the HTTP code only: 400 is also FAILED_PRECONDITION
        status = exc.response.json()["error"]["status"]
        if status:
            return str(status)
    except (AttributeError, KeyError, TypeError, ValueError):
        pass
    return _HTTP_STATUS.get(exc.code or 0, "INTERNAL" if (exc.code or 0) >= 500 else "UNKNOWN")


def error_class(status: str, message: str) -> type[CloudrunError]:
    """Return the cloudrun error class for a Google status, refined by its message where Google overloads one."""
    lowered = message.lower()
    if any(marker in lowered for marker in _CAPACITY_MARKERS):
        return CapacityUnavailable
    if status == "RESOURCE_EXHAUSTED":
        if any(marker in lowered for marker in _RATE_MARKERS):
            return RateLimited
        return QuotaExceeded if any(marker in lowered for marker in _QUOTA_MARKERS) else RateLimited
    if status == "FAILED_PRECONDITION" and "billing" in lowered:
        return AuthError
    return _ERRORS.get(status, CloudrunError)


def translate(exc: BaseException, project: str | None = None, service: str = "Vertex AI") -> CloudrunError:
    """Return the cloudrun error that a google-api-core / google-auth / requests exception stands for."""
    which = f" (project {project})" if project else ""
    if isinstance(exc, auth_errors.DefaultCredentialsError):
        return AuthError(f"no Google Application Default Credentials{which}: {exc}", hint=CREDENTIALS_HINT)
    if isinstance(exc, auth_errors.RefreshError):
        return AuthError(f"Google credentials could not be refreshed{which}: {exc}", hint=CREDENTIALS_HINT)
    if isinstance(exc, (auth_errors.TransportError, http_errors.ConnectionError, http_errors.Timeout)):
        return Transient(f"could not reach {service}: {exc}")
    if not isinstance(exc, google_errors.GoogleAPICallError):
        return CloudrunError(f"Google SDK error: {exc}")
    status, message = status_name(exc), exc.message or str(exc)
    kind = error_class(status, message)
    if kind is AuthError:
        hint = "enable billing on the project (free-trial accounts: upgrade)" if "billing" in message.lower() else (
            f"allow your identity to use {service}{which}, or {CREDENTIALS_HINT}")  # fmt: skip
        return AuthError(f"{status}: {message}{which}", hint=hint)
    return kind(f"{status}: {message}", hint=HINTS.get(kind))


def failure_kind(reason: str) -> type[CloudrunError]:
    """Return the error class a failed deployment's reason stands for (capacity, quota, or neither)."""
    lowered = reason.lower()
    if any(marker in lowered for marker in _CAPACITY_MARKERS):
        return CapacityUnavailable
    return QuotaExceeded if any(marker in lowered for marker in _QUOTA_MARKERS) else CloudrunError



def sandbox_target() -> tuple[str | None, bool]:
    """Return the aiplatform endpoint override (or None) and whether sandbox credentials are on.

    Raises InvalidInput for sandbox credentials with an endpoint that is not on this machine.
    """
    api_endpoint = os.environ.get(SANDBOX_ENDPOINT_ENV) or None
    sandbox = os.environ.get(SANDBOX_CREDENTIALS_ENV) == "1"
    if sandbox and not (api_endpoint and is_loopback(api_endpoint)):
        raise InvalidInput(
            f"{SANDBOX_CREDENTIALS_ENV}=1 is only for a Vertex endpoint on this machine, "
            f"not {api_endpoint or 'Google'}",
            hint=f"set {SANDBOX_ENDPOINT_ENV}=http://127.0.0.1:PORT, or unset {SANDBOX_CREDENTIALS_ENV}",
        )
    return api_endpoint, sandbox


class VertexSession(CloudSession):
    """One project's way to Vertex: a client per (kind, region), credentials and project resolved on first use."""

    sdk_errors = (google_errors.GoogleAPICallError, auth_errors.GoogleAuthError, http_errors.RequestException)

    def __init__(
        self,
        *,
        client_factory: ClientFactory | None = None,
        project: str | None = None,
        sleep: Callable[[float], None] | None = None,
        deadline_s: float = retry.DEFAULT_DEADLINE_S,
        lro_deadline_s: float = LRO_DEADLINE_S,
    ) -> None:
        super().__init__(sleep=sleep or time.sleep, deadline_s=deadline_s)
        self.api_endpoint, self.sandbox = sandbox_target()
        env_project = os.environ.get("GOOGLE_CLOUD_PROJECT")
        self.known_project = project or env_project or (SANDBOX_PROJECT if self.sandbox else None)
        self.credentials: Any = AnonymousCredentials() if self.sandbox else None
        self._factory = client_factory or self.default_client
        self._lro_deadline_s = lro_deadline_s

    def translate(self, exc: BaseException) -> CloudrunError:
        return translate(exc, self.known_project)

    def make_client(self, kind: str, region: str) -> Any:
        return self._factory(kind, region)

    @property
    def project(self) -> str:
        """Return the project: --project, $GOOGLE_CLOUD_PROJECT, or the one ADC names (resolved on first use)."""
        if not self.known_project:
            self.resolved_credentials()
        if not self.known_project:
            hint = "pass --project, set GOOGLE_CLOUD_PROJECT, or `gcloud config set project ID`"
            raise InvalidInput("no Google Cloud project chosen", hint=hint)
        return self.known_project

    def resolved_credentials(self) -> Any:
        """Return the credentials, looking up Application Default Credentials (and their project) once."""
        if self.credentials is None:
            try:
                self.credentials, found = google.auth.default(scopes=_SCOPES)
            except auth_errors.GoogleAuthError as exc:
                raise translate(exc, self.known_project) from exc
            except Exception as exc:  # noqa: BLE001 - ADC discovery probes files and the metadata server
                which = f" (project {self.known_project})" if self.known_project else ""
                raise AuthError(f"could not look up Google credentials{which}: {exc!r}", hint=CREDENTIALS_HINT) from exc
            self.known_project = self.known_project or found
        return self.credentials

    def default_client(self, kind: str, region: str) -> Any:
        """Return a new client of `kind` for `region`: aiplatform_v1 over REST, or a RestClient for the reads."""
        if kind in _REST_APIS:  # Monitoring and Cloud Quotas: to the local fake in the sandbox, else Google's hosts
            local = self.api_endpoint if self.api_endpoint and is_loopback(self.api_endpoint) else None
            return gcp_metrics.RestClient(local or _REST_APIS[kind], self.resolved_credentials())
        endpoint = self.api_endpoint or f"https://{region}-aiplatform.googleapis.com"
        client_class = getattr(aiplatform_v1, _CLIENTS[kind])
        return client_class(transport="rest", credentials=self.resolved_credentials(),
                            client_options=ClientOptions(api_endpoint=endpoint))  # fmt: skip

    def call(self, kind: str, region: str, method: str, request: Any, *, idempotent: bool = True,
             deadline_s: float | None = None, collect: bool = True) -> Any:  # fmt: skip
        """Return one SDK call's result (pages collected); errors come out translated, retried if retryable."""

        def once() -> Any:
            result = getattr(self.client(kind, region), method)(request=request, retry=None, timeout=_RPC_TIMEOUT_S)
            return list(result) if collect and method.startswith("list_") else result

        return self.run(once, idempotent=idempotent, deadline_s=deadline_s)

    def quick_call(self, kind: str, region: str, method: str, request: Any, **options: Any) -> Any:
        """Return `call(...)` to the quick deadline (best-effort reads: check, quota)."""
        return self.call(kind, region, method, request, deadline_s=self.quick_deadline_s, **options)

    def run_operation(self, kind: str, region: str, method: str, request: dict[str, Any], *,
                      missing_ok: bool = False) -> Any:  # fmt: skip
        """Start a long-running operation and return it once done; its error comes out translated."""
        try:
            started = self.call(kind, region, method, request, idempotent=not method.startswith(("upload", "create")))
        except NotFound:
            if missing_ok:
                return None
            raise
        name, waited, delay = started.operation.name, 0.0, 0.5
        while True:
            operation = self.call(kind, region, "get_operation", {"name": name})
            if operation.done:
                if operation.HasField("error"):
                    error = operation_error(operation)
                    if missing_ok and isinstance(error, NotFound):
                        return None
                    raise error
                return operation
            if waited >= self._lro_deadline_s:
                raise Transient(f"{method} did not finish within {self._lro_deadline_s:.0f} s (operation {name})")
            self.sleep(delay)
            waited, delay = waited + delay, min(delay * 2, 10.0)


def operation_error(operation: Any) -> CloudrunError:
    """Return the cloudrun error a finished operation's google.rpc.Status stands for."""
    return translate(google_errors.from_grpc_status(operation.error.code, operation.error.message))
