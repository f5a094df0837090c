"""The plain records of planning, kept free of pydantic so that `cloudrun plan` and `--help` never import it:
providers and precisions, offers, memory needs, credit grants, plans, limits and cloudrun's tags.

Money is Decimal (USD), time is timezone-aware UTC, memory is bytes. Conversions to GB and floats
happen only at the edges (tables and JSON). cloudrun.models re-exports all of these beside the deployment records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any


class Precision(str, Enum):
    bf16 = "bf16"
    fp8 = "fp8"
    int8 = "int8"
    int4 = "int4"


PROVIDERS = ("aws", "gcp", "azure")
SERVICES = {"aws": "sagemaker", "gcp": "vertex", "azure": "azureml"}


@dataclass(frozen=True, slots=True)
class MemoryNeed:
    """What serving one model needs, before it meets a GPU: the output of `cloudrun size`."""

    id: str
    architecture: str
    params: int
    precision: Precision
    weights_bytes: int
    kv_bytes_per_token: int
    context: int
    concurrency: int
    required_bytes: int  # weights + KV cache for context x concurrency + one GPU's overhead
    attention_heads: int  # tensor parallelism must divide this (vLLM)
    kv_heads: int | None  # KV heads sharded by tensor parallelism; None for MLA (replicated)
    max_context: int
    overhead_bytes_per_gpu: int
    method: str = "16-bit"  # how the served weights are made: see cloudrun.serving
    checkpoint: str = ""  # the Hugging Face id the container loads (default: id)
    load_bytes: int = 0  # weight bytes on the GPUs while loading (default: weights_bytes)
    download_bytes: int = 0  # checkpoint bytes the container downloads
    unservable: str = ""  # why no image can serve this precision as asked, or ''

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


@dataclass(frozen=True, slots=True)
class CreditGrant:
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
    reasons: tuple[str, ...] = ()
    payer: Any = None  # the class's cloudrun.credits.curve.CreditCurve: which grants pay is worked out when asked

    @property
    def credit_uses(self) -> tuple[CreditUse, ...]:
        """Which grants pay for this option and how much each, soonest-expiring first."""
        return self.payer.uses(self.price_per_hour_usd) if self.payer is not None else ()


@dataclass(frozen=True, slots=True)
class Plan:
    need: MemoryNeed
    hours: Decimal
    options: tuple[PlanOption, ...]
    catalog_source: str


MANAGED_TAG = "cloudrun-managed"
DEPLOYMENT_TAG = "cloudrun-deployment"


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
