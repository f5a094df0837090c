"""Teach moto's SageMaker the GPU instance types cloudrun deploys to. Sandbox and tests only.

moto 5.x checks ProductionVariants[].InstanceType in `FakeEndpointConfig.validate_instance_type` against
a list local to that method (ml.t2/m4/m5/c4/c5/r5/p2/p3/g4dn/inf1), so create_endpoint_config rejects
ml.g5, ml.g6, ml.g6e, ml.p4d and ml.p5 with a ValidationException the real API would not raise. The list
cannot be extended, so the method is wrapped: the GPU hosting types below pass, every other type still
goes through moto's own check (an unknown type is still refused).

Call `widen_instance_types()` only inside the sandbox or a test: it patches moto's class for the whole
process, which covers `mock_aws` and a `ThreadedMotoServer` started from the same process alike.
"""

from __future__ import annotations

from typing import Any

_SIZES = ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge")
GPU_HOSTING_TYPES = frozenset(
    [f"ml.{family}.{size}" for family in ("g5", "g6", "g6e") for size in _SIZES]
    + [f"ml.g4dn.{size}" for size in _SIZES[:6]]
    + ["ml.p4d.24xlarge", "ml.p4de.24xlarge", "ml.p5.48xlarge"]
)
_MARK = "_cloudrun_widened"


def widen_instance_types() -> None:
    """Make moto accept GPU_HOSTING_TYPES in endpoint configs; calling it again changes nothing."""
    from moto.sagemaker.models import FakeEndpointConfig

    moto_check = FakeEndpointConfig.validate_instance_type
    if getattr(moto_check, _MARK, False):
        return

    def validate_instance_type(self: Any, instance_type: str) -> None:
        if instance_type not in GPU_HOSTING_TYPES:
            moto_check(self, instance_type)

    setattr(validate_instance_type, _MARK, True)
    FakeEndpointConfig.validate_instance_type = validate_instance_type  # type: ignore[method-assign]
