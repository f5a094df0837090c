"""How many tokens per second a model serves on a set of GPUs: a stated roofline model, pure arithmetic.

- **Decode** (one output token per running request per step) is memory-bandwidth bound: each step reads every
  weight once and every running request's KV cache once, so a step takes
  `(weight bytes + batch x context x KV bytes per token) / (HBM bandwidth x TP GPUs x DECODE_BANDWIDTH_EFFICIENCY)`
  plus, with tensor parallelism, the all-reduces' latency (TP_STEP_OVERHEAD_S per doubling of the degree). At large
  batches the step becomes compute bound: `2 x params x batch` FLOPs at COMPUTE_EFFICIENCY of the dense TFLOPS.
- **Prefill** (the prompt) is compute bound: `2 x params x prompt tokens` FLOPs at COMPUTE_EFFICIENCY.
- **Serving** a load at concurrency C: each request sees its own decode step plus, spread over its output, the
  prefills of the C-1 others (continuous batching interleaves them); time to first token is its own prefill.
- **Concurrency** is limited by the KV cache that fits beside the weights (cloudrun.scheduler's memory rule).

The efficiency constants were fitted to published figures listed, with their sources, in
cloudrun/data/throughput_points.csv; `python benchmarks/bench_throughput.py` prints the error on each. GPU
figures are the vendors' datasheets (cloudrun/data/gpu_specs.csv). Mixture-of-experts models are treated as if
every expert were read each step: right at serving batch sizes, pessimistic for a single request.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources

from cloudrun.plain import MemoryNeed, Precision

# The four constants below were fitted together (a grid search minimising the mean absolute percentage error) to the
# published figures in cloudrun/data/throughput_points.csv: NVIDIA NIM's Llama-3.3-70B fp8 ITL on 2x H100
# (docs.nvidia.com/nim/benchmarking/llm/1.0.0/performance), NeMo's Llama-2-7B latencies at TP1-TP8 on A100 and H100
# (docs.nvidia.com/nemo-framework/user-guide/latest/performance/llama.html) and a vLLM Llama-3.1-8B sweep on an
# A100 40GB (johnmusgrave.com/p/vllm-throughput-latency-sweep-on, which itself reads 77% of the roofline). Two points
# of vLLM's own CI on H200 (Llama-3.1-8B TP1, Llama-3-70B TP4) were added after the fit and held out: -1.5%, +7.7%.
# No PCIe multi-GPU point was found: the PCIe all-reduce figure is an assumption (twice NVLink's), not a fit.
#
# Share of the datasheet HBM bandwidth a decode step achieves.
DECODE_BANDWIDTH_EFFICIENCY = 0.70
# Share of the dense tensor TFLOPS that prefill and compute-bound decode achieve.
COMPUTE_EFFICIENCY = 0.60
# Fixed time a decode step spends outside reading memory (kernel launches, sampling, the scheduler), per step.
STEP_OVERHEAD_S = 0.0015
# Extra time per step for the tensor-parallel all-reduces (two per layer), per doubling of the degree: NVLink's fitted
# (NeMo's TP1-TP8 rows), PCIe's assumed at twice that.
TP_STEP_OVERHEAD_S = {"nvlink": 0.0012, "pcie": 0.0024}

_SPECS_FILE = "gpu_specs.csv"


@dataclass(frozen=True)
class GpuSpec:
    """One GPU's datasheet figures: memory bandwidth, dense tensor throughput per precision, interconnect."""

    gpu_model: str
    memory_gb: Decimal
    hbm_gb_per_s: Decimal
    bf16_tflops: Decimal
    fp8_tflops: Decimal | None
    int8_tops: Decimal | None
    interconnect: str  # nvlink or pcie
    interconnect_gb_per_s: Decimal
    source: str
    tdp_w: int = 0  # the datasheet's maximum board power, watts (0: not known)

    def tflops(self, precision: Precision) -> Decimal:
        """Return the dense TFLOPS the matrix multiplies run at for weights of `precision`.

        fp8 runs on fp8 tensor cores where the GPU has them (Ada, Hopper); elsewhere vLLM's fp8, and int8/int4
        (AWQ, GPTQ, bitsandbytes), are weight-only: the weights are widened and multiplied at 16-bit.
        """
        if precision is Precision.fp8 and self.fp8_tflops is not None:
            return self.fp8_tflops
        return self.bf16_tflops


