"""Make moto's SageMaker endpoints start like real ones: Creating for a while, then InService.

moto creates endpoints straight into InService, so a deploy never waits and a crash mid-wait cannot be
reproduced. `emulate_startup(seconds)` keeps each new endpoint in Creating for `seconds` (wall clock).
Sandbox and tests only; patches moto's class for the whole process.
"""

from __future__ import annotations

import time
from typing import Any

_MARK = "_cloudrun_startup"
_state = {"seconds": 0.0}


def emulate_startup(seconds: float) -> None:
    """Keep endpoints created from now on in Creating for `seconds`; calling again changes the duration."""
    from moto.sagemaker.models import FakeEndpoint

    _state["seconds"] = seconds
    if getattr(FakeEndpoint, _MARK, False):
        return
    moto_init = FakeEndpoint.__init__
    moto_summary = FakeEndpoint.summary
    moto_response = FakeEndpoint.response_object

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807 - replacing moto's constructor
        moto_init(self, *args, **kwargs)
        self._cloudrun_ready_at = time.monotonic() + _state["seconds"]
        if _state["seconds"] > 0:
            self.endpoint_status = "Creating"

    def _advance(self: Any) -> None:
        ready_at = getattr(self, "_cloudrun_ready_at", 0.0)
        if self.endpoint_status == "Creating" and time.monotonic() >= ready_at:
            self.endpoint_status = "InService"

    def summary(self: Any) -> dict[str, Any]:
        _advance(self)
        return moto_summary(self)

    def response_object(self: Any) -> dict[str, Any]:
        _advance(self)
        return moto_response.fget(self)  # type: ignore[union-attr]

    FakeEndpoint.__init__ = __init__  # type: ignore[method-assign]
    FakeEndpoint.summary = summary  # type: ignore[method-assign]
    FakeEndpoint.response_object = property(response_object)  # type: ignore[assignment,method-assign]
    setattr(FakeEndpoint, _MARK, True)
