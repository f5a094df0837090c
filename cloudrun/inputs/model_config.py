"""A Hugging Face config.json, as sizing reads it: every field it uses typed, bounded, and consistent with the others.

Sizing does arithmetic over these numbers (and walks the layers one by one), so a field of the wrong type, NaN, a
negative head count or a billion layers must stop here with the file and the field named, not end in a traceback,
a negative KV cache, or an exhausted machine. Fields sizing does not read are not checked.
"""

from __future__ import annotations

from typing import Any

from cloudrun.errors import InvalidInput
from cloudrun.inputs import bounds

# true/false fields: read with `if cfg.get(...)`, so "no" would count as true.
FLAGS = ("tie_word_embeddings", "attention_bias", "mlp_bias")
OBJECTS = ("quantization_config", "compression_config")
TEXTS = ("model_type", "_name_or_path")


def check(cfg: dict[str, Any], source: str) -> dict[str, Any]:
    """Return the config if every field sizing reads has the right type and a sane value; else raise InvalidInput.

    A field that is absent or null is left to sizing (required ones are refused there, by name).
    """
    for key, (low, high) in bounds.CONFIG_COUNTS.items():
        value = cfg.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high):
            kind = "a positive" if low else "a non-negative"
            raise InvalidInput(f"{source}: {key!r} must be {kind} integer up to {high:,}, got {_cut(value)}",
                               hint="pass the model's own Hugging Face config.json")  # fmt: skip
    for key, kind, name in [(k, bool, "true or false") for k in FLAGS] + [(k, dict, "an object") for k in OBJECTS]:
        if cfg.get(key) is not None and not isinstance(cfg[key], kind):
            raise InvalidInput(f"{source}: {key!r} must be {name}, got {_cut(cfg[key])}")
    for key in TEXTS:
        if cfg.get(key) is not None and not (isinstance(cfg[key], str) and len(cfg[key]) <= 256):
            raise InvalidInput(f"{source}: {key!r} must be text, got {_cut(cfg[key])}")
    architectures = cfg.get("architectures")
    if architectures is not None and not (
        isinstance(architectures, list) and all(isinstance(a, str) and len(a) <= 256 for a in architectures)
    ):
        raise InvalidInput(f'{source}: "architectures" must be a list of names, got {_cut(architectures)}')
    _check_shape(cfg, source)
    return cfg


def _check_shape(cfg: dict[str, Any], source: str) -> None:
    """Refuse numbers that are each sane but impossible together: heads that do not fit the hidden size or divide."""
    hidden, heads = cfg.get("hidden_size"), cfg.get("num_attention_heads")
    kv_heads, layers = cfg.get("num_key_value_heads"), cfg.get("num_hidden_layers")
    if hidden and heads and heads > hidden:
        raise InvalidInput(f"{source}: {heads} attention heads for a hidden size of {hidden}: more heads than it has")
    if heads and kv_heads and (kv_heads > heads or heads % kv_heads):
        raise InvalidInput(f"{source}: {kv_heads} key-value heads for {heads} attention heads",
                           hint="the attention heads must be a multiple of the key-value heads (GQA)")  # fmt: skip
    if hidden and heads and not cfg.get("head_dim") and not cfg.get("kv_lora_rank") and hidden % heads:
        raise InvalidInput(f"{source}: hidden size {hidden} is not a multiple of {heads} heads, and no head_dim")
    first_dense = cfg.get("first_k_dense_replace")
    if layers and first_dense and first_dense > layers:
        raise InvalidInput(f"{source}: first_k_dense_replace {first_dense} is more than the {layers} layers")


def _cut(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
