"""The Azure adapter's one call layer: which workspace, credential and cloud; Azure's one error table; our retries.

Workspace: the constructor's arguments (--subscription/--resource-group/--workspace), else AZURE_SUBSCRIPTION_ID,
AZURE_RESOURCE_GROUP, AZUREML_WORKSPACE_NAME, else Azure ML's config.json (`MLClient.from_config`, searched upwards).
Credential: DefaultAzureCredential; with CLOUDRUN_SANDBOX_CREDENTIALS=1 a static fake token, accepted only with a
loopback CLOUDRUN_AZURE_ARM_ENDPOINT, which registers a custom cloud (uniquely named: azure-ai-ml's registry of
clouds is process-global and cannot redefine one) whose every endpoint is that URL. Telemetry is always off.

Calls: `AzureSession` (a cloudrun.session.CloudSession): a lazy MLClient, every call translated by `translate`
(also used by the price fetcher and the credit reader) and retried by `cloudrun.retry`, long-running operations
started with stdout redirected and azure-ai-ml's per-poll dot removed (`quiet_polling`). No Azure SDK is imported
at module import: the retail prices API needs none.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

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
from cloudrun.session import CloudSession

from .common import CONFLICT_HINT, quota_hint

ARM_ENDPOINT_ENV = "CLOUDRUN_AZURE_ARM_ENDPOINT"
SANDBOX_CREDENTIALS_ENV = "CLOUDRUN_SANDBOX_CREDENTIALS"
WORKSPACE_ENV = ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZUREML_WORKSPACE_NAME")
PUBLIC_ARM = "https://management.azure.com"
CREDENTIALS_HINT = (
    "run `az login` (or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET), and say which workspace to "
    "use: --subscription/--resource-group/--workspace, AZURE_SUBSCRIPTION_ID/AZURE_RESOURCE_GROUP/"
    "AZUREML_WORKSPACE_NAME, or an Azure ML config.json in this folder"
)
# The SDK's own retries are off: cloudrun.retry is the one retry layer (azure-core RetryPolicy reads retry_total).
SDK_OPTIONS: dict[str, Any] = {"retry_total": 0, "enable_telemetry": False, "show_progress": False}
SCORING_TIMEOUT_S = 190.0  # the endpoint gives up at 180 s (request_timeout_ms maximum)

_ERRORS: dict[str, type[CloudrunError]] = {
    code.lower(): kind
    for kind, codes in (
        (RateLimited, "TooManyRequests Throttled RequestThrottled"),
        (QuotaExceeded, "QuotaExceeded OutOfQuota InsufficientQuota"),
        (CapacityUnavailable, "OutOfCapacity SkuNotAvailable AllocationFailed ZonalAllocationFailed"),
        (AuthError, "AuthenticationFailed AuthorizationFailed InvalidAuthenticationToken ExpiredAuthenticationToken"),
        (NotFound, "ResourceNotFound NotFound ResourceGroupNotFound WorkspaceNotFound"),
        (Transient, "InternalServerError ServiceUnavailable GatewayTimeout"),
    )
    for code in codes.split()
}
# Codes Azure overloads: only the message tells quota or capacity from plain bad input or a conflict.
_QUOTA_MARKERS = ("quota",)
_CAPACITY_MARKERS = ("not enough capacity", "outofcapacity", "skunotavailable",
                     "lack of azure machine learning capacity")  # fmt: skip
_BY_STATUS = {429: RateLimited, 401: AuthError, 403: AuthError, 404: NotFound, 409: Conflict, 400: InvalidInput}
QUOTA_HINT = quota_hint(
    "request more vCPUs for this VM family in Azure ML (portal: Quotas; Free Trial subscriptions must upgrade first)",
    "azure",
)
HINTS: dict[type[CloudrunError], str] = {
    QuotaExceeded: QUOTA_HINT,
    CapacityUnavailable: "Azure ML has no capacity for this VM size here now: try another instance type or region",
    Conflict: CONFLICT_HINT,
}


@dataclass(frozen=True)
class Target:
    """Where the adapter's calls go: the workspace (None parts come from config.json) and the ARM URL."""

    subscription_id: str | None
    resource_group: str | None
    workspace: str | None
    arm_url: str = PUBLIC_ARM
    sandbox: bool = False

    @property
    def complete(self) -> bool:
        return bool(self.subscription_id and self.resource_group and self.workspace)

    def describe(self) -> str:
        if not self.complete:
            return "the workspace in ./config.json or ./.azureml/config.json"
        return f"workspace {self.workspace} (resource group {self.resource_group}, subscription {self.subscription_id})"


