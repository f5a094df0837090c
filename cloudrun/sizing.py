"""How much GPU memory a model needs to serve: parameters, weight bytes, KV cache bytes per token.

Everything is arithmetic over the model's Hugging Face `config.json`: a built-in copy for the models
cloudrun knows (cloudrun/data/models/), a file the user passes with --config, or the Hub's copy.
Only config.json is ever fetched, never weights. Memory is in bytes throughout.
"""

from __future__ import annotations

import os
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from cloudrun.errors import InvalidInput
from cloudrun.inputs import bounds, files, model_config
from cloudrun.inputs.values import count
from cloudrun.plain import MemoryNeed, Precision

# Per-GPU memory that is neither weights nor KV cache: the CUDA context and NCCL buffers, activations
# for one forward pass, and the CUDA graphs vLLM captures. An estimate, not a measurement: each is
# roughly 0.5-1 GiB, so 2 GiB per GPU is a round, slightly generous allowance for the models here.
OVERHEAD_PER_GPU_BYTES = 2 * 1024**3

HUB_CONFIG_URL = "https://huggingface.co/{model_id}/resolve/main/config.json"
HUB_TIMEOUT_SECONDS = 5
_CONFIG_HINT = "check the --config path"
_HF_ID = re.compile(r"(?!.*\.\.)[A-Za-z0-9][\w.-]*/[\w.-]+")

# Chat variants with the same shape as a shipped config use its file (each file's _name_or_path is its id).
ALIASES = {
    "deepseek-ai/deepseek-llm-7b-chat": "deepseek-ai/deepseek-llm-7b-base",
    "deepseek-ai/deepseek-llm-67b-chat": "deepseek-ai/deepseek-llm-67b-base",
    "deepseek-ai/DeepSeek-V2-Lite-Chat": "deepseek-ai/DeepSeek-V2-Lite",
}
_HINT_EXAMPLES = ("deepseek-ai/deepseek-llm-7b-chat", "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B")

# Architecture -> how its layers are built. DeepSeek LLM 7B/67B ship as LlamaForCausalLM.
_FAMILIES = {
    "LlamaForCausalLM": "llama",
    "MistralForCausalLM": "llama",
    "Qwen2ForCausalLM": "qwen2",
    "DeepseekV2ForCausalLM": "mla",
    "DeepseekV3ForCausalLM": "mla",
}
_ARCH_BY_MODEL_TYPE = {
    "llama": "LlamaForCausalLM",
    "mistral": "MistralForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
    "deepseek_v2": "DeepseekV2ForCausalLM",
    "deepseek_v3": "DeepseekV3ForCausalLM",
}
_COMMON_KEYS = (
    "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "vocab_size",
    "max_position_embeddings",
)  # fmt: skip
_MLA_KEYS = ("kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim")
_INT4_GROUP_SIZE = 128  # AWQ/GPTQ default: one 16-bit scale per 128 weights


class ParamCounts(NamedTuple):
    """Parameters split by how quantised checkpoints store them."""

    linear: int  # weight matrices of the linear layers inside the transformer blocks
    sixteen_bit: int  # embeddings, lm_head, norms, biases, MoE router: 16-bit in FP8/AWQ/GPTQ checkpoints


def builtin_ids() -> list[str]:
    """Return the Hugging Face ids cloudrun can size without a network or a --config file."""
    return sorted((model_id for model_id, _ in _builtin_files().values()), key=str.lower)


@cache
def _builtin_files() -> dict[str, tuple[str, str]]:
    """Return {lower-cased id: (Hugging Face id, file name)} for cloudrun/data/models, aliases included."""
    files = {}
    for entry in resources.files("cloudrun.data.models").iterdir():
        if entry.name.endswith(".json"):
            files[_parse_json(entry.read_bytes(), entry.name)["_name_or_path"]] = entry.name
    files.update({alias: files[target] for alias, target in ALIASES.items()})
    return {model_id.lower(): (model_id, name) for model_id, name in files.items()}


def load_config(model_id: str | None, config_path: Path | None) -> tuple[str, dict[str, Any]]:
    """Return (model id, config.json dict) from --config, the built-in copies, or the Hugging Face Hub."""
    if config_path is not None:
        path = Path(config_path)
        cfg = _parse_json(files.read_bounded(path, "config file", bounds.MAX_CONFIG_BYTES, _CONFIG_HINT), str(path))
        source = str(path)
        resolved = model_id or cfg.get("_name_or_path") or path.name
    elif not model_id:
        raise InvalidInput("no model given", hint="name a Hugging Face model id or pass --config PATH")
    elif model_id.lower() in _builtin_files():
        resolved, name = _builtin_files()[model_id.lower()]
        source = f"built-in {name}"
        cfg = _parse_json(resources.files("cloudrun.data.models").joinpath(name).read_bytes(), source)
    else:
        resolved, source = model_id, HUB_CONFIG_URL.format(model_id=model_id)
        cfg = fetch_from_hub(model_id)
    _validate(cfg, source)
    return str(resolved), cfg


