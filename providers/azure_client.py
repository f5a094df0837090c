"""How the Azure adapter gets an MLClient: which workspace, which credential, which cloud.

Workspace: the constructor's arguments (CLI --subscription/--resource-group/--workspace), else the
environment (AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP, AZUREML_WORKSPACE_NAME), else Azure ML's
config.json convention (`MLClient.from_config`: ./config.json or ./.azureml/config.json, searched upwards).

Credential: DefaultAzureCredential (environment, workload identity, managed identity, Azure CLI `az login`,
...). With CLOUDRUN_SANDBOX_CREDENTIALS=1 a static fake token instead, accepted only together with a
loopback CLOUDRUN_AZURE_ARM_ENDPOINT, so a fake token can never be offered to a real endpoint.

Local endpoint: CLOUDRUN_AZURE_ARM_ENDPOINT=https://127.0.0.1:PORT registers a custom cloud whose every
endpoint (ARM, AAD, ML resource, registry discovery) is that URL. Custom clouds live in a process-global
registry inside azure-ai-ml and cannot be redefined, so each client gets a cloud of its own unique name.
Telemetry is always off (enable_telemetry=False): the CLI sends nothing to Application Insights.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cloudrun.errors import InvalidInput
from cloudrun.sandbox.guard import is_loopback

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
    from azure.identity import DefaultAzureCredential

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
    import requests

    token = token_credential.get_token(f"{target.arm_url}/.default").token
    response = requests.get(
        target.arm_url + path, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=timeout_s
    )
    if response.status_code >= 400:
        raise ArmRestError.from_response(response)
    return response.json()


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
