"""The throughput model (cloudrun/throughput.py) against published decode figures, with their sources.

Prints, for each point in cloudrun/data/throughput_points.csv, the published and predicted decode tokens/s of one
request, the error, and the median absolute percentage error over all points (issue 16's goal: <= 25 %).
Run from the repository root: python benchmarks/bench_throughput.py
"""

from __future__ import annotations

from cloudrun import throughput_check


def main() -> None:
    comparisons = throughput_check.compare()
    print(f"{'point':40} {'engine':22} {'published':>10} {'predicted':>10} {'error':>8}")
    for c in comparisons:
        p = c.point
        print(f"{p.id:40} {p.engine:22} {p.published_tokens_per_s:10.1f} {c.predicted_tokens_per_s:10.1f} "
              f"{c.error_pct:+7.1f}%")  # fmt: skip
    print()
    for i, c in enumerate(comparisons, start=1):
        print(f"[{i}] {c.point.id}: {c.point.source}")
    mape = throughput_check.median_abs_error_pct(comparisons)
    verdict = "meets" if mape <= throughput_check.MAPE_GOAL_PCT else "MISSES"
    print(f"\nmedian absolute percentage error: {mape:.1f}% over {len(comparisons)} points "
          f"({verdict} the {throughput_check.MAPE_GOAL_PCT:.0f}% goal)")  # fmt: skip


if __name__ == "__main__":
    main()
