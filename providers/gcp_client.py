"""How the Vertex adapter reaches Google: which host, which credentials, which project; one call, one operation.

Hosts: aiplatform_v1 clients over REST at https://REGION-aiplatform.googleapis.com; Cloud Monitoring and Cloud
Quotas through gcp_metrics.RestClient at Google's hosts. CLOUDRUN_VERTEX_API_ENDPOINT sends every aiplatform
call to another URL and, when it is loopback, the Monitoring and Quotas reads too.

Credentials and project: Application Default Credentials, looked up on first use (never at construction);
the project is the one given, else $GOOGLE_CLOUD_PROJECT, else the one ADC names. CLOUDRUN_SANDBOX_CREDENTIALS=1
means anonymous credentials and the project "cloudrun-sandbox", and is refused unless the endpoint is loopback.

Retries: `VertexSession.call` passes `retry=None` to the SDK and retries through `cloudrun.retry` what
`cloudrun.errors` marks retryable; a create is never repeated after a 5xx. `run_operation` polls a long-running
operation with `get_operation` to a deadline. Errors come out through the adapter's `translate`, which this
module takes as an argument so that the error table stays in one place (gcp.py).
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
from cloudrun.errors import AuthError, CloudrunError, InvalidInput, NotFound, Transient
from cloudrun.loopback import is_loopback
from cloudrun.provider import ClientFactory

from . import gcp_metrics

SANDBOX_ENDPOINT_ENV = "CLOUDRUN_VERTEX_API_ENDPOINT"
SANDBOX_CREDENTIALS_ENV = "CLOUDRUN_SANDBOX_CREDENTIALS"
SANDBOX_PROJECT = "cloudrun-sandbox"
CREDENTIALS_HINT = "run `gcloud auth application-default login` (or set GOOGLE_APPLICATION_CREDENTIALS to a key file)"
LRO_DEADLINE_S = 900.0  # upload, create, undeploy and delete take seconds to minutes; deploy is not waited
_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
_CLIENTS = {"model": "ModelServiceClient", "endpoint": "EndpointServiceClient", "prediction": "PredictionServiceClient"}
_REST_APIS = {"monitoring": gcp_metrics.MONITORING_URL, "quotas": gcp_metrics.QUOTAS_URL}  # no GAPIC REST client
_RPC_TIMEOUT_S = 60.0

Translate = Callable[..., CloudrunError]
"""(exception, project=None) -> the cloudrun error it stands for: the adapter's `_translate`."""


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


class VertexSession:
    """One project's way to Vertex: a client per (kind, region), credentials and project resolved on first use."""

    def __init__(
        self,
        translate: Translate,
        *,
        client_factory: ClientFactory | None = None,
        project: str | None = None,
        sleep: Callable[[float], None] | None = None,
        deadline_s: float = retry.DEFAULT_DEADLINE_S,
        lro_deadline_s: float = LRO_DEADLINE_S,
    ) -> None:
        self.api_endpoint, self.sandbox = sandbox_target()
        env_project = os.environ.get("GOOGLE_CLOUD_PROJECT")
        self.known_project = project or env_project or (SANDBOX_PROJECT if self.sandbox else None)
        self.credentials: Any = AnonymousCredentials() if self.sandbox else None
        self._translate = translate
        self._factory = client_factory or self.default_client
        self._sleep = sleep or time.sleep
        self._deadline_s = deadline_s
        self._lro_deadline_s = lro_deadline_s
        self._clients: dict[tuple[str, str], Any] = {}

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
                raise self._translate(exc, self.known_project) from exc
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

    def client(self, kind: str, region: str) -> Any:
        """Return the client of `kind` for `region`, made by the factory once."""
        if (kind, region) not in self._clients:
            self._clients[kind, region] = self._factory(kind, region)
        return self._clients[kind, region]

    def call(self, kind: str, region: str, method: str, request: Any, *, idempotent: bool = True,
             deadline_s: float | None = None, collect: bool = True) -> Any:  # fmt: skip
        """Return one SDK call's result (pages collected); errors come out translated, retried if retryable."""

        def attempt() -> Any:
            try:
                result = getattr(self.client(kind, region), method)(request=request, retry=None, timeout=_RPC_TIMEOUT_S)
                return list(result) if collect and method.startswith("list_") else result
            except (google_errors.GoogleAPICallError, auth_errors.GoogleAuthError, http_errors.RequestException) as exc:
                error = self._translate(exc, self.known_project)
                if not idempotent and isinstance(error, Transient):
                    error.retryable = False  # the create may have happened: roll back, never repeat blindly
                raise error from exc

        return retry.call(attempt, deadline_s=self._deadline_s if deadline_s is None else deadline_s,
                          sleep=self._sleep)  # fmt: skip

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
                    error = self._translate(operation_status(operation))
                    if missing_ok and isinstance(error, NotFound):
                        return None
                    raise error
                return operation
            if waited >= self._lro_deadline_s:
                raise Transient(f"{method} did not finish within {self._lro_deadline_s:.0f} s (operation {name})")
            self._sleep(delay)
            waited, delay = waited + delay, min(delay * 2, 10.0)


def operation_status(operation: Any) -> google_errors.GoogleAPICallError:
    """Return the api_core exception that a finished operation's google.rpc.Status stands for."""
    return google_errors.from_grpc_status(operation.error.code, operation.error.message)
