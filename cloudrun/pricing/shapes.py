"""The GPU shape of every instance type cloudrun can price: templates/gpu_shapes.csv.

A price API says what an instance costs, rarely what it holds. The shape table says it, so a new SKU
whose shape is not in the table is reported ("add a row"), never guessed. For Vertex AI, whose prices
are sold in parts, `machine_family` names the core and RAM SKUs (G2, A2, A3) and `accelerator` the GPU
SKU ("Nvidia L4") a machine type is built from.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources

SHAPES_PACKAGE = "cloudrun.templates"
SHAPES_NAME = "gpu_shapes.csv"


@dataclass(frozen=True, slots=True)
class Shape:
    """What one instance type holds: GPUs, vCPUs, host memory; for Vertex, the SKU parts it is priced from."""

    provider: str
    instance_type: str
    gpu_model: str
    gpu_count: int
    gpu_memory_gb: Decimal
    vcpus: int
    memory_gb: Decimal
    machine_family: str = ""
    accelerator: str = ""


def shapes() -> dict[tuple[str, str], Shape]:
    """Return the shape table keyed by (provider, instance_type) (read once per process)."""
    return dict(_shapes())


def for_provider(provider: str) -> dict[str, Shape]:
    """Return the shapes of one provider's instance types, keyed by instance type."""
    return {key[1]: shape for key, shape in _shapes() if key[0] == provider}


@functools.cache
def _shapes() -> tuple[tuple[tuple[str, str], Shape], ...]:
    text = resources.files(SHAPES_PACKAGE).joinpath(SHAPES_NAME).read_text(encoding="utf-8")
    table = []
    for row in csv.DictReader(io.StringIO(text)):
        shape = Shape(
            provider=row["provider"],
            instance_type=row["instance_type"],
            gpu_model=row["gpu_model"],
            gpu_count=int(row["gpu_count"]),
            gpu_memory_gb=Decimal(row["gpu_memory_gb"]),
            vcpus=int(row["vcpus"]),
            memory_gb=Decimal(row["memory_gb"]),
            machine_family=row["machine_family"],
            accelerator=row["accelerator"],
        )
        table.append(((shape.provider, shape.instance_type), shape))
    return tuple(table)
