"""The small HTTP toolkit the sandbox's cloud fakes share (stdlib only): a route table of method and path pattern,
a request handler that reads a body and answers JSON without log lines, a threaded server on 127.0.0.1, a
registry of long-running operations that are done once their time has come, and queues of one-shot faults that
the next matching request meets. What a cloud's replies look like (its error shape, its operation headers, its
URL prefixes) stays in that cloud's fake (vertex_fake*.py, azure_fake*.py).
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

T = TypeVar("T")
H = TypeVar("H")


class Routes(Generic[H]):
    """A route table: rows of (method, path pattern, handler); "" as the method matches any method."""

    def __init__(self, rows: Iterable[tuple[str, str, H]], flags: int = 0) -> None:
        self.rows = [(method, re.compile(pattern, flags), handler) for method, pattern, handler in rows]

    def find(self, method: str, path: str) -> tuple[H, re.Match[str]] | None:
        """Return the handler of the first row whose method is `method` (or any) and whose pattern is all of `path`."""
        for verb, pattern, handler in self.rows:
            found = pattern.fullmatch(path)
            if verb in ("", method) and found:
                return handler, found
        return None


def query_params(url: str) -> dict[str, str]:
    """Return the URL's query parameters, the last value of each."""
    return {key: values[-1] for key, values in parse_qs(urlsplit(url).query).items()}


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler that reads the request's body and answers JSON; it writes no request log lines."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep the user's terminal quiet
        pass

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_json(self, status: int, document: Any, headers: Mapping[str, str] | None = None) -> None:
        """Answer `document` as JSON (bytes as they are, None as an empty body), with these headers after its own."""
        payload = (
            document if isinstance(document, bytes) else b"" if document is None else json.dumps(document).encode()
        )
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def start_server(
    handler: type[BaseHTTPRequestHandler],
    port: int,
    name: str,
    *,
    poll_interval: float = 0.5,
    tls: ssl.SSLContext | None = None,
) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Serve `handler` on 127.0.0.1:`port` (0: any free port) from a daemon thread, over TLS if given a context."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(poll_interval,), name=name, daemon=True)
    thread.start()
    return server, thread


@dataclass
class RunningServer:
    """A server serving from its thread (what start_server started); `stop()` ends it."""

    server: ThreadingHTTPServer
    thread: threading.Thread

    def stop(self) -> None:
        """Stop serving, close the socket and wait (5 s at most) for the serving thread to end."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@dataclass
class Operation:
    """A long-running operation, done once `due` (monotonic seconds) has come: it then runs `finish` (if any) or
    ends with `error` (if any)."""

    due: float
    finish: Callable[[], Any] | None = None
    error: Any = None

    @property
    def done(self) -> bool:
        return time.monotonic() >= self.due


class Operations(dict[str, Operation]):
    """Long-running operations by id. Not locked: each fake calls it under its own lock."""

    def start(
        self, op_id: str, delay_s: float, *, finish: Callable[[], Any] | None = None, error: Any = None
    ) -> Operation:
        """Register an operation that is done `delay_s` seconds from now."""
        self[op_id] = Operation(time.monotonic() + delay_s, finish, error)
        return self[op_id]

    def take_done(self, op_id: str) -> Operation | None:
        """Remove and return the operation if it is done (so that its `finish` runs once); else None."""
        operation = self.get(op_id)
        if operation is None or not operation.done:
            return None
        del self[op_id]
        return operation


class FaultQueue(deque[T]):
    """Faults waiting, first in first out: each is met once, by the next request it matches, then gone."""

    def take(self, matches: Callable[[T], bool] | None = None) -> T | None:
        """Remove and return the first fault that `matches` (any, if not given); None if none does."""
        for index, fault in enumerate(self):
            if matches is None or matches(fault):
                del self[index]
                return fault
        return None
