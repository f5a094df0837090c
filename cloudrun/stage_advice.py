"""Whether a machine in the cloud would stage a model much faster than this one: measured, then said once.

`cloudrun stage` copies through the machine it runs on: Hub -> here -> the bucket. Over a home or office uplink that
can take hours for a 67B, while a machine in the bucket's region downloads from the Hub at data-centre rates and
writes to storage next to it. The copy's own first seconds give this machine's rate; an in-cloud copy is assumed to
download at cloudrun.serving's typical Hub rate (200 MB/s, the same stated assumption as the time to serve) after a
few minutes of start-up (a processing job's instance is provisioned and its image pulled first: assumed 5 minutes,
not a documented figure). Where the local copy would take more than twice as long, and at least 10 minutes more,
`stage` says so with the command to use instead. The copy resumes, so stopping it loses nothing already sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from cloudrun import serving

IN_CLOUD_BYTES_PER_S = serving.DOWNLOAD_BYTES_PER_S["typical"]
IN_CLOUD_START_S = 300.0
MEASURE_S = 10.0  # how long the copy runs before its rate is taken
MIN_GAIN_S = 600.0


@dataclass(frozen=True)
class Advice:
    """This machine's measured rate, the time left at that rate, and what a machine in the region would take."""

    local_bytes_per_s: float
    local_s: float
    in_cloud_s: float

    @property
    def in_cloud_is_faster(self) -> bool:
        return self.local_s > 2 * self.in_cloud_s and self.local_s - self.in_cloud_s >= MIN_GAIN_S


def advise(remaining_bytes: int, local_bytes_per_s: float) -> Advice:
    """Return the time the rest of the copy takes here at the measured rate, and in the region (assumed rates)."""
    local = remaining_bytes / local_bytes_per_s if local_bytes_per_s > 0 else float("inf")
    return Advice(local_bytes_per_s, local, IN_CLOUD_START_S + remaining_bytes / IN_CLOUD_BYTES_PER_S)


def note(advice: Advice, remaining_bytes: int, instead: str) -> str:
    """Return the one-line note that a machine in the region would be faster, with the command to use `instead`."""
    return (f"this machine sends {advice.local_bytes_per_s / 1e6:.1f} MB/s: about {_span(advice.local_s)} for the "
            f"{remaining_bytes / 1e9:.1f} GB left; from a machine in the region about {_span(advice.in_cloud_s)} "
            f"(assumed): stop (it resumes) and run {instead}")  # fmt: skip


class CopyWatch:
    """Measures a running copy's rate over its first seconds and gives the note once, if an in-cloud copy would be
    much faster. Feed it `planned()` once the file list is known, then every progress tick."""

    def __init__(self, instead: str, *, clock: Callable[[], float] = time.monotonic, measure_s: float = MEASURE_S):
        self._instead, self._clock, self._measure_s = instead, clock, measure_s
        self._started: float | None = None
        self._remaining = self._sent = self._ignore = 0
        self.advice: Advice | None = None
        self.note: str | None = None

    def planned(self, total_bytes: int, already: int) -> None:
        self._remaining, self._ignore, self._started = total_bytes - already, already, self._clock()

    def tick(self, n: int) -> str | None:
        """Count `n` bytes; return the note the one time the measurement ends and advises the cloud, else None."""
        if self._ignore:  # the first tick reports what was already staged, not what this machine sent
            skipped = min(n, self._ignore)
            self._ignore, n = self._ignore - skipped, n - skipped
        self._sent += n
        if self._started is None or self.advice is not None:
            return None
        elapsed = self._clock() - self._started
        if elapsed < self._measure_s or self._sent <= 0:
            return None
        left = max(0, self._remaining - self._sent)
        self.advice = advise(left, self._sent / elapsed)
        if self.advice.in_cloud_is_faster:
            self.note = note(self.advice, left, self._instead)
        return self.note


def _span(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