def resolve(
    subscription_id: str | None,
    resource_group: str | None,
    workspace: str | None,
    environ: Mapping[str, str] | None = None,
) -> Target:
    """Return the target from arguments, else the environment; refuse sandbox credentials off this machine."""
    environ = os.environ if environ is None else environ
    sub_env, rg_env, ws_env = (environ.get(name) or None for name in WORKSPACE_ENV)
    arm_url = (environ.get(ARM_ENDPOINT_ENV) or "").rstrip("/")
    sandbox = environ.get(SANDBOX_CREDENTIALS_ENV, "") not in ("", "0")
    if sandbox and not (arm_url and is_loopback(arm_url)):
        raise InvalidInput(
            f"{SANDBOX_CREDENTIALS_ENV}=1 sends a fake token, so it is only accepted with a loopback "
            f"{ARM_ENDPOINT_ENV} (got {arm_url or 'none'})",
            hint=f"point {ARM_ENDPOINT_ENV} at the sandbox (https://127.0.0.1:PORT) or unset {SANDBOX_CREDENTIALS_ENV}",
        )
    if arm_url and not arm_url.startswith("https://"):
        raise InvalidInput(f"{ARM_ENDPOINT_ENV} must be an https URL (azure-core sends tokens only over TLS)")
    return Target(
        subscription_id=subscription_id or sub_env,
        resource_group=resource_group or rg_env,
        workspace=workspace or ws_env,
        arm_url=arm_url or PUBLIC_ARM,
        sandbox=sandbox,
    )


class StaticTokenCredential:
    """A TokenCredential with a fixed fake token, for the sandbox only (see `resolve`)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("cloudrun-sandbox-token", int(time.time()) + 3600)


def credential(target: Target) -> Any:
    """Return the credential for this target: the sandbox's static token or DefaultAzureCredential."""
    if target.sandbox:
        return StaticTokenCredential()
    return default_credential()


def default_credential() -> Any:
    """Return DefaultAzureCredential, with its failure log silenced: when every credential in the chain fails it logs
    the whole story (several lines on stderr, even for a user who never configured Azure) and then raises it, and
    cloudrun reports what it raises in one line (azure-identity `_credentials/chained.py`: `_LOGGER.warning(message)`
    before `raise ClientAuthenticationError(message=message)`)."""
    from azure.identity import DefaultAzureCredential

    if not os.environ.get("CLOUDRUN_DEBUG"):  # --debug shows it all
        logging.getLogger("azure.identity._credentials.chained").setLevel(logging.ERROR)
    return DefaultAzureCredential()


def cloud_options(target: Target) -> dict[str, Any]:
    """Return MLClient keyword arguments for a custom cloud at target.arm_url, or {} for public Azure."""
    if target.arm_url == PUBLIC_ARM:
        return {}
    url = target.arm_url + "/"
    metadata = {
        "azure_portal": url,
        "resource_manager": url,
        "active_directory": url,
        "aml_resource_id": url,
        "storage_endpoint": "localhost",
        "registry_discovery_endpoint": url,
    }
    return {"cloud": f"CloudrunLocal-{uuid.uuid4().hex[:12]}", "cloud_metadata": metadata}


def ml_client(target: Target, token_credential: Any) -> Any:
    """Return an MLClient for the target's workspace (from config.json where the target leaves it open)."""
    from azure.ai.ml import MLClient

    options = {**SDK_OPTIONS, **cloud_options(target)}
    if target.complete:
        return MLClient(token_credential, target.subscription_id, target.resource_group, target.workspace, **options)
    return MLClient.from_config(token_credential, **options)


def arm_get(target: Target, token_credential: Any, path: str, params: dict[str, str], timeout_s: float = 30.0) -> Any:
    """Return the JSON of one ARM GET (used for Azure Monitor metrics, which MLClient does not cover)."""
    token = token_credential.get_token(f"{target.arm_url}/.default").token
    return rest_get(target.arm_url + path, token, params, timeout_s)


