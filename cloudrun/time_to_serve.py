"""How long from create to serving: the download (from the Hub, or from weights staged in the region), the load onto
the GPUs and the engine's start; and what deployments really took (the state's created_at -> ready_at).

The Hub-download rates, the GPU load rate and the engine start are cloudrun.serving's stated assumptions. A staged
copy is read from the cloud's own object storage in the same region: assumed 300 MB/s (pessimistic) to 1 GB/s
(typical), well inside what the stores document per client (S3: 5,500 GET/s per prefix, docs.aws.amazon.com/
AmazonS3/latest/userguide/optimizing-performance.html; GCS: objects read at up to several GB/s with parallel
ranged reads, cloud.google.com/storage/docs/request-rate) and above the Hub's 50-200 MB/s. Estimates, labelled so.

Where the user's own state holds deployments of the same model at the same precision on the same instance type (and
GPU count) that reached service, loading from the same place (staged or the Hub), the median of their real times is
shown beside the stated estimate: your own history beats anyone's assumptions.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cloudrun import serving
from cloudrun.errors import CloudrunError
from cloudrun.plain import MemoryNeed

if TYPE_CHECKING:
    from cloudrun.models import Deployment

STAGED_BYTES_PER_S = {"typical": 1e9, "pessimistic": 300e6}


@dataclass(frozen=True)
class PastDeploy:
    """One past deployment that reached service: what it served, on what, from where, and how long it took."""

    model_id: str
    precision: str
    instance_type: str
    gpu_count: int
    staged: bool
    seconds: float


@dataclass(frozen=True)
class Measured:
    """The median create-to-in-service seconds of the user's matching past deployments, and how many there were."""

    median_s: float
    deploys: int

    def as_json(self) -> dict[str, float | int]:
        return {"median_s": round(self.median_s), "deploys": self.deploys}


@dataclass(frozen=True)
class Estimate:
    """Seconds to serve, typical and pessimistic, from the Hub and from staged weights; and what the user's own
    matching deployments took, where there are any."""

    hub_s: tuple[float, float]
    staged_s: tuple[float, float]
    hub_measured: Measured | None = None
    staged_measured: Measured | None = None

    def describe(self) -> str:
        def part(span: tuple[float, float], measured: Measured | None, where: str) -> str:
            stated = f"{span[0] / 60:.0f}-{span[1] / 60:.0f} min"
            if measured is None:
                return f"{stated} {where}"
            runs = f"{measured.deploys} deploy{'s' if measured.deploys != 1 else ''}"
            return f"{measured.median_s / 60:.0f} min {where} (measured: {runs}; stated {stated})"

        hub = part(self.hub_s, self.hub_measured, "from the Hub")
        staged = part(self.staged_s, self.staged_measured, "staged in-region")
        return f"time to serve (estimate): {hub}, {staged}"

    def as_json(self) -> dict[str, object]:
        """Return the estimate as JSON: stated [typical, pessimistic] seconds, and the measured medians or null."""
        return {"hub": [round(s) for s in self.hub_s], "staged": [round(s) for s in self.staged_s],
                "measured": {"hub": self.hub_measured and self.hub_measured.as_json(),
                             "staged": self.staged_measured and self.staged_measured.as_json()}}  # fmt: skip


def seconds(need: MemoryNeed, gpu_count: int, *, staged: bool, case: str = "typical") -> float:
    """Return the assumed seconds from create to serving, downloading from the Hub or from staged weights."""
    if not staged:
        return serving.startup_estimate_s(need, gpu_count, case)
    download = (need.download_bytes or need.weights_bytes) / STAGED_BYTES_PER_S[case]
    load = need.peak_load_bytes / (serving.LOAD_BYTES_PER_S * max(1, gpu_count))
    return download + load + serving.ENGINE_START_S[case]


def estimate(need: MemoryNeed, gpu_count: int, *, instance_type: str = "",
             past: Iterable[PastDeploy] = ()) -> Estimate:  # fmt: skip
    """Return the time-to-serve estimate of a model on `gpu_count` GPUs, with and without staging, with the median of
    the `past` deployments of the same model, precision, instance type and GPU count (see `history()`), if any."""
    def both(staged: bool) -> tuple[float, float]:
        return seconds(need, gpu_count, staged=staged), seconds(need, gpu_count, staged=staged, case="pessimistic")

    past = list(past)
    def mine(staged: bool) -> Measured | None:
        return measured(past, need.id, _text(need.precision), instance_type, gpu_count, staged=staged)

    return Estimate(hub_s=both(False), staged_s=both(True), hub_measured=mine(False), staged_measured=mine(True))


def measured(past: Iterable[PastDeploy], model_id: str, precision: str, instance_type: str, gpu_count: int, *,
             staged: bool) -> Measured | None:  # fmt: skip
    """Return the median of the past deployments that match on every count (model id ignoring case), or None."""
    key = (model_id.lower(), _text(precision), instance_type, gpu_count, staged)
    times = [p.seconds for p in past
             if (p.model_id.lower(), _text(p.precision), p.instance_type, p.gpu_count, p.staged) == key]  # fmt: skip
    return Measured(statistics.median(times), len(times)) if times else None


def history() -> list[PastDeploy]:
    """Return the user's past deployments that reached service, from the state database; [] when there is none.

    Whether one loaded staged weights is read from the staged copies: one of the same model in its provider and
    region, staged before it was created and not removed by then (deploy uses such a copy whenever there is one).
    The state store is imported only when there is state (a file, or a database URL), so `plan` on a fresh
    machine loads none of it.
    """
    from cloudrun.state import database  # light: which database, not the store

    if not database.exists():
        return []
    from cloudrun.state import StateStore
    from cloudrun.state import staged as staged_store

    try:
        with StateStore(timeout=2.0) as state:  # a plan should not stall on a busy file: the history is optional
            deployments = state.list(include_deleted=True)
            copies = staged_store.copies(state, include_removed=True)
    except CloudrunError:  # a file from a newer cloudrun, or locked: plan on the stated estimate alone
        return []

    def was_staged(d: Deployment) -> bool:
        return any((c.provider, c.region, c.model_id.lower()) == (d.provider, d.region, d.model_id.lower())
                   and c.staged_at <= d.created_at and not _before(c.removed_at, d.created_at) for c in copies)

    return [PastDeploy(d.model_id, d.precision, d.instance_type, d.gpu_count, was_staged(d), took)
            for d in deployments if (took := measured_s(d)) is not None]  # fmt: skip


def _before(moment: datetime | None, then: datetime) -> bool:
    return moment is not None and moment <= then


def measured_s(deployment: Deployment) -> float | None:
    """Return the real seconds from create to in service of a deployment, or None if it never was in service."""
    if deployment.ready_at is None:
        return None
    return (deployment.ready_at - deployment.created_at).total_seconds()


def _text(precision: object) -> str:
    return str(getattr(precision, "value", precision))  # a Precision member or its text, as the state keeps it
