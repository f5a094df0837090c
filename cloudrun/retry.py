"""The one retry layer: retry only errors `cloudrun.errors` marks retryable, with jittered backoff,
until a deadline. Adapters turn off their SDK's own retries so calls are never retried twice over."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_delay, wait_random_exponential

from cloudrun.errors import CloudrunError, RateLimited

T = TypeVar("T")

DEFAULT_DEADLINE_S = 60.0


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, CloudrunError) and exc.retryable


def _wait(max_wait: float) -> Callable[[RetryCallState], float]:
    jitter = wait_random_exponential(multiplier=0.5, max=max_wait)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited) and exc.retry_after:
            return min(float(exc.retry_after), max_wait)
        return jitter(state)

    return wait


def call(
    fn: Callable[..., T],
    *args: Any,
    deadline_s: float = DEFAULT_DEADLINE_S,
    max_wait_s: float = 20.0,
    sleep: Callable[[float], None] | None = None,
    **kwargs: Any,
) -> T:
    """Return fn(*args, **kwargs), retrying RateLimited and Transient errors until `deadline_s` passes."""
    retrying = Retrying(
        retry=retry_if_exception(_retryable),
        wait=_wait(max_wait_s),
        stop=stop_after_delay(deadline_s),
        reraise=True,
        **({"sleep": sleep} if sleep else {}),
    )
    return retrying(fn, *args, **kwargs)
