"""One catalog row as the snapshot build makes it, and the writer of cloudrun/data/offers.csv."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from cloudrun.catalog import COLUMNS
from cloudrun.catalog import UNDATED as UNDATED  # re-exported for the service modules

READ = "2026-11-28"  # the day the undated copies were read: said in their sources, never used as their as_of


@dataclass(frozen=True)
class Shape:
    """What an instance holds: GPU model, GPUs, GB per GPU, vCPUs, host memory (as the provider lists it)."""

    gpu_model: str
    gpu_count: int
    gpu_memory_gb: int
    vcpus: int
    memory_gb: int


@dataclass(frozen=True)
class Row:
    """One offer of the snapshot."""

    provider: str
    service: str
    region: str
    instance_type: str
    shape: Shape
    price: Decimal
    spot: Decimal | None
    source: str
    as_of: str

    def cells(self) -> list[str]:
        s = self.shape
        return [self.provider, self.service, self.region, self.instance_type, s.gpu_model, str(s.gpu_count),
                str(s.gpu_memory_gb), str(s.vcpus), str(s.memory_gb), str(self.price),
                "" if self.spot is None else str(self.spot), self.source, self.as_of]  # fmt: skip


def q4(value: Decimal) -> Decimal:
    """Return a price rounded half-up to 4 decimals, as the snapshot stores derived figures."""
    return value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def write(path: Path, rows: list[Row]) -> None:
    """Write the rows under the catalog header (cloudrun.catalog.COLUMNS), one offer a line."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(row.cells() for row in rows)
