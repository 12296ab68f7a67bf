"""After the ladder, each system's capacity is narrowed down by bisection.

Near the top the ladder's steps are 500 msg/s apart, so a sustained rate read off it is
quantised: a platform that could keep up with 2,300 msg/s counts as its 2,000 step, and runs of
the same code gave ratios from 0.50 to 0.79 by the luck of which step each system just made.
So the bench searches as RFC 2544's throughput test (§26.1) is usually run, by binary search:
offer the rate halfway between the highest one the system kept up with and the lowest one it
did not, keep the half that still holds the limit, and repeat.
"""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.report import StepResult, bracket, refine_steps


def next_rate(steps: Sequence[StepResult], system: str, rounds: int) -> float | None:
    """The next rate to offer ``system``, or None once ``rounds`` refinement steps are done.

    None too for a system that kept up with every rate it was offered (its capacity is above
    the ladder: nothing bounds it from above) or with none (nothing bounds it from below), and
    when no whole msg/s is left between the two ends.
    """
    if refine_steps(steps, system) >= rounds:
        return None
    kept, failed = bracket(steps, system)
    if kept is None or failed is None:
        return None
    middle = round((kept + failed) / 2)
    return float(middle) if kept < middle < failed else None
