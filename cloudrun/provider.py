"""The provider interface every cloud adapter implements, and the lazy registry that finds them.

An adapter is loaded only when a command needs that cloud, so `cloudrun --help` and `plan` never import
a cloud SDK. A missing SDK says which extra to install.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar

from cloudrun.errors import CloudrunError, InvalidInput
from cloudrun.models import CheckResult, DeploySpec, Endpoint, EndpointRef

ClientFactory = Callable[[str, str], Any]
"""(sdk service name, region) -> client: the seam tests use to hand an adapter a faked client."""


class Provider(ABC):
    """One managed inference service on one cloud. Only cloudrun models leave an adapter."""

    name: ClassVar[str]
    service: ClassVar[str]
    extra: ClassVar[str]  # the pip extra that installs this provider's SDK
    # Capability flags, each with the reason for a gap in the adapter's docstring.
    supports_spot: ClassVar[bool] = False
    has_quota_api: ClassVar[bool] = False
    has_live_balances: ClassVar[bool] = False
    has_invocation_metrics: ClassVar[bool] = False

    @abstractmethod
    def check(self) -> CheckResult:
        """Return who we are on this cloud and whether deploys can work, without changing anything."""

    @abstractmethod
    def quota(self, instance_type: str, region: str, *, spot: bool = False) -> int | None:
        """Return how many instances of this type the account may run as endpoints, or None if unknown.

        `spot` asks for the spot (preemptible) quota, which is separate where the service has spot.
        """

    @abstractmethod
    def create(self, spec: DeploySpec) -> EndpointRef:
        """Start creating the endpoint and everything it needs; return as soon as the cloud accepted it.

        On an error after some resources were created, remove those before raising.
        """

    @abstractmethod
    def render_requests(self, spec: DeploySpec) -> list[tuple[str, dict[str, Any]]]:
        """Return the (operation, parameters) requests `create(spec)` would send, sending nothing (dry run).

        Secrets are redacted; anything only known after a call (e.g. a role to be created) is a placeholder.
        """

    @abstractmethod
    def describe(self, ref: EndpointRef) -> Endpoint:
        """Return the endpoint's current state; raise NotFound if it is gone."""

    @abstractmethod
    def invoke(self, ref: EndpointRef, payload: dict[str, Any]) -> dict[str, Any]:
        """Send an OpenAI-style chat payload to the endpoint and return the parsed response."""

    @abstractmethod
    def delete(self, ref: EndpointRef) -> None:
        """Remove the endpoint and the resources created with it. Not-found is success.

        Refuses (Conflict) to touch anything that does not carry cloudrun's managed tag.
        """

    @abstractmethod
    def list_managed(self, regions: Sequence[str]) -> list[Endpoint]:
        """Return the endpoints in these regions that carry cloudrun's managed tag, and only those."""

    @abstractmethod
    def invocations(self, ref: EndpointRef, since: datetime) -> int | None:
        """Return how many requests the endpoint served since `since`; 0 when the cloud has no data.

        None means the metrics could not be read (so idleness is unknown, never assumed).
        """

    def unavailable_reason(self, spec: DeploySpec) -> str | None:
        """Return why this adapter cannot deploy `spec` as configured (checked before anything is created), or None.

        The deployer skips such a placement with the reason and tries the next one.
        """
        return None

    def failure_error(self, endpoint: Endpoint) -> CloudrunError:
        """Return the error a failed endpoint stands for; adapters map capacity and quota reasons."""
        reason = endpoint.failure_reason or "no reason given"
        return CloudrunError(f"endpoint {endpoint.ref.name} failed in {endpoint.ref.region}: {reason}")


ProviderLoader = Callable[[str], Provider]
"""provider name -> ready adapter: the one way core code gets an adapter (tests pass their own)."""

ENTRY_POINT_GROUP = "cloudrun.providers"
# The built-in adapters, as pyproject.toml registers them under ENTRY_POINT_GROUP; used only when the package
# metadata is missing (running from a source tree that was never installed). Strings: nothing is imported here.
BUILT_IN = {
    "aws": "cloudrun.providers.aws:SageMakerProvider",
    "gcp": "cloudrun.providers.gcp:VertexProvider",
    "azure": "cloudrun.providers.azure:AzureMLProvider",
}
_registry: dict[str, str] | None = None


def registry() -> dict[str, str]:
    """Return provider name -> "module:Class" from the `cloudrun.providers` entry points (read once, lazily).

    A fourth cloud is a package that declares `[project.entry-points."cloudrun.providers"] name = "mod:Class"`,
    the way llm finds its plugins; nothing here changes.
    """
    global _registry
    if _registry is None:
        from importlib.metadata import entry_points

        found = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
        _registry = {**BUILT_IN, **found}
    return _registry


def register(name: str, target: str) -> None:
    """Register a provider class by "module:Class" at run time (tests, embedding code)."""
    registry()[name] = target


def known(name: str) -> bool:
    """Return whether a provider name has an adapter registered."""
    return name in registry()


def provider_class(name: str) -> type[Provider]:
    """Return the adapter class for a provider name, importing it (and its SDK) only now."""
    targets = registry()
    if name not in targets:
        raise InvalidInput(f"no deploy adapter for provider {name!r}", hint=f"available: {', '.join(sorted(targets))}")
    module_name, _, class_name = targets[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("cloudrun"):
            raise
        hint = f"pip install 'cloudrun-llm[{name}]'" if name in BUILT_IN else f"install the package providing {name}"
        message = f"the {name} provider needs the {exc.name} package, which is not installed"
        raise InvalidInput(message, hint=hint) from exc
    return getattr(module, class_name)


def load(name: str, **options: Any) -> Provider:
    """Return a ready adapter instance for a provider name."""
    return provider_class(name)(**options)
