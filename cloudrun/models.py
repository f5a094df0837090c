"""The data that flows between cloudrun's layers: sizing, catalog, credits, plan.

Money is Decimal (USD), time is timezone-aware UTC, memory is bytes. Conversions to GB and floats
happen only at the edges (tables and JSON).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Precision(str, Enum):
    bf16 = "bf16"
    fp8 = "fp8"
    int8 = "int8"
    int4 = "int4"


PROVIDERS = ("aws", "gcp", "azure")
SERVICES = {"aws": "sagemaker", "gcp": "vertex", "azure": "azureml"}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class MemoryNeed(_Frozen):
    """What serving one model needs, before it meets a GPU: the output of `cloudrun size`."""

    id: str
    architecture: str
    params: int
    precision: Precision
    weights_bytes: int
    kv_bytes_per_token: int
    context: int
    concurrency: int
    required_bytes: int = Field(description="weights + KV cache for context x concurrency + one GPU's overhead")
    attention_heads: int = Field(description="tensor parallelism must divide this (vLLM)")
    kv_heads: int | None = Field(description="KV heads sharded by tensor parallelism; None for MLA (replicated)")
    max_context: int
    overhead_bytes_per_gpu: int
    method: str = Field(default="16-bit", description="how the served weights are made: see cloudrun.serving")
    checkpoint: str = Field(default="", description="the Hugging Face id the container loads (default: id)")
    load_bytes: int = Field(default=0, description="weight bytes on the GPUs while loading (default: weights_bytes)")
    download_bytes: int = Field(default=0, description="checkpoint bytes the container downloads")
    unservable: str = Field(default="", description="why no image can serve this precision as asked, or ''")

    @property
    def loaded_checkpoint(self) -> str:
        return self.checkpoint or self.id

    @property
    def peak_load_bytes(self) -> int:
        return max(self.load_bytes, self.weights_bytes)

    @property
    def kv_cache_bytes(self) -> int:
        return self.kv_bytes_per_token * self.context * self.concurrency


@dataclass(frozen=True, slots=True)
class Offer:
    """One instance type, in one region, of one managed inference service, at a dated price.

    A plain dataclass, not pydantic: catalogs hold tens of thousands of rows and catalog.py validates
    every field itself.
    """

    provider: str
    service: str
    region: str
    instance_type: str
    gpu_model: str
    gpu_count: int
    gpu_memory_gb: Decimal  # per GPU, decimal GB as marketed
    vcpus: int
    memory_gb: Decimal
    price_per_hour_usd: Decimal
    spot_price_per_hour_usd: Decimal | None
    source: str
    as_of: str

    @property
    def gpu_memory_bytes(self) -> int:
        return int(self.gpu_memory_gb * 1_000_000_000)


class CreditGrant(_Frozen):
    """Credit that can pay for some services of one provider until it expires."""

    provider: str
    amount_usd: Decimal
    expires_at: datetime
    gpu_eligible: bool
    services: tuple[str, ...]
    name: str = ""


@dataclass(frozen=True, slots=True)
class Fit:
    """Whether a model fits an offer's GPUs and its image can serve it, with the tensor-parallel degree, how it is
    served (cloudrun.serving.Serving: dtype, quantization, checkpoint) and the reasons."""

    feasible: bool
    tensor_parallel: int
    reasons: tuple[str, ...]
    serving: Any = None


@dataclass(frozen=True, slots=True)
class CreditUse:
    """How much of one grant pays for an option, covering which hours of the run."""

    grant: str
    amount_usd: Decimal
    hours: Decimal


@dataclass(frozen=True, slots=True)
class PlanOption:
    offer: Offer
    spot: bool
    fit: Fit
    price_per_hour_usd: Decimal
    hours: Decimal
    list_cost_usd: Decimal
    credits_applied_usd: Decimal
    out_of_pocket_usd: Decimal
    credit_uses: tuple[CreditUse, ...] = ()
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    need: MemoryNeed
    hours: Decimal
    options: tuple[PlanOption, ...]
    catalog_source: str


# --- Deployments: what the deployer asks a provider for, and what it gets back ---------------------------

MANAGED_TAG = "cloudrun-managed"
DEPLOYMENT_TAG = "cloudrun-deployment"


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


@dataclass(frozen=True)
class Limits:
    """When to tear one deployment down by itself: idle for, older than, or costing more than."""

    idle_timeout: timedelta | None = None
    ttl: timedelta | None = None
    max_spend_usd: Decimal | None = None

    def __bool__(self) -> bool:
        return any(value is not None for value in (self.idle_timeout, self.ttl, self.max_spend_usd))

    def describe(self) -> str:
        """Return the limits as the flags that set them, e.g. '--idle-timeout 0:30:00 --ttl 8:00:00'."""
        parts = [(flag, value) for flag, value in (("--idle-timeout", self.idle_timeout), ("--ttl", self.ttl),
                 ("--max-spend", self.max_spend_usd)) if value is not None]  # fmt: skip
        return " ".join(f"{flag} {value}" for flag, value in parts) or "none"
