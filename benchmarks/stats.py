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


def latency_by_second(published_at: Sequence[float], latencies: Sequence[float], start: float) -> list[dict]:
    """Latency per whole second of publishing since ``start``: a stall shows as one bad second,
    a system falling behind as seconds that grow worse; the step's percentiles cannot tell them
    apart. Seconds in which nothing published was acknowledged are left out."""
    if len(published_at) != len(latencies):
        raise ValueError(f"{len(published_at)} publish times for {len(latencies)} latencies")
    by_second: dict[int, list[float]] = {}
    for sent, latency in zip(published_at, latencies, strict=True):
        by_second.setdefault(max(0, int(sent - start)), []).append(latency)
    return [{"second": second, **summarise_latencies(values).as_dict()} for second, values in sorted(by_second.items())]


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
