"""The local hardware `compare` costs: `--local "GPU xN"` and, for a GPU cloudrun has no datasheet for, `--local-spec`.

`--local "RTX A6000 x2"`, `"H100 x8"`, `"A100 80GB x4"` or `"L40S"` (one GPU); the name is matched against
cloudrun/data/gpu_specs.csv. `--local-spec "768 GB/s, 155 TFLOPS, 48 GB, 300 W"` gives an unknown GPU's memory
bandwidth, dense 16-bit tensor TFLOPS, memory and (optionally) board power by hand. Every refusal is InvalidInput.
"""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal

from cloudrun import throughput
from cloudrun.errors import InvalidInput
from cloudrun.inputs.values import as_decimal

_LOCAL = re.compile(r"\s*(?P<name>[A-Za-z0-9][A-Za-z0-9 ._-]*?)\s*(?:[x×]\s*(?P<count>[0-9]{1,3}))?\s*")
_MEMORY = re.compile(r"\s*(?P<gb>[0-9]{1,4})\s*GB\b", re.IGNORECASE)
_SPEC_PART = re.compile(r"(?P<number>[0-9][0-9.]*)\s*(?P<unit>GB/s|TFLOPS|GB|W)", re.IGNORECASE)
_SPEC_FORMAT = '"BANDWIDTH GB/s, TFLOPS TFLOPS, MEMORY GB[, POWER W]", e.g. "768 GB/s, 155 TFLOPS, 48 GB, 300 W"'
MAX_LOCAL_GPUS = 64  # a rack's worth; more is a cluster, not a box to buy
# Far above any GPU of 2026 (B200: 8 TB/s, 2,250 dense BF16 TFLOPS, 192 GB, 1,000 W); bounds for typos.
_SPEC_BOUNDS = {"gb/s": Decimal(100_000), "tflops": Decimal(100_000), "gb": Decimal(10_000), "w": Decimal(10_000)}


def local_gpus(text: object, spec_text: object | None = None) -> tuple[throughput.GpuSpec, int]:
    """Return the local GPU's datasheet figures (or those given by --local-spec) and how many the box has."""
    if not isinstance(text, str) or not text.isascii() or len(text) > 80:
        raise InvalidInput(f"--local {text!r} is not a GPU", hint='write it as "GPU xN", e.g. "RTX A6000 x2"')
    matched = _LOCAL.fullmatch(text)
    if not matched:
        raise InvalidInput(f"--local {text!r} is not a GPU", hint='write it as "GPU xN", e.g. "RTX A6000 x2"')
    count = int(matched.group("count") or 1)
    if not 1 <= count <= MAX_LOCAL_GPUS:
        raise InvalidInput(f"--local: {count} GPUs must be from 1 to {MAX_LOCAL_GPUS}")
    name = matched.group("name").strip()
    memory = _MEMORY.search(name)
    if memory:
        name = (name[: memory.start()] + name[memory.end() :]).strip()
    if spec_text is not None:
        return given_spec(name, spec_text), count
    spec = throughput.gpu_spec(name, Decimal(memory.group("gb")) if memory else None)
    if spec is None:
        known = ", ".join(sorted({s.gpu_model for s in throughput.known_gpus()}))
        raise InvalidInput(f"--local: no datasheet figures for {name!r}; known: {known}",
                           hint=f"or give its figures: --local-spec {_SPEC_FORMAT}")  # fmt: skip
    return spec, count


def given_spec(name: str, text: object) -> throughput.GpuSpec:
    """Return a GPU's figures from --local-spec text: bandwidth, TFLOPS and memory required, power optional."""
    if not isinstance(text, str) or not text.isascii() or len(text) > 120:
        raise InvalidInput(f"--local-spec {text!r} is not a GPU's figures", hint=f"write it as {_SPEC_FORMAT}")
    values: dict[str, Decimal] = {}
    for part in (p.strip() for p in text.split(",")):
        matched = _SPEC_PART.fullmatch(part)
        unit = matched.group("unit").lower() if matched else ""
        number = as_decimal(matched.group("number")) if matched else None
        if number is None or unit in values:
            why = "is given twice" if unit in values else "is not 'N GB/s', 'N TFLOPS', 'N GB' or 'N W'"
            raise InvalidInput(f"--local-spec: {part!r} {why}", hint=f"write it as {_SPEC_FORMAT}")
        if not 0 < number <= _SPEC_BOUNDS[unit]:
            raise InvalidInput(f"--local-spec: {part!r} must be above 0 and at most {_SPEC_BOUNDS[unit]:,} {unit}")
        values[unit] = number
    missing = [u for u in ("gb/s", "tflops", "gb") if u not in values]
    if missing:
        raise InvalidInput(f"--local-spec lacks {', '.join(missing)}", hint=f"write it as {_SPEC_FORMAT}")
    template = throughput.GpuSpec(
        gpu_model=name, memory_gb=values["gb"], hbm_gb_per_s=values["gb/s"], bf16_tflops=values["tflops"],
        fp8_tflops=None, int8_tops=None, interconnect="pcie", interconnect_gb_per_s=Decimal(64),
        source="--local-spec (given by hand)",
    )  # fmt: skip
    return replace(template, tdp_w=int(values.get("w", 0)))
