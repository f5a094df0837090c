"""The health endpoint of `watch --health-port`: GET /healthz answers 200 or 503 with a JSON body (service.Health).

Beside `cloudrun metrics` (exporter.py), which serves Prometheus's /metrics the same way: a thread of its own, the
standard library's HTTP server, loopback unless told otherwise. For a Kubernetes liveness probe, a load balancer or
a systemd watchdog script.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cloudrun.errors import InvalidInput
from cloudrun.teardown.service import Health, log


def serve(health: Health, port: int, address: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Start serving /healthz on address:port (0: any free port) in a daemon thread; return the server (shutdown()
    stops it, server_address says where it listens). Raise InvalidInput when it cannot listen there."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            if self.path.split("?")[0] not in ("/healthz", "/health"):
                self.send_error(404, "only /healthz here")
                return
            status, body = health.report()
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_args: Any) -> None:  # a probe every few seconds is not news
            return

    try:
        server = ThreadingHTTPServer((address, port), Handler)
    except OSError as exc:
        raise InvalidInput(f"--health-port {port}: cannot listen on {address}:{port} ({exc.strerror or exc})",
                           hint="choose another port (0: any free one, logged at start)") from None  # fmt: skip
    threading.Thread(target=server.serve_forever, name="cloudrun-health", daemon=True).start()
    host, bound = server.server_address[:2]
    log.info("health: serving /healthz on http://%s:%s", host, bound)
    return server
