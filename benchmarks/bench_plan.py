"""Wall time of `cloudrun plan`, end to end (a fresh process each run, as a user runs it).

1. the bundled snapshot;  2. a generated catalog of 50,000 offers with 20 credit grants.
Prints the median and min of N runs for each. Run from the repository root: python benchmarks/bench_plan.py
"""

from __future__ import annotations

import csv
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cloudrun.catalog import COLUMNS
from cloudrun.pricing.validate import REGIONS

MODEL = "deepseek-ai/deepseek-llm-67b-chat"
RUNS = 5
SHAPES = [  # (provider, service, instance, gpu, count, GB per GPU)
    ("aws", "sagemaker", "ml.g5.48xlarge", "A10G", 8, 24),
    ("aws", "sagemaker", "ml.g5.xlarge", "A10G", 1, 24),
    ("gcp", "vertex", "a2-ultragpu-2g", "A100", 2, 80),
    ("gcp", "vertex", "g2-standard-8", "L4", 1, 24),
    ("azure", "azureml", "Standard_NC48ads_A100_v4", "A100", 2, 80),
    ("azure", "azureml", "Standard_NC24ads_A100_v4", "A100", 1, 80),
]


def write_catalog(path: Path, n: int, rng: random.Random) -> None:
    """Write n offers in the providers' real regions (a catalog row's region must be one the provider has), each
    instance type made unique per row so no (provider, region, instance type) repeats."""
    regions = {provider: sorted(names) for provider, names in REGIONS.items()}
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for i in range(n):
            provider, service, instance, gpu, count, mem = SHAPES[i % len(SHAPES)]
            region = regions[provider][(i // len(SHAPES)) % len(regions[provider])]
            price = round(rng.uniform(0.5, 40.0), 4)
            spot = round(price * 0.4, 4) if service == "vertex" else ""
            writer.writerow([provider, service, region, f"{instance}-v{i}", gpu, count, mem, 8, 64,
                             price, spot, "generated", "2026-11-01"])  # fmt: skip


def write_grants(path: Path, n: int, rng: random.Random) -> None:
    services = {"aws": "sagemaker", "gcp": "vertex", "azure": "azureml"}
    grants = [
        {"name": f"g{i}", "provider": p, "amount_usd": rng.randint(0, 500), "gpu_eligible": rng.random() > 0.2,
         "expires_at": f"2027-0{rng.randint(1, 9)}-01T00:00:00Z", "services": [services[p]]}
        for i, p in enumerate(rng.choice(list(services)) for _ in range(n))
    ]  # fmt: skip
    path.write_text(json.dumps(grants))


def timed(args: list[str]) -> list[float]:
    cloudrun = Path(sys.executable).with_name("cloudrun")
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run([str(cloudrun), *args], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def report(label: str, times: list[float]) -> None:
    print(f"{label:<48} median {statistics.median(times):.3f} s   min {min(times):.3f} s   ({RUNS} runs)")


def main() -> None:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        catalog, grants = Path(tmp) / "offers.csv", Path(tmp) / "credits.json"
        write_catalog(catalog, 50_000, rng)
        write_grants(grants, 20, rng)
        report("cloudrun --help", timed(["--help"]))
        report("plan, bundled snapshot (table)", timed(["plan", MODEL]))
        report("plan, bundled snapshot (--json)", timed(["plan", MODEL, "--json"]))
        report("plan, 50,000 offers + 20 grants (--json)", timed(["plan", MODEL, "--json", "--catalog", str(catalog),
                                                                   "--credits", str(grants), "--spot"]))  # fmt: skip


if __name__ == "__main__":
    main()
