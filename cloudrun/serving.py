"""What can serve what: a GPU, a provider's pinned serving image, and how the weights are made -> the request.

The planner offers a placement only if its image can run the model at the asked precision on its GPU, and this
module says how the request must tell the container so (dtype, vLLM's --quantization, which checkpoint), or why
it cannot. Data, each piece with its source:
- GPU compute capabilities: cloudrun/data/gpus.csv (NVIDIA's CUDA GPUs tables).
- Each provider's image, its engine, the oldest GPU it runs on, what it quantizes as it loads and which
  pre-quantized checkpoints it reads, its start-up limit: the "serving" block of templates/<provider>.json,
  next to the image the requests use.
- vLLM's own rules, below, each with the vLLM file or document it comes from.
No I/O beyond reading those package files once.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from cloudrun.plain import MemoryNeed, Precision

TEMPLATES = {"aws": "sagemaker-lmi.json", "gcp": "vertex-vllm.json", "azure": "azureml-vllm.json"}

# vLLM's rules. bf16: vllm/platforms/cuda.py supported_dtypes returns bfloat16 only with has_device_capability(80),
# and check_if_supports_dtype refuses it below ("Bfloat16 is only supported on GPUs with compute capability of at
# least 8.0 ... --dtype=half"): such GPUs are sent fp16.
BF16_MIN_CC = 8.0
# fp8: "FP8 computation is supported on NVIDIA GPUs with compute capability >= 8.9 (Ada Lovelace, Hopper). FP8
# models will run on compute capability >= 7.5 (Turing) as weight-only W8A16, utilizing FP8 Marlin"
# (docs/features/quantization/fp8.md). Turing's Marlin came with vllm-project/vllm#29901 (merged 2025-12-02),
# after the 0.11/0.12 engines of the pinned images, whose fp8 floor is 8.0 (Ampere, vllm#5975).
FP8_W8A8_MIN_CC = 8.9
FP8_MIN_CC = 8.0
# Minimum compute capability per pre-quantized format (docs/features/quantization/supported_hardware.md, and each
# method's get_min_capability): AWQ 7.5 ("The AWQ kernel only supports Turing or newer GPUs", awq.py); GPTQ and
# bitsandbytes run from Volta (7.0) on; compressed-tensors INT8 W8A8 from Turing (7.5).
MIN_CC = {"awq": 7.5, "gptq": 7.0, "bitsandbytes": 7.0, "compressed-tensors": 7.5}
# The AWQ and GPTQ kernels take fp16 activations (awq.py get_supported_act_dtypes: [torch.half]); their Marlin
# kernels (chosen by vLLM itself from 8.0 on when no --quantization is passed) take fp16 too.
FP16_ONLY = {"awq", "gptq"}
BNB_COST = ("bitsandbytes 4-bit quantized as it loads: slower than AWQ/GPTQ (it does not use CUDA graphs, "
            "vllm-project/vllm#8743; one report: 71 s against 45 s at bf16, #9535); a pre-quantized AWQ checkpoint "
            "(--quantized-model) is faster")  # fmt: skip

# Time to serve from the Hugging Face Hub, for start-up limits and Azure's probes. Assumed, not measured: the
# container downloads the checkpoint in-region at 50 (pessimistic) to 200 (typical) MB/s, reads it onto the
# GPUs at 1 GB/s, then vLLM profiles memory and captures CUDA graphs (2 to 5 minutes).
DOWNLOAD_BYTES_PER_S = {"typical": 200e6, "pessimistic": 50e6}
LOAD_BYTES_PER_S = 1e9
ENGINE_START_S = {"typical": 120.0, "pessimistic": 300.0}


@dataclass(frozen=True)
class Serving:
    """How a placement serves the model: the dtype and vLLM --quantization the request sets, the checkpoint loaded."""

    dtype: str  # "bf16" or "fp16"
    quantization: str | None  # vLLM's --quantization, only for quantizing as it loads; None lets vLLM read it
    checkpoint: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Gpu:
    model: str
    compute_capability: float
    architecture: str
    source: str


@dataclass(frozen=True)
class Image:
    """What one provider's pinned serving image can do (templates/<provider>.json, block "serving")."""

    provider: str
    image: str
    engine: str
    min_compute_capability: float
    in_flight: frozenset[str]
    checkpoints: frozenset[str]
    startup_limit_s: float | None
    regions: frozenset[str] | None  # where the image is published, when that differs by region
    sources: dict[str, str]


