"""Checks every time given to the platform passes before it reaches the database.

Python reads offsets up to ±23:59 and years 1–9999; PostgreSQL refuses offsets past ±15:59, and
turning year 1 with a positive offset into UTC (or year 9999 with a negative one) overflows.
Both were server errors; here they are a reason the caller can act on.
"""

from __future__ import annotations

import datetime as dt

# The world's UTC offsets run from -12:00 (Baker Island) to +14:00 (Line Islands).
MIN_OFFSET = dt.timedelta(hours=-12)
MAX_OFFSET = dt.timedelta(hours=14)


def aware_datetime_problem(value: dt.datetime) -> str | None:
    """Why ``value`` (aware) cannot be stored or compared, or None when it can."""
    offset = value.utcoffset()
    if offset is not None and not MIN_OFFSET <= offset <= MAX_OFFSET:
        minutes = int(offset.total_seconds()) // 60
        shown = f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        return f"The UTC offset {shown} is not a real one; offsets run from -12:00 to +14:00."
    try:
        value.astimezone(dt.UTC)
    except OverflowError:
        return "The date is out of range."
    return None
