"""The throughput model against published figures: each point's predicted and published decode tokens/s.

The points (cloudrun/data/throughput_points.csv) are published benchmark results, each with its source: the model,
GPUs, precision, tensor-parallel degree, prompt and output lengths, concurrency, and what was measured. Three kinds
of measurement are read as decode tokens per second of one request:
- `itl_ms`: inter-token latency (NVIDIA NIM's ITL): 1000 / ITL;
- `tokens_per_s`: a single request's decode rate as stated;
- `request_latency_ms`: a whole request's latency (prefill included): output tokens / latency.
The prediction is made the same way from cloudrun.throughput.estimate, so like is compared with like.
"""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from cloudrun import sizing, throughput

POINTS_FILE = "throughput_points.csv"
MAPE_GOAL_PCT = 25.0  # issue 16: the median absolute percentage error goal


@dataclass(frozen=True)
class Point:
    id: str
    model: str
    shape: str  # a built-in model id with the same architecture, or a config file beside the points
    gpu_model: str
    gpu_memory_gb: int
    gpus: int
    tensor_parallel: int
    precision: str
    input_tokens: int
    output_tokens: int
    concurrency: int
    metric: str
    published: float
    engine: str
    source: str

    @property
    def published_tokens_per_s(self) -> float:
        """Return the published figure as one request's decode tokens per second."""
        if self.metric == "itl_ms":
            return 1000 / self.published
        if self.metric == "request_latency_ms":
            return self.output_tokens / (self.published / 1000)
        if self.metric == "tokens_per_s":
            return self.published
        raise ValueError(f"{self.id}: unknown metric {self.metric!r}")


@dataclass(frozen=True)
class Comparison:
    point: Point
    predicted_tokens_per_s: float

    @property
    def error_pct(self) -> float:
        """Return the signed percentage error of the prediction (positive: the model is optimistic)."""
        published = self.point.published_tokens_per_s
        return (self.predicted_tokens_per_s - published) / published * 100


def load_points(text: str | None = None) -> list[Point]:
    """Return the published points (the bundled file's, or those in `text`)."""
    if text is None:
        text = resources.files("cloudrun.data").joinpath(POINTS_FILE).read_text(encoding="utf-8")
    ints = {"gpu_memory_gb", "gpus", "tensor_parallel", "input_tokens", "output_tokens", "concurrency"}
    rows = csv.DictReader(io.StringIO(text))
    return [
        Point(**{k: int(v) if k in ints else float(v) if k == "published" else v for k, v in row.items()})
        for row in rows
    ]


def predict(point: Point) -> float:
    """Return the model's decode tokens/s of one request for this point, measured the way the point was."""
    config = None
    if point.shape.endswith(".json"):
        config = Path(str(resources.files("cloudrun.data").joinpath(point.shape)))
    need = sizing.need(None if config else point.shape, precision=point.precision, config_path=config)
    spec = throughput.gpu_spec(point.gpu_model, point.gpu_memory_gb)
    if spec is None:
        raise ValueError(f"{point.id}: no datasheet figures for {point.gpu_model}")
    est = throughput.estimate(need, spec, point.tensor_parallel, input_tokens=point.input_tokens,
                              output_tokens=point.output_tokens, concurrency=point.concurrency)  # fmt: skip
    if point.metric == "request_latency_ms":
        return point.output_tokens / ((est.ttft_ms + point.output_tokens * est.tpot_ms) / 1000)
    return 1000 / est.tpot_ms


def compare(points: list[Point] | None = None) -> list[Comparison]:
    """Return each point with the model's prediction."""
    return [Comparison(p, predict(p)) for p in (load_points() if points is None else points)]


def median_abs_error_pct(comparisons: list[Comparison]) -> float:
    """Return the median absolute percentage error over the comparisons."""
    return statistics.median(abs(c.error_pct) for c in comparisons)
