"""Pre-quantized checkpoints (`--quantized-model ORG/NAME`): which method, how many bytes, and whether it is the model.

A quantized checkpoint says how it was quantized in its own config: `quantization_config` in config.json (vLLM
reads it there and picks the method itself, vllm/config/model.py `_parse_quant_hf_config`), or, for older AutoAWQ
and AutoGPTQ uploads, a `quant_config.json` / `quantize_config.json` beside it (vLLM's AWQConfig and GPTQConfig
`get_config_filenames`). cloudrun sizes the weights from those numbers, and refuses a checkpoint whose shape is not
the base model's. Known public checkpoints are built in (cloudrun/data/quantized.json, each with its source) so
they size offline; any other is read from the Hugging Face Hub, config files only, never weights.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

from cloudrun import sizing
from cloudrun.errors import InvalidInput
from cloudrun.inputs import bounds
from cloudrun.inputs.values import count
from cloudrun.plain import Precision

# Where each method's bytes come from, per quantized linear weight (embeddings, lm_head, norms stay 16-bit):
# - awq: 4-bit weights, a 16-bit scale and a 4-bit packed zero point per group (vLLM awq.py create_weights:
#   qweight int32 [K, N/8], qzeros int32 [K/g, N/8], scales fp16 [K/g, N]); TheBloke's 67B AWQ shards add up to
#   37.51 GB, this rule gives 37.52 GB.
# - gptq: the same layout (qweight, qzeros, scales); g_idx (one int32 per input row) is left out: under 0.01 %.
# - fp8 / compressed-tensors 8-bit: one byte a weight; per-channel or per-block scales are under 0.1 %.
# - bitsandbytes 4-bit (NF4, blocks of 64 with an 8-bit double-quantised absmax): 4 + 8/64 bits a weight.
METHODS = ("awq", "gptq", "fp8", "compressed-tensors", "bitsandbytes")
SHAPE_KEYS = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
              "intermediate_size", "vocab_size")  # fmt: skip
QUANT_FILES = ("quant_config.json", "quantize_config.json")


@dataclass(frozen=True)
class Quantized:
    """How a checkpoint's linear weights are stored: the method vLLM detects, bits, group size, and the precision."""

    checkpoint: str
    method: str
    bits: int
    group_size: int | None
    precision: Precision
    source: str

    def linear_bytes(self, linear: int) -> int:
        """Return the bytes `linear` quantized weights take in this format (scales and zero points included)."""
        if self.bits >= 8:
            return linear
        if self.method == "bitsandbytes":
            return -(-linear * (self.bits * 64 + 8) // (8 * 64))
        group = self.group_size or 128
        zero_bits = self.bits if self.method in ("awq", "gptq") else 0
        return -(-linear * (self.bits * group + 16 + zero_bits) // (8 * group))


@cache
def builtin() -> dict[str, dict[str, Any]]:
    """Return the built-in quantized checkpoints: {id: {base, quantization_config, source}}."""
    text = resources.files("cloudrun.data").joinpath("quantized.json").read_text(encoding="utf-8")
    return {key: value for key, value in json.loads(text).items() if not key.startswith("_")}


def describe(checkpoint: str, config: dict[str, Any], extra: dict[str, Any] | None = None,
             source: str = "config.json") -> Quantized:  # fmt: skip
    """Return how `checkpoint` is quantized, from its config.json (or the older separate quantization file)."""
    quant = config.get("quantization_config") or config.get("compression_config") or extra
    if not isinstance(quant, dict) or not quant:
        raise InvalidInput(
            f"{checkpoint} says nothing about how it is quantized (no quantization_config, no quant_config.json)",
            hint="name an AWQ, GPTQ, FP8 or bitsandbytes checkpoint, as vLLM could not detect its method either",
        )
    method = str(quant.get("quant_method") or ("awq" if "w_bit" in quant else "gptq" if "bits" in quant else ""))
    method = method.lower()
    if method not in METHODS:
        raise InvalidInput(f"{checkpoint} is quantized with {method or 'an unnamed method'!r}",
                           hint=f"cloudrun serves {', '.join(METHODS)} checkpoints")  # fmt: skip
    bits, group, kind = _bits(quant, method)
    precision = Precision.int4 if bits <= 4 else Precision.fp8 if kind == "float" else Precision.int8
    return Quantized(checkpoint, method, bits, group, precision, source)


def check_same_model(base_id: str, base: dict[str, Any], checkpoint: str, config: dict[str, Any]) -> None:
    """Raise InvalidInput when the quantized checkpoint's shape is not the base model's."""
    for key in SHAPE_KEYS:
        if key in config and key in base and config[key] != base[key]:
            raise InvalidInput(
                f"{checkpoint} is not a quantization of {base_id}: its {key} is {config[key]!r}, not {base[key]!r}",
                hint="name a quantized checkpoint of the same model (same architecture and size)",
            )


def _bits(quant: dict[str, Any], method: str) -> tuple[int, int | None, str]:
    """Return (bits a weight, group size, 'int' or 'float') from a quantization config, each checked."""
    if method == "fp8":
        return 8, None, "float"
    if method == "bitsandbytes":
        return (4 if quant.get("load_in_4bit", True) is not False else 8), None, "int"
    if method == "compressed-tensors":
        groups = quant.get("config_groups") or {}
        first = next(iter(groups.values()), {}) if isinstance(groups, dict) else None
        weights = (first.get("weights") if isinstance(first, dict) else None) or {}
        if not isinstance(first, dict) or not isinstance(weights, dict):
            raise InvalidInput("compressed-tensors config_groups must map group names to objects with weights")
        kind = weights.get("type") or "int"
        return _bit_count(weights.get("num_bits") or 8), _group(weights.get("group_size")), str(kind)[:16]
    bits = _bit_count(quant.get("bits") or quant.get("w_bit") or 4)
    return bits, _group(quant.get("group_size") or quant.get("q_group_size") or 128), "int"


def _bit_count(value: Any) -> int:
    if isinstance(value, bool) or value not in bounds.QUANT_BITS:
        raise InvalidInput(f"quantization bits {value!r} are not {', '.join(map(str, bounds.QUANT_BITS))}")
    return int(value)


def _group(value: Any) -> int | None:
    """Return the weights per quantization group; None for one group per row (-1, 0 or absent)."""
    if value is None or value in (-1, 0):
        return None
    return count(value, "quantization group_size", 1, bounds.MAX_QUANT_GROUP, "weights")


class Served(NamedTuple):
    """How the weights are served: precision, method, the checkpoint loaded, and its bytes served, at load, fetched."""

    precision: Precision
    method: str
    checkpoint: str
    weights: int
    load: int
    download: int
    unservable: str = ""


def as_shipped(model_id: str, cfg: dict[str, Any], params: int, precision: Precision) -> Served:
    """Return how the model's own checkpoint serves at `precision`: as it ships, or quantized by vLLM as it loads.

    vLLM's in-flight fp8 "load[s] the model at original precision before quantizing down to 8-bits, so you need
    enough memory to load the whole model" (docs/features/quantization/fp8.md); its in-flight bitsandbytes
    quantizes each weight as it is read (docs/features/quantization/bnb.md), so it never holds the 16-bit model.
    """
    native = sizing.default_precision(cfg)
    weights = sizing.weights_bytes(cfg, params, precision)
    shipped = sizing.weights_bytes(cfg, params, native)
    if precision is native:
        method = "fp8" if native is Precision.fp8 else "16-bit"
        return Served(precision, method, model_id, weights, weights, weights)
    if native is not Precision.bf16:
        why = f"{model_id} ships {native.value} weights only; cloudrun serves it at {native.value}"
        return Served(precision, "", model_id, weights, weights, shipped, why)
    if precision is Precision.fp8:
        return Served(precision, "fp8-dynamic", model_id, weights, params * 2, shipped)
    if precision is Precision.int4:
        return Served(precision, "bitsandbytes-dynamic", model_id, weights, weights, shipped)
    why = ("no serving image quantizes to int8 as it loads: name an 8-bit checkpoint (GPTQ or W8A8) with "
           "--quantized-model ORG/NAME, or use --precision fp8 (the same size, quantized as it loads)")  # fmt: skip
    return Served(precision, "", model_id, weights, weights, shipped, why)


def pre_quantized(model_id: str, cfg: dict[str, Any], params: int, checkpoint: str,
                   asked: Precision | None) -> Served:  # fmt: skip
    """Return how a pre-quantized checkpoint of the model serves: its method, sized from its own config."""
    known = builtin()
    if checkpoint in known:
        entry = known[checkpoint]
        _, shape = sizing.load_config(entry["base"], None)  # a built-in checkpoint has its base model's shape
        check_same_model(model_id, cfg, checkpoint, shape)
        found = describe(checkpoint, {"quantization_config": entry["quantization_config"]},
                                   source=entry["source"])  # fmt: skip
    else:
        _, q_cfg = sizing.load_config(checkpoint, None)
        check_same_model(model_id, cfg, checkpoint, q_cfg)
        extra = None if q_cfg.get("quantization_config") else quant_file(checkpoint)
        found = describe(checkpoint, q_cfg, extra)
    if asked is not None and asked is not found.precision:
        raise InvalidInput(f"{checkpoint} is {found.precision.value} ({found.method}, {found.bits}-bit), "
                           f"not {asked.value}", hint=f"drop --precision, or pass --precision {found.precision.value}")
    linear = sizing.param_counts(cfg).linear
    weights = (params - linear) * 2 + found.linear_bytes(linear)
    return Served(found.precision, found.method, checkpoint, weights, weights, weights)


def quant_file(checkpoint: str) -> dict[str, Any] | None:
    """Return the separate quantization file older AutoAWQ/AutoGPTQ uploads carry, if the Hub has one."""
    for name in QUANT_FILES:
        try:
            return sizing.fetch_from_hub(checkpoint, name)
        except InvalidInput:
            continue
    return None
