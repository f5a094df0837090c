"""Time to serve, staged against downloaded from the Hub, for the 7B and the 67B; and the sandbox's measured stage
throughput (the fake Hub on loopback streaming into moto's S3 server, multipart, hashed on the way).

The estimates are cloudrun.time_to_serve's (its stated assumptions: Hub 50-200 MB/s, in-region storage 0.3-1 GB/s,
GPU load 1 GB/s per GPU, engine start 2-5 min), on the GPUs of each model's cheapest placement. The measured figure
is this machine's loopback, not a cloud's: it shows the copy's own overhead (hashing, part buffering, the calls).
Run from the repository root: python benchmarks/bench_stage.py
"""

from __future__ import annotations

import os
import tempfile
import time

from cloudrun import api, staging, time_to_serve
from cloudrun.sandbox import aws, hub_fake

MODELS = ("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "deepseek-ai/deepseek-llm-67b-chat")
SHARD_BYTES = 64 * 1024 * 1024


def estimates() -> None:
    print("time to serve (estimate, typical-pessimistic minutes), on the cheapest placement's GPUs:")
    for model in MODELS:
        plan = api.plan(model, hours=1)
        first = next(o for o in plan.options if o.fit.feasible)
        gpus = first.offer.gpu_count
        estimate = time_to_serve.estimate(plan.need, gpus)
        hub = "-".join(f"{s / 60:.0f}" for s in estimate.hub_s)
        staged = "-".join(f"{s / 60:.0f}" for s in estimate.staged_s)
        size = (plan.need.download_bytes or plan.need.weights_bytes) / 1e9
        print(f"  {model:45s} {size:6.1f} GB on {gpus} GPU(s) ({first.offer.instance_type}): "
              f"Hub {hub} min, staged {staged} min")


def measured() -> None:
    os.environ["CLOUDRUN_HOME"] = tempfile.mkdtemp(prefix="cloudrun-bench-")
    hub = hub_fake.start(shard_bytes=SHARD_BYTES)
    server = aws.start()
    try:
        aws.activate(server.url)
        os.environ["HF_ENDPOINT"] = hub.url
        from cloudrun.providers.aws import SageMakerProvider

        store = SageMakerProvider().weights_store("us-east-1")
        started = time.perf_counter()
        result = staging.stage(store, MODELS[0])
        seconds = time.perf_counter() - started
        rate = result.sent_bytes / seconds / 1e6
        print(f"sandbox stage throughput: {result.sent_bytes / 1e6:.0f} MB in {len(result.manifest.files)} files, "
              f"{seconds:.2f} s = {rate:.0f} MB/s (fake Hub -> moto S3 server, both on loopback)")
        started = time.perf_counter()
        again = staging.stage(store, MODELS[0])
        print(f"resume with everything staged: {again.skipped_bytes / 1e6:.0f} MB checked and skipped in "
              f"{time.perf_counter() - started:.2f} s")
    finally:
        server.stop()
        hub.stop()


if __name__ == "__main__":
    estimates()
    measured()
