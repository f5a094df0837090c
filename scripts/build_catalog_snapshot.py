"""Builds cloudrun/data/offers.csv from the public price figures transcribed in scripts/snapshot/ (docs/catalog.md).

Usage, from the repository root: python scripts/build_catalog_snapshot.py [OUT.csv]

The build is reproducible: the same inputs give the same file, byte for byte (tests/test_snapshot_build.py).
Each row names its public source and carries the date that source gives the figure, or "undated".
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from snapshot import azureml, sagemaker, vertex  # noqa: E402 - the package beside this script
from snapshot.rows import Row, write  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "cloudrun" / "data" / "offers.csv"


def build() -> list[Row]:
    """Return every row of the snapshot: SageMaker, then Vertex AI, then Azure ML."""
    return sagemaker.rows() + vertex.rows() + azureml.rows()


def main(argv: list[str]) -> None:
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    rows = build()
    write(out, rows)
    print(len(rows), "rows")


if __name__ == "__main__":
    main(sys.argv)
