"""Teach moto's Service Quotas the SageMaker endpoint quotas. Sandbox and tests only.

moto 5.x knows only the `vpc` quotas and has no `ListServiceQuotas` at all (its server answers 500), so
the adapter's quota check would find nothing. The sandbox emulates a realistic account instead: every
GPU endpoint type defaults to 0 instances (as on new AWS accounts), and a few have been raised.
Patches moto's classes for the whole process, like `moto_types.widen_instance_types`.
"""

from __future__ import annotations

import json
from typing import Any

from cloudrun.sandbox.moto_types import GPU_HOSTING_TYPES

# The sandbox account asked for these increases; everything else stays at AWS's default of 0.
RAISED = {"ml.g5.xlarge": 2, "ml.g5.2xlarge": 2, "ml.g5.12xlarge": 1, "ml.g5.48xlarge": 1, "ml.g6e.12xlarge": 1}
_MARK = "_cloudrun_quotas"


def _quota(instance_type: str, value: int, index: int) -> dict[str, Any]:
    return {
        "ServiceCode": "sagemaker",
        "ServiceName": "Amazon SageMaker",
        "QuotaCode": f"L-CR{index:06d}",
        "QuotaName": f"{instance_type} for endpoint usage",
        "Value": float(value),
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": False,
    }


def defaults() -> list[dict[str, Any]]:
    return [_quota(t, 0, i) for i, t in enumerate(sorted(GPU_HOSTING_TYPES))]


def applied(raised: dict[str, int] | None = None) -> list[dict[str, Any]]:
    index = {t: i for i, t in enumerate(sorted(GPU_HOSTING_TYPES))}
    return [_quota(t, v, index.get(t, 999)) for t, v in sorted((raised or RAISED).items())]


def emulate_sagemaker_quotas(raised: dict[str, int] | None = None) -> None:
    """Make moto answer SageMaker's endpoint quotas: defaults of 0, `raised` as applied values."""
    from moto.servicequotas.models import ServiceQuotasBackend
    from moto.servicequotas.responses import ServiceQuotasResponse

    if getattr(ServiceQuotasResponse, _MARK, False):
        return
    moto_defaults = ServiceQuotasBackend.list_aws_default_service_quotas
    table = applied(raised)

    def list_aws_default_service_quotas(self: Any, service_code: str) -> list[dict[str, Any]]:
        return defaults() if service_code == "sagemaker" else moto_defaults(self, service_code)

    def list_service_quotas(self: Any) -> str:
        service_code = json.loads(self.body).get("ServiceCode")
        return json.dumps({"Quotas": table if service_code == "sagemaker" else []})

    ServiceQuotasBackend.list_aws_default_service_quotas = list_aws_default_service_quotas  # type: ignore[method-assign]
    ServiceQuotasResponse.list_service_quotas = list_service_quotas  # type: ignore[attr-defined]
    setattr(ServiceQuotasResponse, _MARK, True)