def rest_get(url: str, token: str, params: dict[str, str], timeout_s: float = 30.0) -> Any:
    """Return the JSON of one GET with a bearer token; an ARM error answer raises ArmRestError."""
    import requests

    response = requests.get(url, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=timeout_s)
    if response.status_code >= 400:
        raise ArmRestError.from_response(response)
    return response.json()


def score(url: str, key: str, payload: dict[str, Any], timeout_s: float = SCORING_TIMEOUT_S) -> Any:
    """Return the response to a JSON POST to a scoring URI with the endpoint's key; an error raises ArmRestError."""
    import requests

    response = requests.post(url, json=payload, timeout=timeout_s, headers={"Authorization": f"Bearer {key}"})
    if response.status_code >= 400:
        raise ArmRestError.from_response(response)
    return response


def first_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return str(text).strip().splitlines()[0] if str(text).strip() else type(exc).__name__


def error_fields(exc: Exception) -> tuple[int, str, str, str | None] | None:
    """Return (status, code, message, Retry-After) of an ARM error answer (ours or azure-core's), else None."""
    from azure.core.exceptions import HttpResponseError

    if isinstance(exc, ArmRestError):
        return exc.status_code, exc.code, exc.message, exc.retry_after
    if not isinstance(exc, HttpResponseError):
        return None
    error = exc.error
    message = (error.message if error else "") or first_line(exc)
    retry_after = exc.response.headers.get("Retry-After") if exc.response is not None else None
    return exc.status_code or 0, (error.code if error else "") or "", message, retry_after


class ArmRestError(Exception):
    """An ARM error answer to one of our own REST calls, shaped like azure-core's HttpResponseError."""

    def __init__(self, status_code: int, code: str, message: str, retry_after: str | None = None) -> None:
        super().__init__(f"({code}) {message}")
        self.status_code, self.code, self.message, self.retry_after = status_code, code, message, retry_after

    @classmethod
    def from_response(cls, response: Any) -> ArmRestError:
        try:
            error = response.json().get("error") or {}
        except ValueError:
            error = {}
        return cls(
            response.status_code,
            error.get("code", ""),
            error.get("message") or response.text[:200],
            response.headers.get("Retry-After"),
        )


def translate(exc: BaseException, target: Target | None = None) -> CloudrunError:
    """Return the cloudrun error that an azure-core / azure-ai-ml / REST exception stands for."""
    where = f" ({target.describe()})" if target else ""
    if isinstance(exc, ArmRestError):  # our own REST calls: no SDK needed to read them
        return _from_answer(exc.status_code, exc.code, exc.message, exc.retry_after, where)
    import requests
    from azure.ai.ml.exceptions import MlException
    from azure.core import exceptions as azure_errors

    unreachable = (azure_errors.ServiceRequestError, azure_errors.ServiceResponseError, requests.ConnectionError,
                   requests.Timeout)  # fmt: skip
    if isinstance(exc, azure_errors.ClientAuthenticationError):
        return AuthError(f"Azure refused the credentials{where}: {first_line(exc)}", hint=CREDENTIALS_HINT)
    if isinstance(exc, MlException):
        return InvalidInput(f"azure-ai-ml refused the request before sending it: {first_line(exc)}")
    if isinstance(exc, requests.exceptions.SSLError):
        return CloudrunError(f"TLS failed: {exc}", hint="for the sandbox, set REQUESTS_CA_BUNDLE to its certificate")
    if isinstance(exc, unreachable):
        return Transient(f"could not reach Azure: {first_line(exc)}")
    fields = error_fields(exc)  # type: ignore[arg-type]
    if fields is None:
        return CloudrunError(f"Azure SDK error: {exc}")
    return _from_answer(*fields, where)


def _from_answer(status: int, code: str, message: str, retry_after: str | None, where: str) -> CloudrunError:
    kind = error_class(code, message, status)
    text = f"({code}) {message}" if code else message
    if kind is RateLimited:
        return RateLimited(text, retry_after=_seconds(retry_after))
    if kind is AuthError:
        return AuthError(f"{text}{where}", hint=CREDENTIALS_HINT)
    return kind(text, hint=HINTS.get(kind))


