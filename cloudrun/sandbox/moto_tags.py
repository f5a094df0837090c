"""Make moto's SageMaker tag calls on a resource that does not exist (or no longer does) fail as SageMaker's do.

SageMaker answers ListTags (and AddTags) on a deleted resource with a ValidationException, a client error
(aws/amazon-sagemaker-feedback#108, "list-tags/add-tags throws a ValidationException for the deleted application").
moto 5 means to do the same: `SageMakerModelBackend._get_resource_from_arn` raises
ValidationError("Could not find {kind} with name {name}") on a KeyError, but it looks the name up with `dict.get`,
so a missing one comes back as None and `None.tags` raises AttributeError: a 500 from moto's server, which cloudrun
rightly retries as a transient error until the call's deadline (a minute per vanished resource in a sweep that
races another process's delete). Here a missing resource raises moto's own ValidationError instead.

Sandbox and tests only: patches moto's class for the whole process.
"""

from __future__ import annotations

from typing import Any

_MARK = "_cloudrun_missing_is_validation"


def answer_missing_resources() -> None:
    """Make tag calls on a missing SageMaker resource a ValidationException; calling it again changes nothing."""
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import SageMakerModelBackend

    moto_get = SageMakerModelBackend._get_resource_from_arn
    if getattr(moto_get, _MARK, False):
        return

    def _get_resource_from_arn(self: Any, arn: str) -> Any:
        resource = moto_get(self, arn)
        if resource is None:
            kind, _, name = arn.split(":")[-1].partition("/")
            raise ValidationError(message=f"Could not find {kind} with name {name}")
        return resource

    setattr(_get_resource_from_arn, _MARK, True)
    SageMakerModelBackend._get_resource_from_arn = _get_resource_from_arn  # type: ignore[method-assign]
