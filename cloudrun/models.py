"""The data that flows between cloudrun's layers: the plain planning records (cloudrun.plain, re-exported here) and
the deployment records a provider is asked for and answers with, which pydantic validates.

Money is Decimal (USD), time is timezone-aware UTC, memory is bytes. Conversions to GB and floats
happen only at the edges (tables and JSON).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

from cloudrun.plain import DEPLOYMENT_TAG as DEPLOYMENT_TAG
from cloudrun.plain import MANAGED_TAG as MANAGED_TAG
from cloudrun.plain import PROVIDERS as PROVIDERS
from cloudrun.plain import SERVICES as SERVICES
from cloudrun.plain import CreditGrant as CreditGrant
from cloudrun.plain import CreditUse as CreditUse
from cloudrun.plain import Fit as Fit
from cloudrun.plain import Limits as Limits
from cloudrun.plain import MemoryNeed as MemoryNeed
from cloudrun.plain import Offer as Offer
from cloudrun.plain import Plan as Plan
from cloudrun.plain import PlanOption as PlanOption
from cloudrun.plain import Precision as Precision


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)

# --- Deployments: what the deployer asks a provider for, and what it gets back ---------------------------



class EndpointState(str, Enum):
    creating = "creating"
    in_service = "in_service"
    updating = "updating"
    failed = "failed"
    deleting = "deleting"
    deleted = "deleted"


class DeploySpec(_Frozen):
    """Everything a provider needs to create one endpoint serving one model."""

    name: str = Field(description="deployment name: lowercase letters, digits, '-'; legal on every cloud")
    model_id: str
    provider: str
    service: str
    region: str
    instance_type: str
    gpu_count: int
    tensor_parallel: int
    context: int = Field(description="max model length given to vLLM")
    precision: Precision
    spot: bool = False
    instance_count: int = 1
    dtype: str = Field(default="bf16", description="activation dtype the container is told: bf16 or fp16")
    quantization: str | None = Field(default=None, description="vLLM --quantization to apply as it loads, or None")
    checkpoint: str = Field(default="", description="the checkpoint the container loads (default: model_id)")
    startup_estimate_s: int = Field(default=0, description="pessimistic seconds from start to serving (0: unknown)")
    weights_uri: str = Field(default="", description="staged weights (cloudrun stage) loaded instead of the Hub's")

    @property
    def served_model(self) -> str:
        return self.checkpoint or self.model_id

    @property
    def tags(self) -> dict[str, str]:
        return {MANAGED_TAG: "true", DEPLOYMENT_TAG: self.name}


class EndpointRef(_Frozen):
    """How to find a deployment's resources again: provider, region and the cloud's own ids."""

    provider: str
    region: str
    name: str
    endpoint_id: str = Field(description="the cloud's id or name of the endpoint resource")
    resources: dict[str, str] = Field(default_factory=dict, description="other resources, e.g. model, config")


class Endpoint(_Frozen):
    """A managed endpoint as the cloud describes it now."""

    ref: EndpointRef
    state: EndpointState
    instance_type: str | None = None
    instance_count: int | None = None
    created_at: datetime | None = None
    failure_reason: str | None = None
    url: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    missing: tuple[str, ...] = Field(
        default=(), description="parts a finished deployment has and this one lacks: a deploy stopped part-way"
    )
    untagged: tuple[str, ...] = Field(
        default=(), description="parts without cloudrun's managed tag: a look-alike, never adopted or deleted"
    )

    @property
    def incomplete(self) -> bool:
        """Return whether a deploy stopped part-way here (e.g. a model and no endpoint): nothing can serve."""
        return bool(self.missing)


class Removal(_Frozen):
    """What one delete did in the cloud: the resources it removed (or started removing), and those it looked for
    and found already gone."""

    removed: tuple[str, ...] = ()
    not_found: tuple[str, ...] = ()


class CheckResult(_Frozen):
    """Whether a provider is usable from here, and what to do if not."""

    provider: str
    sdk_installed: bool
    credentials_ok: bool
    identity: str | None = None
    detail: str = ""
    hint: str | None = None


class DeploymentStatus(str, Enum):
    intent = "intent"  # written before any cloud call: a crash leaves this behind
    creating = "creating"
    in_service = "in_service"
    failed = "failed"
    deleting = "deleting"
    deleted = "deleted"
    vanished = "vanished"  # the cloud no longer has it, and cloudrun did not delete it

    # The groups every module asks about, defined once.
    @property
    def gone(self) -> bool:
        """Deleted by cloudrun, or vanished from the cloud: final, its name may be reused."""
        return self in (DeploymentStatus.deleted, DeploymentStatus.vanished)

    @property
    def live(self) -> bool:
        """Anything not gone: something may exist in the cloud (an intent row too: a crash may have left it)."""
        return not self.gone

    @property
    def billable(self) -> bool:
        """An endpoint that bills and that teardown, watch and `down --all` remove (a failed one still bills)."""
        return self in (DeploymentStatus.creating, DeploymentStatus.in_service, DeploymentStatus.failed)

    @property
    def running(self) -> bool:
        """Started and not yet failed or removed: its bill is still open (a deleting one bills until it is gone)."""
        return self in (DeploymentStatus.creating, DeploymentStatus.in_service, DeploymentStatus.deleting)


class Deployment(_Frozen):
    """cloudrun's own record of one deployment (the state store's row)."""

    name: str
    model_id: str
    provider: str
    service: str
    region: str
    instance_type: str
    gpu_count: int
    instance_count: int = 1
    tensor_parallel: int = 1
    context: int = 0
    precision: str = "bf16"
    spot: bool = False
    price_per_hour_usd: Decimal
    price_source: str
    status: DeploymentStatus
    ref: EndpointRef | None = None
    created_at: datetime
    ready_at: datetime | None = None
    deleted_at: datetime | None = None
    failure_reason: str | None = None
    adopted: bool = False
    owner: str | None = None  # who deployed it (OS user or deploy --owner); None: adopted, or older than owners

    def cost_so_far(self, now: datetime) -> Decimal:
        """Return price x hours from creation until deletion (or now); the endpoint bills from creation."""
        end = self.deleted_at or now
        seconds = max(Decimal(0), Decimal((end - self.created_at).total_seconds()))
        return self.price_per_hour_usd * seconds / Decimal(3600)