@dataclass(frozen=True)
class Estimate:
    """What one replica (one endpoint instance) serves for a load: throughput, latency, concurrency."""

    tensor_parallel: int
    concurrency: int  # requests in flight the estimate is for
    max_concurrency: int  # requests whose KV cache fits beside the weights
    tokens_per_s: float  # output tokens per second, all requests together
    tpot_ms: float  # time per output token one request sees
    ttft_ms: float  # time to first token (its prefill), without queueing
    bound: str  # memory or compute: what limits a decode step


@cache
def _specs() -> tuple[GpuSpec, ...]:
    text = resources.files("cloudrun.data").joinpath(_SPECS_FILE).read_text(encoding="utf-8")
    return tuple(_to_spec(row) for row in csv.DictReader(io.StringIO(text)))


def _to_spec(row: dict[str, str]) -> GpuSpec:
    def optional(key: str) -> Decimal | None:
        return Decimal(row[key]) if row[key] else None

    return GpuSpec(
        gpu_model=row["gpu_model"], memory_gb=Decimal(row["memory_gb"]), hbm_gb_per_s=Decimal(row["hbm_gb_per_s"]),
        bf16_tflops=Decimal(row["bf16_tflops"]), fp8_tflops=optional("fp8_tflops"), int8_tops=optional("int8_tops"),
        interconnect=row["interconnect"], interconnect_gb_per_s=Decimal(row["interconnect_gb_per_s"]),
        source=row["source"], tdp_w=int(row["tdp_w"] or 0),
    )  # fmt: skip


def known_gpus() -> tuple[GpuSpec, ...]:
    """Return every GPU the model has datasheet figures for."""
    return _specs()


def gpu_spec(gpu_model: str, memory_gb: Decimal | float | int | None = None) -> GpuSpec | None:
    """Return the datasheet figures for a GPU model (the variant with this much memory, if several), or None."""
    matches = [s for s in _specs() if s.gpu_model.lower() == gpu_model.strip().lower()]
    if memory_gb is not None:
        exact = [s for s in matches if s.memory_gb == Decimal(str(memory_gb))]
        matches = exact or matches
    return matches[0] if matches else None


def _tp_overhead_s(spec: GpuSpec, tensor_parallel: int) -> float:
    if tensor_parallel <= 1:
        return 0.0
    return TP_STEP_OVERHEAD_S.get(spec.interconnect, TP_STEP_OVERHEAD_S["pcie"]) * math.log2(tensor_parallel)


def decode_step_s(need: MemoryNeed, spec: GpuSpec, tensor_parallel: int, batch: int, context: float) -> float:
    """Return the seconds one decode step takes for `batch` requests holding `context` tokens each."""
    read = need.weights_bytes + batch * context * need.kv_bytes_per_token
    bandwidth = float(spec.hbm_gb_per_s) * 1e9 * tensor_parallel * DECODE_BANDWIDTH_EFFICIENCY
    flops = 2 * need.params * batch
    compute = float(spec.tflops(need.precision)) * 1e12 * tensor_parallel * COMPUTE_EFFICIENCY
    return max(read / bandwidth, flops / compute) + STEP_OVERHEAD_S + _tp_overhead_s(spec, tensor_parallel)


def is_compute_bound(need: MemoryNeed, spec: GpuSpec, tensor_parallel: int, batch: int, context: float) -> bool:
    """Return whether a decode step of this batch is limited by compute rather than memory bandwidth."""
    read = need.weights_bytes + batch * context * need.kv_bytes_per_token
    return (
        2 * need.params * batch * float(spec.hbm_gb_per_s) * 1e9 * DECODE_BANDWIDTH_EFFICIENCY
        > read * float(spec.tflops(need.precision)) * 1e12 * COMPUTE_EFFICIENCY
    )