def error_class(code: str, message: str, status: int) -> type[CloudrunError]:
    """Return the cloudrun error class for an ARM error code, refined by its message where Azure overloads one."""
    if code.lower() in _ERRORS:
        return _ERRORS[code.lower()]
    lowered = f"{code} {message}".lower()
    if any(marker in lowered for marker in _CAPACITY_MARKERS):
        return CapacityUnavailable
    if any(marker in lowered for marker in _QUOTA_MARKERS):
        return QuotaExceeded
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return Transient if status >= 500 else CloudrunError


def failure_kind(reason: str) -> type[CloudrunError]:
    """Return the error class a failed deployment's reason (its first line) stands for: quota, capacity or neither."""
    kind = error_class("", reason.splitlines()[0] if reason else "", 0)
    return kind if kind in (QuotaExceeded, CapacityUnavailable) else CloudrunError


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def sdk_errors() -> tuple[type[BaseException], ...]:
    """Return the exception types the Azure SDKs and our REST calls raise (what `Session` translates)."""
    import requests
    from azure.ai.ml.exceptions import MlException
    from azure.core.exceptions import AzureError

    return (AzureError, MlException, ArmRestError, requests.RequestException)


def quiet_polling() -> None:
    """Stop azure-ai-ml's pollers printing a dot to stdout on every poll, for the whole process.

    AzureMLPolling.update_status is its parent's plus `print(".")`, run in the poller's own thread, which
    keeps polling after create() returned; no SDK option turns it off. Removing the override leaves the
    parent's (azure-mgmt-core ARMPolling) behaviour intact. Idempotent."""
    try:
        from azure.ai.ml._utils._azureml_polling import AzureMLPolling
    except ImportError:  # moved in a later azure-ai-ml: Session.begin's stdout redirect still covers the start
        return
    if "update_status" in vars(AzureMLPolling):
        delattr(AzureMLPolling, "update_status")


class AzureSession(CloudSession):
    """The adapter's calls to one target: lazy client and credential, translated errors, the one retry layer."""

    def __init__(
        self,
        target: Target,
        *,
        service: str,
        client_factory: Callable[[str, str], Any] | None = None,
        credential: Any = None,
        sleep: Callable[[float], None] | None = None,
        deadline_s: float = retry.DEFAULT_DEADLINE_S,
    ) -> None:
        super().__init__(sleep=sleep, deadline_s=deadline_s)
        self.target, self._service = target, service
        self._factory, self._credential = client_factory, credential
        self.sdk_errors = sdk_errors()
        quiet_polling()

    def translate(self, exc: BaseException) -> CloudrunError:
        return translate(exc, self.target)

    def make_client(self, kind: str, region: str) -> Any:
        """Return the MLClient (from the client factory if one was given)."""
        if self._factory is not None:
            return self._factory(kind, region)
        return ml_client(self.target, self.token_credential())

    def call(self, fn: Callable[..., Any], *args: Any, deadline_s: float | None = None) -> Any:
        """Return fn(*args); SDK errors come out translated, retried if retryable."""
        return self.run(fn, *args, deadline_s=deadline_s)

    def begin(self, start: Callable[[], Any]) -> Any:
        """Return the poller of a long-running operation started by `start`, printing nothing to stdout."""

        def quiet_start() -> Any:
            with contextlib.redirect_stdout(io.StringIO()):  # nothing the SDK prints while starting reaches stdout
                return start()

        return self.call(quiet_start)

    def wait(self, poller: Any, what: str, deadline_s: float) -> None:
        """Return once the poller is done; raise the translated error, or CloudrunError after `deadline_s`."""
        try:
            poller.wait(timeout=deadline_s)
        except self._errors as exc:
            raise self.translate(exc) from exc
        if not poller.done():
            raise CloudrunError(f"{what} was not ready after {deadline_s:.0f} s")

    def ml(self) -> Any:
        """Return the MLClient, made on first use."""
        try:
            return self.client(self._service, "")
        except self.sdk_errors as exc:
            error = self.translate(exc)
            raise type(error)(f"cannot use {self.target.describe()}: {error.message}", hint=CREDENTIALS_HINT) from exc

    def token_credential(self) -> Any:
        """Return the token credential (given, or made for the target on first use)."""
        if self._credential is None:
            self._credential = credential(self.target)
        return self._credential
