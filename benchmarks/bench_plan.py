"""How fast `cloudrun` starts and plans, and how the planner scales with offers x credit grants.

1. Start-up, as a user runs it (a fresh process each run): the CPU time (user + system, the least of N runs, so a
   busy machine's waits do not count) of `cloudrun --help`, `plan` and `plan --json`, each also as a ratio to a bare
   `python -c "import typer, pydantic"` and to a minimal typer command with five options, measured in the same run.
   Goals (issue 18): --help <= 1.5x and plan <= 2x the bare import.
2. Planner scaling, in a process of its own: `planning.plan` over 50,000 generated offers with 200 grants and over
   10,000 offers with 2,000 one-dollar grants: CPU and wall time (medians of 3; CPU is what the goal means on a
   shared machine, where the wall clock also counts other processes' turns), peak RSS, and a check that every
   option's credit equals the greedy walk's (credits.spend) for a sample. Goals: <= 1.5 s and 200 MB; <= 1 s.
3. The CLI end to end over the 50,000-offer catalog with 20 grants (`plan --json`).

Run from the repository root: python benchmarks/bench_plan.py
"""

from __future__ import annotations

import csv
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cloudrun.catalog import COLUMNS
from cloudrun.pricing.validate import REGIONS

MODEL = "deepseek-ai/deepseek-llm-67b-chat"
RUNS = 7
SHAPES = [  # (provider, service, instance, gpu, count, GB per GPU)
    ("aws", "sagemaker", "ml.g5.48xlarge", "A10G", 8, 24),
    ("aws", "sagemaker", "ml.g5.xlarge", "A10G", 1, 24),
    ("gcp", "vertex", "a2-ultragpu-2g", "A100", 2, 80),
    ("gcp", "vertex", "g2-standard-8", "L4", 1, 24),
    ("azure", "azureml", "Standard_NC48ads_A100_v4", "A100", 2, 80),
    ("azure", "azureml", "Standard_NC24ads_A100_v4", "A100", 1, 80),
]
SERVICES = {"aws": "sagemaker", "gcp": "vertex", "azure": "azureml"}
MINIMAL_TYPER = """
import typer
from pathlib import Path
app = typer.Typer()
@app.callback()
def root() -> None: ...
@app.command()
def plan(model: str = typer.Argument(None), hours: float = typer.Option(24.0), provider: list[str] = typer.Option(None),
         catalog: Path = typer.Option(None), as_json: bool = typer.Option(False, "--json")) -> None:
    print(model)
app(["plan", "x"])
"""


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
    grants = [
        {"name": f"g{i}", "provider": p, "amount_usd": rng.randint(0, 500), "gpu_eligible": rng.random() > 0.2,
         "expires_at": f"2027-0{rng.randint(1, 9)}-01T00:00:00Z", "services": [SERVICES[p]]}
        for i, p in enumerate(rng.choice(list(SERVICES)) for _ in range(n))
    ]  # fmt: skip
    path.write_text(json.dumps(grants))


def cpu_seconds(args: list[str], env: dict[str, str]) -> float:
    """The least CPU time (user + system) of RUNS runs of a command, in seconds."""
    best = float("inf")
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(args, check=True, capture_output=True, env=env)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return best


def startup(env: dict[str, str]) -> None:
    cloudrun = str(Path(sys.executable).with_name("cloudrun"))
    bare = cpu_seconds([sys.executable, "-c", "import typer, pydantic"], env)
    minimal = cpu_seconds([sys.executable, "-c", MINIMAL_TYPER], env)
    print(f"{'bare `import typer, pydantic`':<44} {bare:.3f} s CPU")
    print(f"{'a minimal typer command (5 options)':<44} {minimal:.3f} s CPU   {minimal / bare:.2f}x bare")
    for label, args, goal in (("cloudrun --help", ["--help"], 1.5), ("cloudrun plan (table)", ["plan", MODEL], 2.0),
                              ("cloudrun plan --json", ["plan", MODEL, "--json"], 2.0)):  # fmt: skip
        spent = cpu_seconds([cloudrun, *args], env)
        verdict = "meets" if spent / bare <= goal else "misses"
        print(f"{label:<44} {spent:.3f} s CPU   {spent / bare:.2f}x bare ({verdict} <= {goal}x), "
              f"{spent / minimal:.2f}x the minimal typer command")  # fmt: skip


SCALING = """
import random, resource, statistics, sys, time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from cloudrun import planning
from cloudrun.credits import spend, usable_grants
from cloudrun.models import CreditGrant
catalog, n_grants = Path(sys.argv[1]), int(sys.argv[2])
rng = random.Random(11)
now = datetime(2026, 11, 30, tzinfo=timezone.utc)
services = {"aws": "sagemaker", "gcp": "vertex", "azure": "azureml"}
grants = [CreditGrant(provider=p, amount_usd=Decimal(1), expires_at=now + timedelta(hours=rng.uniform(1, 2000)),
                      gpu_eligible=True, services=(services[p],), name=f"g{i}")
          for i, p in enumerate(rng.choice(list(services)) for _ in range(n_grants))]
times, cpu = [], []
for _ in range(3):
    start, start_cpu = time.perf_counter(), time.process_time()
    plan = planning.plan(sys.argv[3], catalog_file=catalog, grants=grants, spot=True, hours=24, now=now)
    times.append(time.perf_counter() - start)
    cpu.append(time.process_time() - start_cpu)
sample = rng.sample(plan.options, min(200, len(plan.options)))
wrong = sum(o.credits_applied_usd != spend(o.price_per_hour_usd, o.hours, usable_grants(grants, o.offer, now), now)[0]
            for o in sample)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{len(plan.options):,} options in {statistics.median(cpu):.2f} s CPU ({statistics.median(times):.2f} s wall; "
      f"medians of 3), peak RSS {rss:.0f} MB, "
      f"credit equal to the greedy walk's for {len(sample) - wrong} of {len(sample)} sampled")
"""


def scaling(tmp: Path, rng: random.Random) -> None:
    for offers, grants, goal in ((50_000, 200, "<= 1.5 s, <= 200 MB"), (10_000, 2_000, "<= 1 s")):
        catalog = tmp / f"offers-{offers}.csv"
        write_catalog(catalog, offers, rng)
        done = subprocess.run([sys.executable, "-c", SCALING, str(catalog), str(grants), MODEL], check=True,
                              capture_output=True, text=True)  # fmt: skip
        print(f"planner, {offers:,} offers x {grants:,} grants (goal {goal}): {done.stdout.strip()}")


def main() -> None:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CLOUDRUN_HOME": tmp}  # no ledger: the figures do not depend on this machine's state
        startup(env)
        scaling(Path(tmp), rng)
        catalog, grants = Path(tmp) / "offers.csv", Path(tmp) / "credits.json"
        write_catalog(catalog, 50_000, rng)
        write_grants(grants, 20, rng)
        cloudrun = Path(sys.executable).with_name("cloudrun")
        times = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run([str(cloudrun), "plan", MODEL, "--json", "--catalog", str(catalog), "--credits",
                            str(grants), "--spot"], check=True, capture_output=True, env=env)  # fmt: skip
            times.append(time.perf_counter() - start)
        print(f"cloudrun plan --json, 50,000 offers + 20 grants: median {statistics.median(times):.2f} s wall "
              f"(min {min(times):.2f} s, 3 runs)")


if __name__ == "__main__":
    main()
