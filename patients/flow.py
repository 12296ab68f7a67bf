"""Capacity and flow: occupancy against beds, admissions and discharges, length of stay, outcomes.

Days are the ward's calendar days (Europe/London). Occupancy for a day is the end-of-day census
(stays open at the following local midnight) over the beds; "now" is the stays open now. NHS
England's virtual-ward operational target is 80 % occupancy (``OCCUPANCY_TARGET``).
Pure arithmetic over the stays that overlap the period, so the rules are tested without pages.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from patients.models import Direction, DischargeOutcome, Stay, Ward

OCCUPANCY_TARGET = 80  # per cent, NHS England virtual wards operational framework
MAX_PERIOD_DAYS = 366
# Length of stay in calendar days, grouped as virtual-ward reports usually are.
LOS_BUCKETS = [(0, 1, "0–1"), (2, 3, "2–3"), (4, 7, "4–7"), (8, 14, "8–14"), (15, 21, "15–21"), (22, None, "22+")]


class FlowPeriodError(ValueError):
    pass


def day_start(day: date) -> datetime:
    """Local midnight at the start of ``day``, aware (23 or 25 hours long across a clock change)."""
    return timezone.make_aware(datetime.combine(day, time.min))


def occupancy_percent(census: int, beds: int | None) -> float | None:
    """Census over beds, in per cent to one decimal; None when the ward has no beds recorded."""
    if not beds:
        return None
    return round(100 * census / beds, 1)


def los_bucket(days: int) -> str:
    for low, high, label in LOS_BUCKETS:
        if days >= low and (high is None or days <= high):
            return label
    raise ValueError(f"negative length of stay: {days}")


@dataclass(frozen=True)
class Day:
    day: date
    census: int
    admissions: int
    discharges: int
    beds: int | None

    @property
    def occupancy(self) -> float | None:
        return occupancy_percent(self.census, self.beds)

    @property
    def over_target(self) -> bool:
        return self.occupancy is not None and self.occupancy > OCCUPANCY_TARGET


def check_period(since: date, until: date) -> None:
    if since > until:
        raise FlowPeriodError("The start of the period must not be after its end.")
    if (until - since).days >= MAX_PERIOD_DAYS:
        raise FlowPeriodError(f"Choose a period of at most {MAX_PERIOD_DAYS} days.")


def stays_overlapping(wards: QuerySet[Ward], since: date, until: date) -> QuerySet[Stay]:
    start, end = day_start(since), day_start(until + timedelta(days=1))
    return Stay.objects.filter(ward__in=wards, admitted_at__lt=end).filter(
        Q(discharged_at__isnull=True) | Q(discharged_at__gte=start)
    )


def days_of(stays: list[Stay], since: date, until: date, beds: int | None) -> list[Day]:
    days = []
    day = since
    while day <= until:
        start, end = day_start(day), day_start(day + timedelta(days=1))
        census = sum(1 for s in stays if s.admitted_at < end and (s.discharged_at is None or s.discharged_at >= end))
        admitted = sum(1 for s in stays if start <= s.admitted_at < end)
        discharged = sum(1 for s in stays if s.discharged_at is not None and start <= s.discharged_at < end)
        days.append(Day(day, census, admitted, discharged, beds))
        day += timedelta(days=1)
    return days


def ward_flow(*, wards: QuerySet[Ward], since: date, until: date, now: datetime | None = None) -> dict[str, Any]:
    """Everything the flow page, its API and its CSV show, for ``wards`` together."""
    check_period(since, until)
    now = now or timezone.now()
    beds = wards.aggregate(total=Sum("beds"))["total"]
    stays = list(stays_overlapping(wards, since, until).only(
        "admitted_at", "discharged_at", "direction", "outcome", "readmission_of_id", "ward_id"
    ))  # fmt: skip
    start, end = day_start(since), day_start(until + timedelta(days=1))
    admitted = [s for s in stays if start <= s.admitted_at < end]
    discharged = [s for s in stays if s.discharged_at is not None and start <= s.discharged_at < end]
    lengths = [s.length_of_stay_days() for s in discharged]
    open_now = Stay.objects.filter(ward__in=wards, discharged_at__isnull=True, admitted_at__lte=now).count()
    by_los = Counter(los_bucket(days) for days in lengths)
    return {
        "since": since,
        "until": until,
        "beds": beds,
        "target": OCCUPANCY_TARGET,
        "now": {"census": open_now, "occupancy": occupancy_percent(open_now, beds), "beds": beds},
        "days": days_of(stays, since, until, beds),
        "admissions": len(admitted),
        "discharges": len(discharged),
        "direction": {d: sum(1 for s in admitted if s.direction == d) for d in Direction.values},
        "readmissions": sum(1 for s in admitted if s.readmission_of_id is not None),
        "outcomes": {o: sum(1 for s in discharged if s.outcome == o) for o in DischargeOutcome.values},
        "length_of_stay": {
            "buckets": [{"label": label, "stays": by_los.get(label, 0)} for _, _, label in LOS_BUCKETS],
            "median": statistics.median(lengths) if lengths else None,
            "mean": round(statistics.fmean(lengths), 1) if lengths else None,
        },
    }


CSV_COLUMNS = ["date", "beds", "census_end_of_day", "occupancy_percent", "over_80_percent", "admissions", "discharges"]


def flow_csv(flow: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for day in flow["days"]:
        occupancy = "" if day.occupancy is None else f"{day.occupancy:.1f}"
        writer.writerow(
            [day.day.isoformat(), day.beds or "", day.census, occupancy, "Y" if day.over_target else "N",
             day.admissions, day.discharges]
        )  # fmt: skip
    return out.getvalue()
