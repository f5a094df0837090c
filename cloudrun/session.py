"""The one call layer every adapter specialises: clients made once, the cloud's errors translated in one place,
retried by `cloudrun.retry` only.

A cloud's session (providers/<cloud>_client.py) says three things: which exceptions its SDKs raise
(`sdk_errors`), what each stands for (`translate`, the cloud's single error table) and how to make a client
(`make_client`). Everything else is here: the client cache (thread safe: teardown deletes in parallel), the
retry of what `cloudrun.errors` marks retryable, and the rule that a create answered with a 5xx is never
repeated (it may have happened: the adapter rolls it back instead). The adapter, its price fetcher and its
credit reader all call through the same session, so a cloud's errors read the same wherever they come from.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from cloudrun import retry
from cloudrun.errors import CloudrunError, Transient

QUICK_DEADLINE_S = 10.0
"""Best-effort reads (check, quota, a failure's log tail) give up sooner than the calls that change things."""


class CloudSession(ABC):
    """One cloud's way to call its SDK: cached clients, translated errors, the one retry layer."""

    sdk_errors: tuple[type[BaseException], ...] = ()

    def __init__(
        self, *, sleep: Callable[[float], None] | None = None, deadline_s: float = retry.DEFAULT_DEADLINE_S
    ) -> None:
        self.sleep = sleep  # retry backoff (and adapters' own waits); tests pass a no-op
        self.deadline_s = deadline_s
        self.quick_deadline_s = min(QUICK_DEADLINE_S, deadline_s)
        self._clients: dict[tuple[str, str], Any] = {}
        self._clients_lock = threading.Lock()

    @abstractmethod
    def translate(self, exc: BaseException) -> CloudrunError:
        """Return the cloudrun error an SDK exception stands for (the cloud's one error table)."""

    @abstractmethod
    def make_client(self, kind: str, region: str) -> Any:
        """Return a new SDK client of `kind` for `region`."""

    def client(self, kind: str, region: str) -> Any:
        """Return the client of `kind` for `region`, made once (SDK sessions are not safe to share while building)."""
        with self._clients_lock:
            if (kind, region) not in self._clients:
                self._clients[kind, region] = self.make_client(kind, region)
            return self._clients[kind, region]

    def run(self, fn: Callable[..., Any], *args: Any, idempotent: bool = True, deadline_s: float | None = None) -> Any:
        """Return fn(*args); SDK errors come out translated, retried while retryable, to the deadline.

        `idempotent=False` (a create): a Transient answer is not retried, since the create may have happened.
        """

        def attempt() -> Any:
            try:
                return fn(*args)
            except self.sdk_errors as exc:
                error = self.translate(exc)
                if not idempotent and isinstance(error, Transient):
                    error.retryable = False  # the create may have happened: roll back, never repeat blindly
                raise error from exc

        deadline = self.deadline_s if deadline_s is None else deadline_s
        return retry.call(attempt, deadline_s=deadline, sleep=self.sleep)
