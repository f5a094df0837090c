"""`stage` measures its own rate over the copy's first seconds and says, once, when a machine in the region would be
much faster (a big model over a slow uplink), with the command to use; never for a small model or a fast link."""

from __future__ import annotations

import pytest

from cloudrun import stage_advice

GB = 10**9


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run(total: int, already: int, rate: float, seconds: float = 12.0) -> tuple[stage_advice.CopyWatch, list]:
    """Feed a watch `seconds` of a copy at `rate` bytes/s, one tick per second after the already-staged tick."""
    clock = Clock()
    watch = stage_advice.CopyWatch("`the command`", clock=clock)
    watch.planned(total, already)
    notes = [watch.tick(already)] if already else []
    for _ in range(int(seconds)):
        clock.now += 1
        notes.append(watch.tick(int(rate)))
    return watch, [n for n in notes if n is not None]


def test_a_67b_over_a_home_uplink_is_told_once_with_the_command():
    watch, notes = run(int(134.9 * GB), 0, 20e6, seconds=30)
    assert len(notes) == 1 and "`the command`" in notes[0]
    assert "20.0 MB/s" in notes[0] and "1 h 52 min" in notes[0] and "16 min" in notes[0]
    assert watch.advice.local_bytes_per_s == pytest.approx(20e6)


@pytest.mark.parametrize(
    ("total_gb", "rate"),
    [(15.2, 20e6),  # a 7B: 13 min here against 6 in the cloud: not worth moving
     (134.9, 300e6),  # a fast link: as quick as a machine in the region
     ],
)  # fmt: skip
def test_no_note_when_the_cloud_is_not_much_faster(total_gb, rate):
    watch, notes = run(int(total_gb * GB), 0, rate)
    assert notes == [] and watch.advice is not None and not watch.advice.in_cloud_is_faster


def test_bytes_already_staged_are_not_taken_for_speed():
    watch, notes = run(int(134.9 * GB), int(134 * GB), 20e6)
    assert watch.advice.local_bytes_per_s == pytest.approx(20e6)
    assert notes == []  # 0.9 GB left: done in under a minute either way


def test_nothing_is_said_before_the_measurement_ends():
    watch, notes = run(int(134.9 * GB), 0, 1e6, seconds=stage_advice.MEASURE_S - 1)
    assert notes == [] and watch.advice is None
