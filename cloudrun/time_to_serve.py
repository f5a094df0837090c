"""How long from create to serving: the download (from the Hub, or from weights staged in the region), the load onto
the GPUs and the engine's start; and what deployments really took (the state's created_at -> ready_at).

The Hub-download rates, the GPU load rate and the engine start are cloudrun.serving's stated assumptions. A staged
copy is read from the cloud's own object storage in the same region: assumed 300 MB/s (pessimistic) to 1 GB/s
(typical), well inside what the stores document per client (S3: 5,500 GET/s per prefix, docs.aws.amazon.com/
AmazonS3/latest/userguide/optimizing-performance.html; GCS: objects read at up to several GB/s with parallel
ranged reads, cloud.google.com/storage/docs/request-rate) and above the Hub's 50-200 MB/s. Estimates, labelled so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cloudrun import serving
from cloudrun.plain import MemoryNeed

if TYPE_CHECKING:
    from cloudrun.models import Deployment

STAGED_BYTES_PER_S = {"typical": 1e9, "pessimistic": 300e6}


@dataclass(frozen=True)
class Estimate:
    """Seconds to serve, typical and pessimistic, from the Hub and from staged weights."""

    hub_s: tuple[float, float]
    staged_s: tuple[float, float]

    def describe(self) -> str:
        def minutes(span: tuple[float, float]) -> str:
            return f"{span[0] / 60:.0f}-{span[1] / 60:.0f} min"

        hub, staged = minutes(self.hub_s), minutes(self.staged_s)
        return f"time to serve (estimate): {hub} from the Hub, {staged} staged in-region"


def seconds(need: MemoryNeed, gpu_count: int, *, staged: bool, case: str = "typical") -> float:
    """Return the assumed seconds from create to serving, downloading from the Hub or from staged weights."""
    if not staged:
        return serving.startup_estimate_s(need, gpu_count, case)
    download = (need.download_bytes or need.weights_bytes) / STAGED_BYTES_PER_S[case]
    load = need.peak_load_bytes / (serving.LOAD_BYTES_PER_S * max(1, gpu_count))
    return download + load + serving.ENGINE_START_S[case]


def estimate(need: MemoryNeed, gpu_count: int) -> Estimate:
    """Return the time-to-serve estimate of a model on `gpu_count` GPUs, with and without staging."""
    def both(staged: bool) -> tuple[float, float]:
        return seconds(need, gpu_count, staged=staged), seconds(need, gpu_count, staged=staged, case="pessimistic")

    return Estimate(hub_s=both(False), staged_s=both(True))


def measured_s(deployment: Deployment) -> float | None:
    """Return the real seconds from create to in service of a deployment, or None if it never was in service."""
    if deployment.ready_at is None:
        return None
    return (deployment.ready_at - deployment.created_at).total_seconds()
