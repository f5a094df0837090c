"""Small builders for models used across tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from cloudrun.models import CreditGrant, MemoryNeed, Offer, Precision

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
GB = 1_000_000_000


def need(
    weights_gb: float = 14,
    kv_per_token: int = 57_344,
    context: int = 4096,
    concurrency: int = 1,
    heads: int = 28,
    kv_heads: int | None = 4,
    overhead: int = 2 * 1024**3,
) -> MemoryNeed:
    weights = int(weights_gb * GB)
    return MemoryNeed(
        id="test/model",
        architecture="Qwen2ForCausalLM",
        params=weights // 2,
        precision=Precision.bf16,
        weights_bytes=weights,
        kv_bytes_per_token=kv_per_token,
        context=context,
        concurrency=concurrency,
        required_bytes=weights + kv_per_token * context * concurrency + overhead,
        attention_heads=heads,
        kv_heads=kv_heads,
        max_context=131072,
        overhead_bytes_per_gpu=overhead,
    )


def offer(
    provider: str = "aws",
    instance_type: str = "ml.g5.xlarge",
    price: str = "1.0",
    gpus: int = 1,
    gpu_gb: str = "24",
    region: str = "us-east-1",
    spot: str | None = None,
) -> Offer:
    service = {"aws": "sagemaker", "gcp": "vertex", "azure": "azureml"}[provider]
    return Offer(
        provider=provider,
        service=service,
        region=region,
        instance_type=instance_type,
        gpu_model="A10G",
        gpu_count=gpus,
        gpu_memory_gb=Decimal(gpu_gb),
        vcpus=4,
        memory_gb=Decimal(16),
        price_per_hour_usd=Decimal(price),
        spot_price_per_hour_usd=Decimal(spot) if spot else None,
        source="test",
        as_of="2026-11-01",
    )


def grant(
    provider: str = "aws",
    amount: str = "100",
    expires_in_hours: float = 1000,
    gpu_eligible: bool = True,
    services: tuple[str, ...] = ("sagemaker",),
    name: str = "",
) -> CreditGrant:
    return CreditGrant(
        provider=provider,
        amount_usd=Decimal(amount),
        expires_at=NOW + timedelta(hours=expires_in_hours),
        gpu_eligible=gpu_eligible,
        services=services,
        name=name or f"{provider}-{amount}-{expires_in_hours}",
    )
