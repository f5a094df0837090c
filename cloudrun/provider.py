"""The provider interface every cloud adapter implements, and the lazy registry that finds them.

An adapter is loaded only when a command needs that cloud, so `cloudrun --help` and `plan` never import
a cloud SDK. A missing SDK says which extra to install.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from cloudrun.errors import CloudrunError, InvalidInput

if TYPE_CHECKING:  # annotations only: the registry below is read by `cloudrun --help`, which never needs pydantic
    from cloudrun.models import CheckResult, DeploySpec, Endpoint, EndpointRef, Removal

if TYPE_CHECKING:
    from cloudrun.stage_in_cloud import CloudCopier
    from cloudrun.staging import WeightsStore

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
    has_invocation_metrics: ClassVar[bool] = False
    can_stage_weights: ClassVar[bool] = False  # weights_store() works: `cloudrun stage` and staged deploys
    can_stage_in_cloud: ClassVar[bool] = False  # in_cloud_copier() works: `cloudrun stage --in-cloud`
    token_visible_in: ClassVar[str] = "the endpoint's environment"  # where a Hub download's HF_TOKEN is readable

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
    def delete(self, ref: EndpointRef) -> Removal:
        """Return what was removed of the deployment `ref` names, and what was looked for and already gone.

        Removes every resource of the deployment: those `ref` names and those carrying its cloudrun-deployment tag in
        `ref.region` (a deploy killed part-way leaves some without the others). Not-found is success. Refuses
        (Conflict, naming them) to touch anything that does not carry cloudrun's managed tag.
        """

    @abstractmethod
    def list_managed(self, regions: Sequence[str]) -> list[Endpoint]:
        """Return every deployment whose resources carry cloudrun's managed tag in these regions, one Endpoint each.

        Found by tag for every kind cloudrun creates, not only endpoints: a set a deploy left half-made (e.g. a
        model and no endpoint) is an Endpoint with `missing` set; one with parts lacking the tag (a look-alike) has
        `untagged` set. Resources without the tag are never listed on their own.
        """

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

    def weights_store(self, region: str) -> WeightsStore:
        """Return cloudrun's bucket of staged weights in `region` (cloudrun.staging); adapters that can stage say so
        with `can_stage_weights`."""
        raise InvalidInput(f"cloudrun cannot stage weights on {self.name} yet", hint="deploy loads from the Hub")

    def in_cloud_copier(self, region: str) -> CloudCopier:
        """Return a machine in `region` that copies weights from the Hub into the weights store (cloudrun.
        stage_in_cloud); adapters that offer one say so with `can_stage_in_cloud`."""
        raise InvalidInput(f"cloudrun cannot stage from a machine in {self.name}'s cloud yet",
                           hint="stage without --in-cloud: the copy then runs on this machine")  # fmt: skip

    def failure_error(self, endpoint: Endpoint) -> CloudrunError:
        """Return the error a failed endpoint stands for; adapters map capacity and quota reasons."""
        reason = endpoint.failure_reason or "no reason given"
        return CloudrunError(f"endpoint {endpoint.ref.name} failed in {endpoint.ref.region}: {reason}")


ProviderLoader = Callable[[str], Provider]
"""provider name -> ready adapter: the one way core code gets an adapter (tests pass their own)."""

ENTRY_POINT_GROUP = "cloudrun.providers"  # name -> "module:Class", the adapter (a Provider)
PRICES_GROUP = "cloudrun.prices"  # name -> "module:function", fetch(regions, today=) -> FetchResult (catalog refresh)
BALANCES_GROUP = "cloudrun.balances"  # name -> "module:function", sync(SyncRequest) -> [SyncResult], for credits sync
COMMANDS_GROUP = "cloudrun.commands"  # name -> "module:typer_app", added as `cloudrun NAME ...`
ENVIRONMENTS_GROUP = "cloudrun.environments"  # name -> "module:function", entered by `--NAME` (the sandbox)
# The built-in entries, as pyproject.toml registers them; used when the package metadata is missing (a source tree
# that was never installed). Strings only: nothing under providers/ is imported here.
BUILT_IN: dict[str, dict[str, str]] = {
    ENTRY_POINT_GROUP: {
        "aws": "cloudrun.providers.aws:SageMakerProvider",
        "gcp": "cloudrun.providers.gcp:VertexProvider",
        "azure": "cloudrun.providers.azure:AzureMLProvider",
    },
    PRICES_GROUP: {
        "aws": "cloudrun.providers.aws_prices:fetch",
        "gcp": "cloudrun.providers.gcp_prices:fetch",
        "azure": "cloudrun.providers.azure_prices:fetch",
    },
    BALANCES_GROUP: {
        "aws": "cloudrun.providers.aws_credits:sync",
        "azure": "cloudrun.providers.azure_credits:sync",
    },
    COMMANDS_GROUP: {
        "sandbox": "cloudrun.sandbox.cli:sandbox_app",
        "azure": "cloudrun.providers.azure_cli:azure_app",
    },
    ENVIRONMENTS_GROUP: {"sandbox": "cloudrun.sandbox.session:enter"},
}
_registries: dict[str, dict[str, str]] = {}


def registry(group: str = ENTRY_POINT_GROUP) -> dict[str, str]:
    """Return name -> "module:attribute" for one entry-point group (read once, lazily, merged over BUILT_IN).

    A fourth cloud is a package that declares `[project.entry-points."cloudrun.providers"] name = "mod:Class"`
    (and, if it has them, a price fetcher and a credit reader in the other two groups), the way llm finds its
    plugins; nothing here changes.
    """
    if group not in _registries:
        from importlib.metadata import entry_points

        found = {ep.name: ep.value for ep in entry_points(group=group)}
        _registries[group] = {**BUILT_IN.get(group, {}), **found}
    return _registries[group]


def register(name: str, target: str, group: str = ENTRY_POINT_GROUP) -> None:
    """Register "module:attribute" under a name at run time (tests, embedding code)."""
    registry(group)[name] = target


def known(name: str) -> bool:
    """Return whether a provider name has an adapter registered."""
    return name in registry()


def hook(group: str, name: str) -> Any:
    """Return the object a group registers for a provider name, importing its module (and SDK) only now."""
    targets = registry(group)
    if name not in targets:
        raise InvalidInput(f"no {group} entry for provider {name!r}", hint=f"available: {', '.join(sorted(targets))}")
    module_name, _, attribute = targets[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("cloudrun"):
            raise
        if name in BUILT_IN.get(group, {}):  # each built-in's extra has its name: aws, gcp, azure, sandbox
            message = f"cloudrun's {name} extra is not installed (no module named {exc.name!r})"
            raise InvalidInput(message, hint=f"pip install 'cloudrun-llm[{name}]'") from exc
        message = f"{name} needs the {exc.name} package, which is not installed"
        raise InvalidInput(message, hint=f"install the package that provides {name}") from exc
    return getattr(module, attribute)


def provider_class(name: str) -> type[Provider]:
    """Return the adapter class for a provider name, importing it (and its SDK) only now."""
    if not known(name):
        available = ", ".join(sorted(registry()))
        raise InvalidInput(f"no deploy adapter for provider {name!r}", hint=f"available: {available}")
    return hook(ENTRY_POINT_GROUP, name)


def load(name: str, **options: Any) -> Provider:
    """Return a ready adapter instance for a provider name."""
    return provider_class(name)(**options)
