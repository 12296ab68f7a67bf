"""The benchmark's arithmetic: nearest-rank percentiles, summaries, rates and ratios."""

from __future__ import annotations

import pytest

from benchmarks.stats import latency_by_second, percentile, ratio, summarise_latencies, sustained_rate


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([5.0], 0.5, 5.0),
        ([5.0], 0.99, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.0),
        ([4.0, 3.0, 2.0, 1.0], 0.5, 2.0),  # order of arrival does not matter
        (list(range(1, 101)), 0.99, 99),
        (list(range(1, 101)), 1.0, 100),
        (list(range(1, 101)), 0.0, 1),
        (list(range(1, 51)), 0.99, 50),  # under 100 samples p99 is the worst one
    ],
)
def test_percentile_is_a_latency_some_message_really_had(values, fraction, expected):
    # given a set of latencies, when the percentile is taken
    result = percentile(values, fraction)
    # then it is the nearest-rank value, never an interpolation
    assert result == expected
    assert result in values


def test_percentile_of_nothing_is_none_not_zero():
    # given no samples (say, no alert arrived), when a percentile is asked for
    # then the answer is "unknown", never a reassuring zero
    assert percentile([], 0.99) is None


def test_percentile_refuses_a_fraction_outside_zero_to_one():
    with pytest.raises(ValueError, match="between 0 and 1"):
        percentile([1.0], 99)


def test_latency_summary_reports_milliseconds():
    # given latencies in seconds
    seconds = [0.010] * 98 + [0.200, 0.500]
    # when summarised
    summary = summarise_latencies(seconds)
    # then p50 / p99 / max are in milliseconds
    assert summary.count == 100
    assert summary.p50_ms == 10.0
    assert summary.p99_ms == 200.0
    assert summary.max_ms == 500.0


def test_latency_summary_of_no_samples_has_no_figures():
    summary = summarise_latencies([])
    assert summary.as_dict() == {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}


def test_sustained_rate_is_completions_over_the_time_they_took():
    # given 1,000 messages completed 2 s after the first was published
    # when the rate is computed / then it is 500 per second
    assert sustained_rate(1000, 100.0, 102.0) == 500.0


@pytest.mark.parametrize(("completed", "start", "end"), [(0, 1.0, 2.0), (10, 2.0, 2.0), (10, 3.0, 2.0)])
def test_sustained_rate_is_zero_when_nothing_completed_or_no_time_passed(completed, start, end):
    assert sustained_rate(completed, start, end) == 0.0


def test_ratio_against_a_baseline_that_measured_nothing_is_unknown():
    assert ratio(800.0, 1000.0) == 0.8
    assert ratio(800.0, 0.0) is None


def test_latency_by_second_tells_a_stall_from_steady_queueing():
    # given a 3 s step at 4 msg/s whose second second stalled for half a second
    start = 100.0
    sent = [start + k / 4 for k in range(12)]
    latencies = [0.5 if 1 <= k / 4 < 2 else 0.02 for k in range(12)]
    # when profiled per second of publishing
    profile = latency_by_second(sent, latencies, start)
    # then the bad second stands out on its own
    rows = [(row["second"], row["count"], row["max_ms"]) for row in profile]
    assert rows == [(0, 4, 20.0), (1, 4, 500.0), (2, 4, 20.0)]


def test_latency_by_second_leaves_out_seconds_with_nothing_acknowledged_and_needs_pairs():
    assert [row["second"] for row in latency_by_second([100.1, 102.5], [0.01, 0.01], 100.0)] == [0, 2]
    assert latency_by_second([], [], 100.0) == []
    with pytest.raises(ValueError, match="2 publish times for 1 latencies"):
        latency_by_second([100.0, 101.0], [0.01], 100.0)