@cache
def gpus() -> dict[str, Gpu]:
    """Return the GPU facts by the catalog's gpu_model name."""
    text = resources.files("cloudrun.data").joinpath("gpus.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO(text))
    return {r["gpu_model"]: Gpu(r["gpu_model"], float(r["compute_capability"]), r["architecture"], r["source"])
            for r in rows}  # fmt: skip


@cache
def image(provider: str) -> Image | None:
    """Return the serving image facts of a provider's template, or None for a provider cloudrun has none for."""
    if provider not in TEMPLATES:
        return None
    template = _template(TEMPLATES[provider])
    facts = template["serving"]
    return Image(
        provider=provider,
        image=template["image"],
        engine=facts["engine"],
        min_compute_capability=float(facts["min_compute_capability"]),
        in_flight=frozenset(facts["in_flight"]),
        checkpoints=frozenset(facts["checkpoints"]),
        startup_limit_s=facts.get("startup_limit_s"),
        regions=frozenset(template["registries"]) if "registries" in template else None,
        sources={key.removesuffix("_source"): value for key, value in facts.items() if key.endswith("_source")},
    )


def verdict(need: MemoryNeed, provider: str, region: str, gpu_model: str) -> Serving | str:
    """Return how this placement serves `need`, or why it cannot (a reason naming its source)."""
    if need.unservable:
        return need.unservable
    facts = image(provider)
    if facts is None:
        return f"cloudrun knows no serving image for {provider}"
    if facts.regions is not None and region not in facts.regions:
        return f"the serving image ({facts.engine}) is not published in {region} (templates/{TEMPLATES[provider]})"
    gpu = gpus().get(gpu_model)
    if gpu is None:
        return f"the compute capability of {gpu_model} GPUs is unknown: add it to cloudrun/data/gpus.csv"
    if gpu.compute_capability < facts.min_compute_capability:
        return (f"{facts.engine} does not run on {gpu_model} (compute capability {gpu.compute_capability:.1f}, "
                f"needs {facts.min_compute_capability:.1f}): {facts.sources.get('min_compute_capability', '')}")
    return _method(need, facts, gpu)


def _method(need: MemoryNeed, facts: Image, gpu: Gpu) -> Serving | str:
    cc, method, checkpoint = gpu.compute_capability, need.method, need.loaded_checkpoint
    dtype = "bf16" if cc >= BF16_MIN_CC else "fp16"
    notes = [] if dtype == "bf16" else [f"{gpu.model} has no bf16 (compute capability {cc:.1f}): served as fp16"]
    if method == "16-bit":
        return Serving(dtype, None, checkpoint, tuple(notes))
    in_flight = method.endswith("-dynamic")
    kind = method.removesuffix("-dynamic")
    offered = facts.in_flight if in_flight else facts.checkpoints
    how = "quantize to" if in_flight else "read"
    if kind not in offered:
        where = "in_flight" if in_flight else "checkpoints"
        return f"the {facts.provider} image ({facts.engine}) does not {how} {kind}: {facts.sources.get(where, '')}"
    fp8 = kind == "fp8" or (kind == "compressed-tensors" and need.precision is Precision.fp8)
    if fp8:
        if cc < FP8_MIN_CC:
            return (f"fp8 needs compute capability {FP8_MIN_CC:.1f} (weight-only, Marlin) or {FP8_W8A8_MIN_CC:.1f} "
                    f"on this engine; {gpu.model} has {cc:.1f}")  # fmt: skip
        if cc < FP8_W8A8_MIN_CC:
            notes.append(f"fp8 on {gpu.architecture} is weight-only (Marlin): it saves memory, not time")
    elif cc < MIN_CC.get(kind, 0.0):
        return f"{kind} needs compute capability {MIN_CC[kind]:.1f}; {gpu.model} has {cc:.1f}"
    if kind in FP16_ONLY:
        dtype = "fp16"
    if kind == "bitsandbytes" and in_flight:
        notes.append(BNB_COST)
    return Serving(dtype, kind if in_flight else None, checkpoint, tuple(notes))


def startup_estimate_s(need: MemoryNeed, gpu_count: int, case: str = "typical") -> float:
    """Return the assumed seconds from container start to serving: download, load onto the GPUs, engine start."""
    download = (need.download_bytes or need.weights_bytes) / DOWNLOAD_BYTES_PER_S[case]
    load = need.peak_load_bytes / (LOAD_BYTES_PER_S * max(1, gpu_count))
    return download + load + ENGINE_START_S[case]


def startup_warning(need: MemoryNeed, provider: str, gpu_count: int) -> str | None:
    """Return a warning when the pessimistic time to serve passes the provider's start-up limit, or None."""
    facts = image(provider)
    if facts is None or not facts.startup_limit_s:
        return None
    slow = startup_estimate_s(need, gpu_count, "pessimistic")
    if slow <= facts.startup_limit_s:
        return None
    fast = startup_estimate_s(need, gpu_count, "typical")
    return (f"downloading and loading {need.download_bytes / 1e9:.0f} GB may take {fast / 60:.0f}-{slow / 60:.0f} min, "
            f"past {provider}'s {facts.startup_limit_s / 60:.0f}-minute start-up limit if the Hub is slow")


@cache
def _template(name: str) -> dict[str, Any]:
    return json.loads(resources.files("cloudrun.templates").joinpath(name).read_text(encoding="utf-8"))
