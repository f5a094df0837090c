"""What a vLLM serving container does with what it is given, for the sandbox's three fakes: serve, or die as vLLM dies.

A cloud accepts a create request long before the container in it starts; a request that names the wrong dtype, a
quantization the GPU cannot run, or weights that do not fit is accepted, bills, and never serves. The fakes ask
`start()` when an endpoint would come up and fail it the way the cloud reports a dead container, so a test against
the sandbox fails for the reasons production would.

Deliberately separate from cloudrun.serving (a fake that reuses the code under test proves nothing about it): its
own tables of what each instance type holds and of vLLM's refusals, each from the hardware or vLLM source, and its
own reading of each image's requests (LMI environment, Vertex container args, the Azure wrapper's VLLM_ARGS).
Images it does not recognise are not judged (they start).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

# Compute capability per GPU (NVIDIA CUDA GPUs tables) and GPU memory in GB.
_GPUS = {"T4": (7.5, 16), "V100": (7.0, 16), "A10G": (8.6, 24), "A10": (8.6, 24), "L4": (8.9, 24),
         "L40S": (8.9, 48), "A100-40": (8.0, 40), "A100-80": (8.0, 80), "H100": (9.0, 80), "H100-NVL": (9.0, 94),
         "H200": (9.0, 141)}  # fmt: skip
# What each instance type holds: (GPU, count). SageMaker ml.* (AWS instance type pages), Azure ML sizes
# (reference-managed-online-endpoints-vm-sku-list.md); Vertex machines carry their GPUs in the request itself.
_AWS = [(r"ml\.g4dn\.12xlarge", "T4", 4), (r"ml\.g4dn\.", "T4", 1), (r"ml\.g5\.(12|24)xlarge", "A10G", 4),
        (r"ml\.g5\.48xlarge", "A10G", 8), (r"ml\.g5\.", "A10G", 1), (r"ml\.g6\.(12|24)xlarge", "L4", 4),
        (r"ml\.g6\.48xlarge", "L4", 8), (r"ml\.g6\.", "L4", 1), (r"ml\.g6e\.(12|24)xlarge", "L40S", 4),
        (r"ml\.g6e\.48xlarge", "L40S", 8), (r"ml\.g6e\.", "L40S", 1), (r"ml\.p4d\.", "A100-40", 8),
        (r"ml\.p4de\.", "A100-80", 8), (r"ml\.p5\.", "H100", 8)]  # fmt: skip
_AZURE = [(r"Standard_NC64as_T4_v3", "T4", 4), (r"Standard_NC\d+as_T4_v3", "T4", 1), (r"Standard_NC6s_v3", "V100", 1),
          (r"Standard_NC12s_v3", "V100", 2), (r"Standard_NC24s_v3", "V100", 4), (r"Standard_NV36ads_A10_v5", "A10", 1),
          (r"Standard_NC24ads_A100_v4", "A100-80", 1), (r"Standard_NC48ads_A100_v4", "A100-80", 2),
          (r"Standard_NC96ads_A100_v4", "A100-80", 4), (r"Standard_ND96asr_v4", "A100-40", 8),
          (r"Standard_ND96amsr_A100_v4", "A100-80", 8), (r"Standard_NC40ads_H100_v5", "H100-NVL", 1),
          (r"Standard_NC80adis_H100_v5", "H100-NVL", 2), (r"Standard_ND96isr_H100_v5", "H100", 8)]  # fmt: skip
# Vertex's AcceleratorType, by name and by the number the REST API sends with enum-encoding=int
# (google.cloud.aiplatform.v1 accelerator_type.proto).
_ACCELERATORS = {"NVIDIA_TESLA_T4": "T4", "NVIDIA_L4": "L4", "NVIDIA_TESLA_A100": "A100-40",
                 "NVIDIA_A100_80GB": "A100-80", "NVIDIA_H100_80GB": "H100", "NVIDIA_H200_141GB": "H200",
                 "5": "T4", "11": "L4", "8": "A100-40", "9": "A100-80", "13": "H100", "15": "H200"}  # fmt: skip
# vLLM's minimum compute capability per quantization method (each method's get_min_capability; fp8 and Marlin
# kernels from Ampere on in the 0.11/0.12 engines, vllm-project/vllm#5975; Turing Marlin only after #29901).
_QUANT_MIN = {"fp8": 8.0, "awq": 7.5, "awq_marlin": 8.0, "gptq": 6.0, "gptq_marlin": 8.0, "bitsandbytes": 7.0,
              "compressed-tensors": 7.0}  # fmt: skip
_LMI_DTYPES = {"fp32", "float32", "fp16", "float16", "bf16", "bfloat16", "auto"}  # LMI's DTYPE_MAPPER
OVERHEAD_GB = 1.0  # CUDA context and activations: the least a GPU needs beside the weights


@dataclass(frozen=True)
class Launch:
    """One container start: the image, the model and how it is told to serve, and the GPUs it gets."""

    image: str
    model: str
    dtype: str
    quantization: str | None
    tensor_parallel: int
    gpu: str
    gpu_count: int
    shared_memory_mb: int | None = None
    host_memory_gb: float | None = None


def start(launch: Launch) -> str | None:
    """Return None if the container would come up and serve, else the error it logs before it dies."""
    engine = _engine(launch.image)
    if engine is None or launch.gpu not in _GPUS:
        return None  # not a vLLM image the sandbox knows, or hardware it does not: not judged
    cc, memory_gb = _GPUS[launch.gpu]
    if engine >= (0, 11) and cc < 7.5:
        version = f"{engine[0]}.{engine[1]}"
        return ("RuntimeError: CUDA error: no kernel image is available for execution on the device "
                f"(vLLM {version} on a compute capability {cc} GPU; vllm-project/vllm#27729)")  # fmt: skip
    if launch.dtype in ("bf16", "bfloat16") and cc < 8.0:
        return ("ValueError: Bfloat16 is only supported on GPUs with compute capability of at least 8.0. Your "
                f"{launch.gpu} GPU has compute capability {cc}. You can use float16 instead by explicitly setting "
                "the `dtype` flag in CLI, for example: --dtype=half.")  # fmt: skip
    if launch.quantization:
        needed = _QUANT_MIN.get(launch.quantization)
        if needed is None:
            return f"ValueError: Unknown quantization method: {launch.quantization}."
        if cc < needed:
            return (f"ValueError: The quantization method {launch.quantization} is not supported for the current "
                    f"GPU. Minimum capability: {int(needed * 10)}. Current capability: {int(cc * 10)}.")  # fmt: skip
    if launch.shared_memory_mb and launch.host_memory_gb and launch.shared_memory_mb / 1024 >= launch.host_memory_gb:
        return (f"the container asks {launch.shared_memory_mb} MB of shared memory from a VM with "
                f"{launch.host_memory_gb:g} GB: it cannot be scheduled")  # fmt: skip
    loaded = _load_gb(launch.model, launch.quantization)
    per_gpu = None if loaded is None else loaded / max(1, launch.tensor_parallel) + OVERHEAD_GB
    if per_gpu is not None and per_gpu > memory_gb * 0.9:
        return (f"torch.OutOfMemoryError: CUDA out of memory loading {launch.model}: {per_gpu:.1f} GB per GPU, "
                f"{memory_gb} GB {launch.gpu}s (tensor parallel {launch.tensor_parallel})")  # fmt: skip
    return None


def aws_gpus(instance_type: str) -> tuple[str, int]:
    return next(((gpu, n) for pattern, gpu, n in _AWS if re.match(pattern, instance_type)), ("", 0))


def azure_gpus(instance_type: str) -> tuple[str, int]:
    return next(((gpu, n) for pattern, gpu, n in _AZURE if re.fullmatch(pattern, instance_type)), ("", 0))


def vertex_gpu(accelerator_type: str) -> str:
    return _ACCELERATORS.get(accelerator_type, "")


def vertex_memory_gb(machine_type: str) -> float | None:
    """Return a Vertex machine's RAM in GB (Compute Engine accelerator-optimized machine series), or None."""
    found = re.fullmatch(r"(g2-standard|a2-highgpu|a2-ultragpu|a3-highgpu|a3-ultragpu)-(\d+)g?", machine_type)
    if not found:
        return None
    family, size = found[1], int(found[2])
    per = {"g2-standard": 4.0, "a2-highgpu": 85.0, "a2-ultragpu": 170.0, "a3-highgpu": 234.0, "a3-ultragpu": 369.0}
    return per[family] * size


