"""Open-loop pacing: send message n at start + n / rate, whatever the receiver is doing.

Open loop on purpose: a publisher that waits for the platform (closed loop) slows down exactly
when the platform struggles and hides the delay it would have caused. The lag behind schedule
is reported so a run whose publisher could not keep the rate is visible, not silently easier.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# Sleeping for less than this costs more in wake-up jitter than it gains in precision.
_MIN_SLEEP_S = 0.0002


@dataclass(slots=True)
class PacingReport:
    sent: int = 0
    max_lag_s: float = 0.0


def message_count(rate: float, seconds: float) -> int:
    """How many messages a step of ``seconds`` at ``rate`` per second publishes."""
    if rate <= 0 or seconds <= 0:
        raise ValueError(f"rate and seconds must be positive (got {rate}/s for {seconds}s)")
    return max(1, round(rate * seconds))


def paced(
    rate: float,
    seconds: float,
    report: PacingReport,
    *,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
    start: float | None = None,
) -> Iterator[int]:
    """Yield 0, 1, 2 ... each when it is due; late items are yielded at once to catch up.

    ``start`` (in ``clock``'s terms) is when item 0 is due, so several publishers can share
    one schedule; by default it is now.
    """
    total = message_count(rate, seconds)
    interval = 1.0 / rate
    start = clock() if start is None else start
    for seq in range(total):
        due = start + seq * interval
        wait = due - clock()
        if wait > _MIN_SLEEP_S:
            sleep(wait)
        report.max_lag_s = max(report.max_lag_s, clock() - due)
        report.sent = seq + 1
        yield seq
