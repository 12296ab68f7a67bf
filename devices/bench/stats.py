"""Percentiles and rates for the benchmark, plain Python so they are tested without a broker."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile (``fraction`` 0–1) of ``values``; None when there are none.

    Nearest-rank, not interpolation: a reported p99 is always a latency some message really
    had, and with fewer than 100 samples p99 is honestly the worst one.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be between 0 and 1 (got {fraction})")
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class LatencySummary:
    count: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return {"count": self.count, "p50_ms": self.p50_ms, "p99_ms": self.p99_ms, "max_ms": self.max_ms}


def summarise_latencies(seconds: Sequence[float]) -> LatencySummary:
    """p50 / p99 / max in milliseconds, rounded to 0.1 ms, of latencies given in seconds."""

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000.0, 1)

    return LatencySummary(
        count=len(seconds),
        p50_ms=ms(percentile(seconds, 0.50)),
        p99_ms=ms(percentile(seconds, 0.99)),
        max_ms=ms(max(seconds) if seconds else None),
    )


def sustained_rate(completed: int, started_at: float, finished_at: float) -> float:
    """Completed items per second between the first publish and the last completion."""
    elapsed = finished_at - started_at
    if completed <= 0 or elapsed <= 0:
        return 0.0
    return completed / elapsed


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the baseline measured nothing to compare with."""
    if denominator <= 0:
        return None
    return numerator / denominator
