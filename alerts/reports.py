"""Alert outcomes over a period: the figures NHS virtual wards report on their alerting.

Per kind: how many alerts were raised, how quickly a person acknowledged them (median and 90th
percentile), how quickly they were resolved, and how they ended. Computed in Python over one
query so it runs the same on PostgreSQL and SQLite; a ward's month is a few thousand rows.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet

from accounts.access import AnyUser, visible_patients
from alerts.models import Alert, AlertKind, AlertState, Outcome
from alerts.outcomes import CHANGED_MANAGEMENT, NON_ACTIONABLE
from alerts.selectors import visible_alerts
from patients.models import Patient, Ward

MAX_PERIOD = timedelta(days=366)


class ReportPeriodError(ValueError):
    pass


def check_period(since: datetime, until: datetime) -> None:
    for name, moment in (("since", since), ("until", until)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ReportPeriodError(f"{name} must include a UTC offset or Z, e.g. 2026-11-23T00:00:00Z")
    if since >= until:
        raise ReportPeriodError("since must be before until")
    if until - since > MAX_PERIOD:
        raise ReportPeriodError("a report covers at most 366 days")


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile: a value that actually occurred, as audit reports expect."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def _timing(seconds: list[float]) -> dict[str, float | None]:
    return {
        "count": len(seconds),
        "median_s": statistics.median(seconds) if seconds else None,
        "p90_s": percentile(seconds, 0.9),
    }


def alert_summary(*, user: AnyUser, since: datetime, until: datetime, ward_id: int | None = None) -> dict[str, Any]:
    """Alerts opened in [since, until) that the user may see, summarised per kind."""
    alerts, patients = visible_alerts(user), visible_patients(user)
    if ward_id is not None:
        alerts, patients = alerts.filter(patient__ward_id=ward_id), patients.filter(ward_id=ward_id)
    return _summarise(alerts, since, until, patients)


def alert_outcome_summary(*, since: datetime, until: datetime, wards: QuerySet[Ward]) -> dict[str, Any]:
    """The same summary for a set of wards (the dashboard passes ``visible_wards(user)``)."""
    return _summarise(
        Alert.objects.filter(patient__ward__in=wards), since, until, Patient.objects.filter(ward__in=wards)
    )


def patient_days(patients: QuerySet[Patient], since: datetime, until: datetime) -> float:
    """Days on the ward within [since, until), summed over patients: the denominator of alert rates."""
    stays = patients.filter(admitted_at__lt=until).filter(Q(discharged_at__isnull=True) | Q(discharged_at__gt=since))
    total = timedelta()
    for admitted, discharged in stays.values_list("admitted_at", "discharged_at"):
        total += min(discharged or until, until) - max(admitted, since)
    return total.total_seconds() / 86400


def _hte13(outcomes: Counter[str], raised: int, days: float) -> dict[str, Any]:
    """NICE HTE13's figures for one kind: rate per patient-day, shares that changed management
    and that were non-actionable, of the alerts a person gave an outcome."""
    judged = sum(count for outcome, count in outcomes.items() if outcome != Outcome.AUTO_RESOLVED)
    changed = sum(outcomes[o] for o in CHANGED_MANAGEMENT)
    noise = sum(outcomes[o] for o in NON_ACTIONABLE)
    return {
        "per_patient_day": round(raised / days, 3) if days else None,
        "with_outcome": judged,
        "changed_management_share": round(changed / judged, 3) if judged else None,
        "non_actionable_share": round(noise / judged, 3) if judged else None,
    }


def _summarise(
    alerts: QuerySet[Alert], since: datetime, until: datetime, patients: QuerySet[Patient]
) -> dict[str, Any]:
    check_period(since, until)
    days = patient_days(patients, since, until)
    alerts = alerts.filter(opened_at__gte=since, opened_at__lt=until)
    rows = alerts.values_list("kind", "state", "outcome", "opened_at", "acknowledged_at", "resolved_at")
    counts: Counter[str] = Counter()
    live: Counter[str] = Counter()
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    to_ack: dict[str, list[float]] = defaultdict(list)
    to_resolve: dict[str, list[float]] = defaultdict(list)
    for kind, state, outcome, opened, acknowledged, resolved in rows:
        counts[kind] += 1
        if state != AlertState.RESOLVED:
            live[kind] += 1
        if outcome:
            outcomes[kind][outcome] += 1
        if acknowledged is not None:
            to_ack[kind].append((acknowledged - opened).total_seconds())
        if resolved is not None:
            to_resolve[kind].append((resolved - opened).total_seconds())
    by_kind = {
        kind: {
            "label": AlertKind(kind).label,
            "raised": counts[kind],
            "still_open": live[kind],
            "time_to_acknowledge": _timing(to_ack[kind]),
            "time_to_resolve": _timing(to_resolve[kind]),
            "outcomes": dict(sorted(outcomes[kind].items())),
            **_hte13(outcomes[kind], counts[kind], days),
        }
        for kind in AlertKind.values
    }
    every: Counter[str] = sum(outcomes.values(), Counter())
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "patient_days": round(days, 2),
        "total_raised": sum(counts.values()),
        **_hte13(every, sum(counts.values()), days),
        "time_to_acknowledge": _timing([s for values in to_ack.values() for s in values]),
        "by_kind": by_kind,
    }