def lmi_launch(image: str, environment: dict[str, str], instance_type: str) -> Launch | str:
    """Return the Launch an LMI container reads from its environment, or the error LMI raises on a bad value."""
    dtype = environment.get("OPTION_DTYPE", "auto")
    if dtype not in _LMI_DTYPES:
        return f"ValueError: Invalid dtype={dtype} provided. Must be one of {sorted(_LMI_DTYPES)}"
    gpu, count = aws_gpus(instance_type)
    tp = environment.get("TENSOR_PARALLEL_DEGREE") or environment.get("OPTION_TENSOR_PARALLEL_DEGREE") or "1"
    return Launch(image, environment.get("HF_MODEL_ID", ""), dtype, environment.get("OPTION_QUANTIZE"),
                  count if tp == "max" else int(tp), gpu, count)  # fmt: skip


def args_launch(image: str, args: list[str], gpu: str, count: int, **host: int | float | None) -> Launch:
    """Return the Launch a vLLM server reads from its command-line arguments (--flag=value or --flag value)."""
    flags: dict[str, str] = {}
    for index, arg in enumerate(args):
        if arg.startswith("--"):
            key, _, value = arg[2:].partition("=")
            if not value and index + 1 < len(args) and not args[index + 1].startswith("--"):
                value = args[index + 1]
            flags[key] = value
    return Launch(image, flags.get("model", ""), flags.get("dtype", "auto"), flags.get("quantization"),
                  int(flags.get("tensor-parallel-size") or 1), gpu, count, **host)  # type: ignore[arg-type]  # fmt: skip


