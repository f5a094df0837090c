"""The normalised errors every layer raises; the CLI maps them to messages and exit codes.

Eight classes cover what a cloud or a user can do to us. Adapters translate their SDK's errors into
these in one place; `retryable` says which ones the retry layer may try again.
"""

from __future__ import annotations


class CloudrunError(Exception):
    """Base class: a one-line message that says what is wrong and what to do next."""

    exit_code = 1
    retryable = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InvalidInput(CloudrunError):
    """The user's input (flag, file, name) is wrong; nothing was done."""

    exit_code = 2


class AuthError(CloudrunError):
    """No usable credentials, or they are not allowed to do this."""

    exit_code = 3


class NotFound(CloudrunError):
    """The thing asked for does not exist (deleting it counts as done)."""

    exit_code = 4


class Conflict(CloudrunError):
    """The name is taken or the resource is in a state that forbids this."""

    exit_code = 5


class QuotaExceeded(CloudrunError):
    """The account's quota for this instance type in this region is too low: try another placement."""

    exit_code = 6


class CapacityUnavailable(CloudrunError):
    """The cloud has no capacity for this instance type here right now: try another placement."""

    exit_code = 6


class RateLimited(CloudrunError):
    """The cloud throttled us; `retry_after` seconds if it said."""

    retryable = True

    def __init__(self, message: str, *, hint: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class Transient(CloudrunError):
    """A 5xx or a dropped connection: worth trying again."""

    retryable = True