def prefill_s(need: MemoryNeed, spec: GpuSpec, tensor_parallel: int, prompt_tokens: int) -> float:
    """Return the seconds a prompt of `prompt_tokens` takes: its FLOPs, or one read of the weights if longer."""
    compute = float(spec.tflops(need.precision)) * 1e12 * tensor_parallel * COMPUTE_EFFICIENCY
    bandwidth = float(spec.hbm_gb_per_s) * 1e9 * tensor_parallel * DECODE_BANDWIDTH_EFFICIENCY
    return max(2 * need.params * prompt_tokens / compute, need.weights_bytes / bandwidth)


def max_concurrency(
    need: MemoryNeed, spec: GpuSpec, tensor_parallel: int, tokens_per_request: int, utilization: Decimal
) -> int:
    """Return how many requests of `tokens_per_request` tokens fit in the KV cache left beside the weights."""
    usable = Decimal(spec.memory_gb) * 1_000_000_000 * utilization
    room = usable - Decimal(need.weights_bytes) / tensor_parallel - need.overhead_bytes_per_gpu
    # KV heads split across GPUs; beyond the KV head count (and always for MLA) they are replicated.
    shards = min(tensor_parallel, need.kv_heads) if need.kv_heads else 1
    per_request = Decimal(need.kv_bytes_per_token) / shards * tokens_per_request
    return max(0, int(room / per_request)) if per_request > 0 else 0


def estimate(
    need: MemoryNeed,
    spec: GpuSpec,
    tensor_parallel: int,
    *,
    input_tokens: int,
    output_tokens: int,
    concurrency: int,
    utilization: Decimal = Decimal("0.90"),
) -> Estimate:
    """Return what one replica serves with `concurrency` requests of this shape in flight (capped at what fits)."""
    fits = max_concurrency(need, spec, tensor_parallel, input_tokens + output_tokens, utilization)
    running = max(1, min(concurrency, fits)) if fits else 1
    context = input_tokens + output_tokens / 2  # the average request is half-way through its output
    step = decode_step_s(need, spec, tensor_parallel, running, context)
    prefill = prefill_s(need, spec, tensor_parallel, input_tokens)
    tpot = step + (running - 1) * prefill / output_tokens  # the others' prefills, spread over this output
    request_s = prefill + output_tokens * tpot
    return Estimate(
        tensor_parallel=tensor_parallel,
        concurrency=running,
        max_concurrency=fits,
        tokens_per_s=running * output_tokens / request_s,
        tpot_ms=tpot * 1000,
        ttft_ms=prefill * 1000,
        bound="compute" if is_compute_bound(need, spec, tensor_parallel, running, context) else "memory",
    )


def assumptions() -> list[str]:
    """Return the model's assumptions, one line each, for `plan --explain`."""
    nv, pcie = TP_STEP_OVERHEAD_S["nvlink"] * 1000, TP_STEP_OVERHEAD_S["pcie"] * 1000
    return [
        "decode is memory-bandwidth bound: each step reads all weights + every running request's KV cache, at "
        f"{DECODE_BANDWIDTH_EFFICIENCY:.0%} of the datasheet HBM bandwidth of the tensor-parallel GPUs",
        f"each step also costs {STEP_OVERHEAD_S * 1000:.1f} ms fixed, plus {nv:.1f} ms (NVLink) or {pcie:.1f} ms "
        "(PCIe) per doubling of the tensor-parallel degree for the all-reduces",
        f"prefill is compute bound: 2 x params x prompt tokens FLOPs at {COMPUTE_EFFICIENCY:.0%} of the dense "
        "tensor TFLOPS (fp8 tensor cores on Ada/Hopper; int8/int4 weights are multiplied at 16-bit)",
        "a request sees its decode step plus the other requests' prefills spread over its output; time to first "
        "token is its own prefill, without queueing",
        "concurrency is capped by the KV cache that fits beside the weights (90% of GPU memory, 2 GiB overhead)",
        "mixture-of-experts models are costed as if every expert were read each step (pessimistic at batch 1)",
        "fitted to published figures: cloudrun/data/throughput_points.csv (run benchmarks/bench_throughput.py)",
    ]