def count_params(cfg: dict[str, Any]) -> int:
    """Return the exact parameter count of the served model (MTP / next-token-prediction layers excluded)."""
    counts = param_counts(cfg)
    return counts.linear + counts.sixteen_bit


def param_counts(cfg: dict[str, Any]) -> ParamCounts:
    """Return the parameters split into block linear weights and everything kept at 16-bit."""
    hidden, layers = _int(cfg, "hidden_size"), _int(cfg, "num_hidden_layers")
    # Every supported config class defaults tie_word_embeddings to False (only PretrainedConfig says True).
    embeddings = _int(cfg, "vocab_size") * hidden * (1 if cfg.get("tie_word_embeddings", False) else 2)
    norms = (2 * layers + 1) * hidden  # input + post-attention RMSNorm per layer, one final norm
    parts = [ParamCounts(0, embeddings + norms)]
    mla = _family(cfg, "config.json") == "mla"
    attention = _mla_attention(cfg) if mla else _attention(cfg)
    for layer in range(layers):
        parts += [attention, _mlp(cfg, layer)]
    return ParamCounts(sum(p.linear for p in parts), sum(p.sixteen_bit for p in parts))


def weights_bytes(cfg: dict[str, Any], params: int, precision: Precision | str) -> int:
    """Return the bytes the weights take on the GPUs at `precision`.

    bf16 stores every parameter in 2 bytes. fp8 and int8 store the block linear weights in 1 byte and
    int4 in half a byte plus a 16-bit scale and a 4-bit zero point per group of 128 weights (AWQ/GPTQ);
    embeddings, lm_head, norms, biases and the MoE router stay 16-bit, as FP8/AWQ/GPTQ checkpoints ship.
    The per-block or per-channel scales of fp8/int8 are ignored: under 0.1% of the weights.
    """
    precision = _precision(precision)
    if precision is Precision.bf16:
        return params * 2
    linear = param_counts(cfg).linear
    sixteen_bit_bytes = (params - linear) * 2
    if precision is Precision.int4:  # AWQ/GPTQ layout: a 16-bit scale and a 4-bit zero point per group
        groups = -(-linear // _INT4_GROUP_SIZE)
        return sixteen_bit_bytes + linear // 2 + groups * 2 + -(-groups // 2)
    return sixteen_bit_bytes + linear


def kv_bytes_per_token(cfg: dict[str, Any], precision: Precision | str | None = None) -> int:
    """Return the KV-cache bytes one token takes across all layers.

    The cache is 16-bit whatever the weight precision (vLLM's kv_cache_dtype=auto follows the activation
    dtype), so `precision` does not change the answer. MHA/GQA caches K and V for each KV head; MLA
    (DeepSeek V2/V3) caches one compressed latent plus the shared RoPE key per layer, as vLLM does.
    """
    layers = _int(cfg, "num_hidden_layers")
    if _family(cfg, "config.json") == "mla":
        return layers * (_int(cfg, "kv_lora_rank") + _int(cfg, "qk_rope_head_dim")) * 2
    kv_heads = cfg.get("num_key_value_heads") or _int(cfg, "num_attention_heads")
    return 2 * layers * kv_heads * _head_dim(cfg) * 2


def default_precision(cfg: dict[str, Any]) -> Precision:
    """Return the precision the checkpoint ships in: fp8 for FP8 checkpoints (DeepSeek V3/R1), else bf16."""
    quantization = cfg.get("quantization_config") or {}
    return Precision.fp8 if quantization.get("quant_method") == "fp8" else Precision.bf16


def need(
    model_id: str | None,
    *,
    precision: Precision | str | None = None,
    context: int | None = None,
    concurrency: int = 1,
    config_path: Path | None = None,
    quantized_model: str | None = None,
) -> MemoryNeed:
    """Return what serving the model needs: weights + KV cache for context x concurrency + one GPU's overhead.

    The weights are sized as they will really be loaded: the checkpoint as it ships, vLLM's in-flight fp8 or
    bitsandbytes 4-bit, or a pre-quantized `quantized_model` sized from its own quantization config.
    """
    # Check the request before loading, so a bad flag never costs a trip to the Hub.
    chosen = _precision(precision) if precision is not None else None
    _check_positive(context=context, concurrency=concurrency)
    resolved, cfg = load_config(model_id, config_path)
    max_context = _int(cfg, "max_position_embeddings")
    context = min(4096, max_context) if context is None else context
    if context > max_context:
        raise InvalidInput(
            f"context {context} is longer than {resolved}'s maximum of {max_context} tokens",
            hint=f"pass --context {max_context} or less",
        )
    params = count_params(cfg)
    from cloudrun import quantized  # it builds on this module's arithmetic

    if quantized_model:
        served = quantized.pre_quantized(resolved, cfg, params, quantized_model, chosen)
    else:
        served = quantized.as_shipped(resolved, cfg, params, chosen or default_precision(cfg))
    kv_per_token = kv_bytes_per_token(cfg, served.precision)
    mla = _family(cfg, "config.json") == "mla"
    return MemoryNeed(
        id=resolved,
        architecture=_architecture(cfg),
        params=params,
        precision=served.precision,
        weights_bytes=served.weights,
        kv_bytes_per_token=kv_per_token,
        context=context,
        concurrency=concurrency,
        required_bytes=served.weights + kv_per_token * context * concurrency + OVERHEAD_PER_GPU_BYTES,
        attention_heads=_int(cfg, "num_attention_heads"),
        kv_heads=None if mla else cfg.get("num_key_value_heads") or _int(cfg, "num_attention_heads"),
        max_context=max_context,
        overhead_bytes_per_gpu=OVERHEAD_PER_GPU_BYTES,
        method=served.method,
        checkpoint=served.checkpoint,
        load_bytes=served.load,
        download_bytes=served.download,
        unservable=served.unservable,
    )


def _check_positive(*, context: int | None, concurrency: int) -> None:
    if context is not None:  # no model's context is longer; this model's own maximum is checked once it is loaded
        count(context, "--context", 1, bounds.CONFIG_COUNTS["max_position_embeddings"][1], "tokens")
    count(concurrency, "--concurrency", 1, bounds.MAX_CONCURRENCY, "sequences at a time")


def _attention(cfg: dict[str, Any]) -> ParamCounts:
    """q, k, v, o projections with GQA/MQA; Qwen2 has q/k/v biases, Llama only if attention_bias."""
    hidden, heads = _int(cfg, "hidden_size"), _int(cfg, "num_attention_heads")
    kv_heads, head_dim = cfg.get("num_key_value_heads") or heads, _head_dim(cfg)
    q_width, kv_width = heads * head_dim, kv_heads * head_dim
    linear = hidden * q_width + 2 * hidden * kv_width + q_width * hidden
    bias = 0
    if _family(cfg, "config.json") == "qwen2":
        bias = q_width + 2 * kv_width
    elif cfg.get("attention_bias"):
        bias = q_width + 2 * kv_width + hidden
    return ParamCounts(linear, bias)


def _mla_attention(cfg: dict[str, Any]) -> ParamCounts:
    """DeepSeek V2/V3 multi-head latent attention: low-rank q (optional) and compressed kv projections."""
    hidden, heads = _int(cfg, "hidden_size"), _int(cfg, "num_attention_heads")
    rope, nope = _int(cfg, "qk_rope_head_dim"), _int(cfg, "qk_nope_head_dim")
    v_head, kv_rank = _int(cfg, "v_head_dim"), _int(cfg, "kv_lora_rank")
    q_rank = cfg.get("q_lora_rank")
    if q_rank:  # q_a_proj, q_a_layernorm, q_b_proj
        q_linear, q_norm = hidden * q_rank + q_rank * heads * (nope + rope), q_rank
    else:  # one q_proj (V2-Lite)
        q_linear, q_norm = hidden * heads * (nope + rope), 0
    kv_linear = hidden * (kv_rank + rope) + kv_rank * heads * (nope + v_head)  # kv_a_proj_with_mqa, kv_b_proj
    o_linear = heads * v_head * hidden
    return ParamCounts(q_linear + kv_linear + o_linear, q_norm + kv_rank)  # + kv_a_layernorm


def _mlp(cfg: dict[str, Any], layer: int) -> ParamCounts:
    """A gated MLP (gate, up, down), or an MoE layer with every routed and shared expert resident."""
    hidden = _int(cfg, "hidden_size")
    if _is_moe_layer(cfg, layer):
        routed, width = _int(cfg, "n_routed_experts"), _int(cfg, "moe_intermediate_size")
        experts = routed + (cfg.get("n_shared_experts") or 0)
        router = routed * hidden
        if cfg.get("model_type") == "deepseek_v3":  # the noaux_tc router's e_score_correction_bias
            router += routed
        return ParamCounts(experts * 3 * hidden * width, router)
    width = _int(cfg, "intermediate_size")
    return ParamCounts(3 * hidden * width, (2 * width + hidden) if cfg.get("mlp_bias") else 0)


def _is_moe_layer(cfg: dict[str, Any], layer: int) -> bool:
    if not cfg.get("n_routed_experts") or _family(cfg, "config.json") != "mla":
        return False
    return layer >= (cfg.get("first_k_dense_replace") or 0) and layer % (cfg.get("moe_layer_freq") or 1) == 0


def _head_dim(cfg: dict[str, Any]) -> int:
    return cfg.get("head_dim") or _int(cfg, "hidden_size") // _int(cfg, "num_attention_heads")


def _int(cfg: dict[str, Any], key: str, source: str = "config.json") -> int:
    """Return cfg[key] as a positive int, or raise InvalidInput naming the key and the file."""
    if key not in cfg:
        raise InvalidInput(f"{source} has no {key!r}", hint="pass the model's full Hugging Face config.json")
    value = cfg[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{source}: {key!r} must be a positive integer, got {value!r}")
    return value


def _architecture(cfg: dict[str, Any]) -> str:
    """Return architectures[0], or the architecture the model_type implies."""
    architectures = cfg.get("architectures")
    if isinstance(architectures, list) and architectures:
        return str(architectures[0])
    model_type = str(cfg.get("model_type"))
    return _ARCH_BY_MODEL_TYPE.get(model_type, model_type)


def _family(cfg: dict[str, Any], source: str) -> str:
    architecture = _architecture(cfg)
    if architecture not in _FAMILIES:
        raise InvalidInput(
            f"{source}: unsupported architecture {architecture}; supported: {', '.join(_FAMILIES)}",
            hint="cloudrun sizes Llama, Mistral, Qwen2 and DeepSeek V2/V3 models",
        )
    return _FAMILIES[architecture]


def _validate(cfg: dict[str, Any], source: str) -> None:
    model_config.check(cfg, source)
    keys = _COMMON_KEYS + (_MLA_KEYS if _family(cfg, source) == "mla" else ())
    if cfg.get("n_routed_experts"):
        keys += ("moe_intermediate_size",)
    for key in keys:
        _int(cfg, key, source)


def _precision(value: Precision | str) -> Precision:
    try:
        return Precision(value)
    except ValueError:
        choices = "|".join(p.value for p in Precision)
        raise InvalidInput(f"unknown precision {value!r}", hint=f"use one of {choices}") from None


def _parse_json(text: bytes, source: str) -> dict[str, Any]:
    cfg = files.parse_json(text, source, "pass the model's config.json")
    if not isinstance(cfg, dict):
        raise InvalidInput(f"{source} is not a config.json: expected a JSON object")
    return cfg


def fetch_from_hub(model_id: str, filename: str = "config.json") -> dict[str, Any]:
    """Fetch one small JSON file (config.json, never weights) from the Hugging Face Hub, unless CLOUDRUN_OFFLINE."""
    shown = ", ".join(_HINT_EXAMPLES)
    more = len(_builtin_files()) - len(_HINT_EXAMPLES)
    hint = f"download its config.json and pass --config PATH; built-in: {shown} and {more} more"
    if os.environ.get("CLOUDRUN_OFFLINE", "") not in ("", "0"):
        raise InvalidInput(f"unknown model {model_id!r} and CLOUDRUN_OFFLINE is set", hint=hint)
    if not _HF_ID.fullmatch(model_id):
        raise InvalidInput(f"unknown model {model_id!r}: not a Hugging Face id like owner/name", hint=hint)
    url = HUB_CONFIG_URL.format(model_id=model_id).replace("config.json", filename)
    token = next((os.environ[name] for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN") if os.environ.get(name)), None)
    import urllib.error  # only for a model not built in: the Hub is asked rarely, and urllib costs every start
    import urllib.request

    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=HUB_TIMEOUT_SECONDS) as response:
            body = response.read(bounds.MAX_CONFIG_BYTES + 1)
    except urllib.error.HTTPError as err:
        reason = f"the Hugging Face Hub answered HTTP {err.code} for {model_id!r}'s {filename}"
        # A gated repository answers 401 without a token and 403 with one that has no access (huggingface_hub's
        # GatedRepoError, "Cannot access gated repo for url .../config.json"; huggingface.co/docs/hub/models-gated)
        if err.code in (401, 403):
            gated = "your HF_TOKEN lacks access" if token else "set HF_TOKEN to a token that has accepted its licence"
            raise InvalidInput(f"{reason}: gated or private", hint=f"{gated}, or pass --config PATH") from err
        raise InvalidInput(f"{reason} (misspelt, gated or private?)", hint=hint) from err
    except Exception as err:  # DNS, TLS, timeout, or sockets disabled: all mean "not reachable" here
        message = f"unknown model {model_id!r} and the Hugging Face Hub is not reachable"
        raise InvalidInput(message, hint=hint) from err
    if len(body) > bounds.MAX_CONFIG_BYTES:
        raise InvalidInput(f"{url} is larger than {bounds.MAX_CONFIG_BYTES:,} bytes: not a {filename}", hint=hint)
    return _parse_json(body, url)
