"""Open-loop pacing: each message is due at start + n / rate, and lateness is reported."""

from __future__ import annotations

import pytest

from benchmarks.pacing import PacingReport, message_count, paced


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_a_step_publishes_rate_times_seconds_messages():
    assert message_count(500, 10) == 5000
    assert message_count(250, 0.5) == 125
    assert message_count(0.1, 1) == 1  # never an empty step


@pytest.mark.parametrize(("rate", "seconds"), [(0, 10), (-5, 10), (100, 0)])
def test_a_step_needs_a_positive_rate_and_length(rate, seconds):
    with pytest.raises(ValueError, match="must be positive"):
        message_count(rate, seconds)


def test_messages_are_released_at_even_intervals_when_the_publisher_keeps_up():
    # given a publisher that takes no time to send
    clock, report = FakeClock(), PacingReport()
    released = []
    # when a 4-message step at 100/s is paced
    for seq in paced(100, 0.04, report, clock=clock, sleep=clock.sleep):
        released.append((seq, round(clock.now - 1000.0, 6)))
    # then message n is released at n / rate, and nothing was late
    assert released == [(0, 0.0), (1, 0.01), (2, 0.02), (3, 0.03)]
    assert report.sent == 4
    assert report.max_lag_s == pytest.approx(0.0)


def test_a_slow_publisher_catches_up_without_sleeping_and_its_lag_is_reported():
    # given a publisher whose every send takes 25 ms while the schedule allows 10 ms
    clock, report = FakeClock(), PacingReport()
    for _ in paced(100, 0.04, report, clock=clock, sleep=clock.sleep):
        clock.now += 0.025
    # then it never slept (it was always behind) and the lag shows how far behind it fell
    assert clock.sleeps == []
    assert report.sent == 4
    assert report.max_lag_s == pytest.approx(0.045)  # the 4th message, due at 30 ms, left at 75 ms


def test_a_publisher_given_a_later_start_waits_for_it_and_is_not_late():
    # given a schedule that starts 0.5 s from now (publishers of one step share it)
    clock, report = FakeClock(), PacingReport()
    released = []
    # when paced from that start
    for seq in paced(100, 0.02, report, clock=clock, sleep=clock.sleep, start=1000.5):
        released.append((seq, round(clock.now - 1000.0, 6)))
    # then the first message waits for the start, and nothing counts as lag
    assert released == [(0, 0.5), (1, 0.51)]
    assert report.max_lag_s == pytest.approx(0.0)


def test_a_publisher_that_starts_after_the_shared_start_reports_the_lag():
    # given a shared start that had already passed when this publisher got going
    clock, report = FakeClock(), PacingReport()
    list(paced(100, 0.02, report, clock=clock, sleep=clock.sleep, start=999.8))
    # then it sends at once and its lateness is reported, not hidden
    assert clock.sleeps == []
    assert report.max_lag_s == pytest.approx(0.2)
