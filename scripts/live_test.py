"""Opt-in live smoke test on a real account: `make live-test PROVIDER=aws` (or gcp, azure). Never run by CI.

Deploys the smallest model (DeepSeek-R1-Distill-Qwen-1.5B) on the cheapest GPU of that provider cloudrun can plan,
with --ttl 45m --max-spend 5 stored as its limits, calls it, checks that it answered, removes it, and prints what it
cost. It goes through the installed `cloudrun` command, as a user would; the endpoint is removed even when a step
fails. It needs CLOUDRUN_LIVE_TEST=1 (so it can never start by accident), the provider's credentials, GPU quota for
the chosen instance, and on Azure the wrapper image (CLOUDRUN_AZUREML_IMAGE). See docs/live-test.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import uuid

MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"
LIMITS = ["--ttl", "45m", "--max-spend", "5"]


def cloudrun(*args: str, check: bool = True, timeout: float = 3900) -> subprocess.CompletedProcess[str]:
    command = [shutil.which("cloudrun") or "cloudrun", *args]
    print("$ " + " ".join(command), flush=True)
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if result.stderr:
        print(result.stderr, file=sys.stderr, end="")
    if check and result.returncode != 0:
        raise SystemExit(f"live test failed at `cloudrun {' '.join(args)}` (exit {result.returncode})")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", required=True, choices=["aws", "gcp", "azure"])
    parser.add_argument("--region", help="only this region (default: the cheapest one planned)")
    options = parser.parse_args()
    if os.environ.get("CLOUDRUN_LIVE_TEST") != "1":
        print("This deploys a real GPU endpoint on your account (a few dollars at most). "
              "Set CLOUDRUN_LIVE_TEST=1 to run it.", file=sys.stderr)  # fmt: skip
        return 2
    checked = json.loads(cloudrun("check", "--json").stdout)
    mine = next(r for r in checked if r["provider"] == options.provider)
    if not mine["credentials_ok"]:
        raise SystemExit(f"{options.provider}: {mine['detail']} ({mine.get('hint') or 'see `cloudrun check`'})")
    name = f"live-{options.provider}-{uuid.uuid4().hex[:6]}"
    where = ["--provider", options.provider] + (["--region", options.region] if options.region else [])
    started = time.monotonic()
    try:
        deployed = json.loads(cloudrun("deploy", MODEL, *where, "--name", name, *LIMITS, "--hours", "1", "--yes",
                                       "--json").stdout)  # fmt: skip
        print(f"in service after {time.monotonic() - started:.0f} s on {deployed['instance_type']} "
              f"in {deployed['region']} at ${deployed['price_per_hour_usd']}/h")  # fmt: skip
        reply = json.loads(cloudrun("invoke", name, "What is 2 + 3? Answer with one number.", "--max-tokens", "256",
                                    "--json").stdout)  # fmt: skip
        answer = reply["choices"][0]["message"]["content"]
        print(f"answer: {answer!r}")
        if not str(answer).strip():
            raise SystemExit("the endpoint answered with an empty message")
    finally:
        cloudrun("down", name, "--yes", check=False)
        rows = json.loads(cloudrun("status", "--all", "--json", check=False).stdout or '{"deployments": []}')
        row = next((r for r in rows["deployments"] if r["name"] == name), None)
        if row:
            print(f"{name}: {row['status']}, cost so far ${row['cost_so_far_usd']:.2f} at list price, "
                  f"{time.monotonic() - started:.0f} s in all")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
