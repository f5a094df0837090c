"""Teardown of N sandbox endpoints: wall time with the concurrency bound vs one at a time.

    .venv/bin/python benchmarks/bench_teardown.py [--endpoints 100] [--workers 8] [--repeat 2] [--latency-ms 0]

The sandbox's moto server runs in its own process (as `cloudrun sandbox start` runs it), so the deleting
threads do not share a GIL with the server. For each mode, N tagged endpoints are created through the
SageMaker adapter and recorded in a fresh state file; then `teardown.delete_concurrently` removes them
(the delete phase: claim, tag-checked delete of endpoint, config and model, record), and separately the
whole `down --all` path (reconcile with the cloud first) is timed. API calls are counted at botocore's
before-call event. The local server answers in ~2 ms and is CPU-bound on a small machine, which hides
most of the gain; `--latency-ms 60` adds a real cloud's round trip to each call during the teardown.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/cloudrun-sandbox"


def start_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    info = folder / "server.json"
    env = {**os.environ, "CLOUDRUN_SANDBOX_STARTUP_S": "0"}
    process = subprocess.Popen([sys.executable, "-m", "cloudrun.sandbox.serve", str(info)], env=env)
    deadline = time.monotonic() + 30
    while not info.exists():
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise SystemExit("the sandbox server did not start")
        time.sleep(0.05)
    return process, json.loads(info.read_text())["aws"]


def counting_factory(calls: Counter[str], latency: dict[str, float]) -> Any:
    """Clients that count each API call and wait latency["s"] before it (a real cloud's round trip)."""
    import boto3

    from cloudrun.providers.aws_client import NO_SDK_RETRIES

    session = boto3.Session()

    def make(service: str, region: str) -> Any:
        client = session.client(service, region_name=region, config=NO_SDK_RETRIES)

        def count(model: Any, **_: Any) -> None:
            calls.update([model.name])
            if latency["s"]:
                time.sleep(latency["s"])

        client.meta.events.register("before-call", count)
        return client

    return make


def prepare(count: int, state_path: Path, prefix: str, calls: Counter[str], latency: dict[str, float]) -> Any:
    """Return (provider, state) with `count` tagged endpoints created and recorded (no added latency)."""
    from cloudrun.providers.aws import SageMakerProvider
    from cloudrun.state import StateStore
    from tests.aws_fixtures import spec

    provider = SageMakerProvider(client_factory=counting_factory(calls, latency), role_arn=ROLE)
    state = StateStore(state_path)
    for n in range(count):
        deploy_spec = spec(f"{prefix}-{n:03d}", instance_type="ml.g5.xlarge")
        state.record_intent(deploy_spec, price_per_hour_usd=Decimal("1.4"), price_source="bench")
        state.mark_creating(deploy_spec.name, provider.create(deploy_spec))
        state.mark_ready(deploy_spec.name)
    calls.clear()
    return provider, state


def run(
    count: int, workers: int, folder: Path, prefix: str, whole_path: bool, latency_s: float
) -> tuple[float, int, int]:
    """Return (seconds, API calls, endpoints deleted) for one teardown of `count` endpoints."""
    from cloudrun import teardown

    calls: Counter[str] = Counter()
    latency = {"s": 0.0}
    provider, state = prepare(count, folder / f"{prefix}.db", prefix, calls, latency)
    latency["s"] = latency_s
    started = time.perf_counter()
    if whole_path:
        report = teardown.down_all(state, lambda _: provider, regions={"aws": [REGION]}, max_workers=workers)
    else:
        doomed = [(row, "bench") for row in state.list()]
        report = teardown.delete_concurrently(state, lambda _: provider, doomed, teardown.TeardownReport(),
                                              max_workers=workers)  # fmt: skip
    seconds = time.perf_counter() - started
    state.close()
    assert not report.failed, report.failed
    return seconds, sum(calls.values()), len(report.deleted)


def compare(args: argparse.Namespace, folder: Path, whole_path: bool, attempt: int) -> None:
    label = "down --all (reconcile + delete)" if whole_path else "delete phase"
    results = {}
    for workers in (args.workers, 1):
        prefix = f"b{int(whole_path)}{attempt}w{workers}l{int(args.latency_ms)}"
        results[workers] = run(args.endpoints, workers, folder, prefix, whole_path, args.latency_ms / 1000)
    (bounded, calls_b, n_b), (serial, calls_s, n_s) = results[args.workers], results[1]
    print(f"{label}, {args.endpoints} endpoints, +{args.latency_ms:g} ms per call, run {attempt + 1}: "
          f"{args.workers} at a time {bounded:.2f} s ({calls_b} API calls, {n_b} deleted); "
          f"one at a time {serial:.2f} s ({calls_s} API calls, {n_s} deleted); ratio {serial / bounded:.1f}x",
          flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=100)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="Added round trip per API call.")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.aws_fixtures.spec
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server, url = start_server(folder)
        try:
            from cloudrun.sandbox import aws

            aws.activate(url)
            for whole_path in (False, True):
                for attempt in range(args.repeat):
                    compare(args, folder, whole_path, attempt)
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