def wrapper_args(environment: dict[str, str]) -> list[str]:
    """Return the vLLM arguments cloudrun's Azure wrapper image runs: `vllm serve "$VLLM_MODEL" $VLLM_ARGS`."""
    return ["--model", environment.get("VLLM_MODEL", ""), *shlex.split(environment.get("VLLM_ARGS", ""))]


def wrapper_model(image: str, model: str, config_folders: dict[str, str]) -> str:
    """Return the folder (or Hub id) cloudrun's Azure wrapper serves when told VLLM_MODEL=`model`.

    From wrapper revision r2 (image tag ...-r2, templates/azureml-vllm.json), a folder without config.json is
    replaced by the shallowest folder under it that holds one (`config_folders`: the folders holding one); earlier
    wrappers serve VLLM_MODEL as given.
    """
    found = re.search(r"vllm-wrapper:v[\d.]+-r(\d+)", image)
    if found is None or int(found[1]) < 2 or model in config_folders:
        return model
    under = [folder for folder in config_folders if folder.startswith(model.rstrip("/") + "/")]
    return min(under, key=lambda folder: folder.count("/"), default=model)


def _engine(image: str) -> tuple[int, int] | None:
    if "djl-inference:0.36.0-lmi18" in image:
        return (0, 12)  # LMI V18 release notes: vLLM 0.12.0
    found = re.search(r"vllm-openai:v(\d+)\.(\d+)", image) or re.search(r"vllm-wrapper:v(\d+)\.(\d+)", image)
    if found:
        return int(found[1]), int(found[2])
    if "pytorch-vllm-serve:2025" in image or "pytorch-vllm-serve:2026" in image:
        return (0, 11)  # Google's builds of late 2025: judged by vLLM's current rules
    return None


def _load_gb(model: str, quantization: str | None) -> float | None:
    """Return the GB of weights the container holds on its GPUs while loading, for models the sandbox can size."""
    from cloudrun import quantized, sizing  # the model arithmetic (config.json), not the serving rules under test
    from cloudrun.errors import InvalidInput

    known = {model_id.lower() for model_id in sizing.builtin_ids()}
    try:  # built-in configs only: the sandbox never reaches the Hugging Face Hub
        if model in quantized.builtin():
            entry = quantized.builtin()[model]
            return sizing.need(entry["base"], quantized_model=model).weights_bytes / 1e9
        if model.lower() not in known:
            return None
        _, config = sizing.load_config(model, None)
    except InvalidInput:
        return None
    params = sizing.count_params(config)
    shipped = sizing.default_precision(config)
    if quantization == "bitsandbytes":
        return sizing.weights_bytes(config, params, "int4") / 1e9  # quantized as each weight is read
    return sizing.weights_bytes(config, params, shipped) / 1e9  # as shipped: fp8 in-flight loads 16-bit first
