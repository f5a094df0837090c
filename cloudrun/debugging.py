"""`--debug` (or CLOUDRUN_DEBUG=1): the chain of causes behind an error, the cloud's request ids, the SDKs' logs.

Without it every failure is one line; with it the same line is followed by each cause (the exception the cloud's SDK
raised, with its request id where the answer carried one) and the traceback, and the SDK loggers write to stderr.
Tokens: botocore and azure-core redact credentials in what they log at INFO (azure-core's HttpLoggingPolicy keeps an
allow-list of headers; botocore logs no headers at INFO), so the SDKs log at INFO, cloudrun itself at DEBUG.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Iterator
from typing import Any

ENV = "CLOUDRUN_DEBUG"
_SDK_LOGGERS = ("botocore", "boto3", "azure", "google", "urllib3")


def enabled() -> bool:
    """Return whether --debug or CLOUDRUN_DEBUG asks for the whole story."""
    return os.environ.get(ENV, "") not in ("", "0")


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler writing to whatever sys.stderr is when a record comes (a test runner swaps it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


_HANDLER = _CurrentStderr()
_HANDLER.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))


def enable() -> None:
    """Turn debugging on for this process (and the SDK loggers with it); idempotent."""
    os.environ[ENV] = "1"
    root = logging.getLogger()
    if _HANDLER not in root.handlers:
        root.addHandler(_HANDLER)
    logging.getLogger("cloudrun").setLevel(logging.DEBUG)
    for name in _SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)


def disable() -> None:
    """Undo `enable()` (for a process that runs several commands, e.g. tests)."""
    os.environ.pop(ENV, None)
    logging.getLogger().removeHandler(_HANDLER)
    for name in ("cloudrun", *_SDK_LOGGERS):
        logging.getLogger(name).setLevel(logging.NOTSET)


def causes(exc: BaseException) -> Iterator[BaseException]:
    """Yield the exceptions behind `exc`, nearest first (explicit causes, else the implicit context)."""
    seen = {id(exc)}
    current = exc.__cause__ or exc.__context__
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def request_id(exc: BaseException) -> str | None:
    """Return the cloud's request id an SDK error carries (AWS RequestId, Azure x-ms-request-id), or None."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        return (response.get("ResponseMetadata") or {}).get("RequestId")
    headers = getattr(response, "headers", None)
    if headers is not None:  # azure-core HttpResponseError, requests.HTTPError, google-api-core over REST
        for name in ("x-ms-request-id", "x-amzn-requestid", "x-goog-request-id", "x-request-id"):
            value = headers.get(name)
            if value:
                return str(value)
    return None


def story(exc: BaseException) -> str:
    """Return what --debug prints under the one-line error: each cause with its request id, then the traceback."""
    lines = []
    for cause in causes(exc):
        rid = request_id(cause)
        lines.append(f"caused by {type(cause).__module__}.{type(cause).__name__}: {cause}"
                     + (f" (request id {rid})" if rid else ""))  # fmt: skip
    lines.append("".join(traceback.format_exception(exc)).rstrip())
    return "\n".join(lines)
