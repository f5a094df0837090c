"""One sandbox deploy + down (API calls and wall time), and removing 50 sandbox deployments with
bounded concurrency against one at a time.

Everything runs against the local sandbox (moto's server on 127.0.0.1). Run from the repository root:
python benchmarks/bench_deploy.py
"""

from __future__ import annotations

import collections
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cloudrun import api
from cloudrun.deployer import WaitPolicy
from cloudrun.providers.aws_client import default_client_factory
from cloudrun.sandbox import aws, session
from cloudrun.state import StateStore

MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
FAST = WaitPolicy(first_s=0.05, max_s=0.2)
calls: collections.Counter[str] = collections.Counter()
LATENCY_S = 0.1  # emulated network round trip per request: real SageMaker calls take ~50-300 ms


def counting_factory(latency_s: float = 0.0) -> Any:
    """Return a client factory that counts API calls and, optionally, adds a round-trip delay to each."""
    make = default_client_factory()

    def factory(service: str, region: str) -> Any:
        client = make(service, region)
        client.meta.events.register("before-call.*.*", lambda model, **_: calls.update([model.name]))
        if latency_s:
            client.meta.events.register("before-send.*.*", lambda **_: time.sleep(latency_s))
        return client

    return factory


def deploy(name: str, load: Any) -> None:
    plan = api.prepare_deploy(MODEL, cheapest=True, provider="aws", region="us-east-1", name=name, hours=1)
    with StateStore() as state:
        api.deploy(plan, state, load, policy=FAST)


def down(name: str, load: Any) -> None:
    with StateStore() as state:
        api.down(state, load, name)


def one_cycle(load: Any) -> None:
    calls.clear()
    start = time.perf_counter()
    deploy("bench-one", load)
    deployed = time.perf_counter()
    print(f"deploy: {deployed - start:.3f} s, {sum(calls.values())} API calls: {dict(sorted(calls.items()))}")
    calls.clear()
    down("bench-one", load)
    print(f"down:   {time.perf_counter() - deployed:.3f} s, {sum(calls.values())} API calls: "
          f"{dict(sorted(calls.items()))}")  # fmt: skip


def remove_all(names: list[str], workers: int, latency_s: float) -> float:
    load = api.provider_loader({"aws": {"client_factory": counting_factory(latency_s)}})
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda n: down(n, load), names))
    return time.perf_counter() - start


def main() -> None:
    sandbox = aws.start()
    try:
        with tempfile.TemporaryDirectory() as home:
            session.use(Path(home), {"aws": sandbox.url})
            load = api.provider_loader({"aws": {"client_factory": counting_factory()}})
            one_cycle(load)
            for latency in (0.0, LATENCY_S):
                timings = {}
                for workers in (1, 8):
                    names = [f"bench-{workers}-{i:02d}" for i in range(50)]
                    for name in names:
                        deploy(name, load)
                    timings[workers] = remove_all(names, workers, latency)
                    print(f"remove 50 deployments, {workers} at a time, {latency * 1000:.0f} ms per request: "
                          f"{timings[workers]:.2f} s")  # fmt: skip
                print(f"  ratio one at a time / 8 at a time: {timings[1] / timings[8]:.2f}x")
    finally:
        sandbox.stop()
        os.environ.pop("AWS_ENDPOINT_URL", None)


if __name__ == "__main__":
    main()
