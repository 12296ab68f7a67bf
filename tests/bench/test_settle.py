"""After a step, a backlog still draining is waited for; a count that stands still is final."""

from __future__ import annotations

from benchmarks.runner import settle


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_backlog_that_is_still_draining_is_waited_for_until_everything_is_stored():
    # given a store that gains 100 rows every half second, 1000 expected
    clock = Clock()
    rows = iter(range(0, 2000, 100))
    # when settled / then it waits for all 1000 instead of calling the backlog lost
    assert settle(lambda: next(rows), 1000, clock=clock, sleep=clock.sleep) == 1000
    assert clock.now == 5.0


def test_a_count_that_stops_moving_is_final_and_the_rest_is_lost():
    # given a broker that dropped 3 of 1000 messages: the count stops at 997
    clock = Clock()
    counts = iter([990, 995, 997] + [997] * 100)
    # when settled / then it gives up after the quiet period and reports 997
    assert settle(lambda: next(counts), 1000, quiet_s=5.0, clock=clock, sleep=clock.sleep) == 997
    assert 5.0 <= clock.now <= 6.5


def test_a_step_already_complete_is_not_waited_for():
    clock = Clock()
    assert settle(lambda: 500, 500, clock=clock, sleep=clock.sleep) == 500
    assert clock.now == 0.0


def test_waiting_is_bounded_even_for_a_store_that_keeps_trickling():
    clock = Clock()
    rows = iter(range(10**6))
    assert settle(lambda: next(rows), 10**9, limit_s=30.0, clock=clock, sleep=clock.sleep) < 10**9
    assert clock.now <= 30.5
