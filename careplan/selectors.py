"""Reads of agreed parameters and plans, always through who-may-see-what (accounts.access)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Prefetch, QuerySet

from careplan.models import AgreedLimit, EscalationPlan
from careplan.rules import Assessment, Limit, assess

# Where a prefetch (live_limits_prefetch) leaves a patient's live limits.
LIVE_LIMITS_ATTR = "live_agreed_limits"


def live_limits() -> QuerySet[AgreedLimit]:
    return AgreedLimit.objects.filter(ended_at__isnull=True)


def live_limits_prefetch(lookup: str = "agreed_limits") -> Prefetch:
    """For a queryset of patients (or ``patient__agreed_limits`` of alerts): their live limits."""
    return Prefetch(lookup, queryset=live_limits(), to_attr=LIVE_LIMITS_ATTR)


def as_rule(limit: AgreedLimit) -> Limit:
    return Limit(limit.parameter, limit.low, limit.high, limit.spo2_scale)


def limits_by_patient(patient_ids: Iterable[int]) -> dict[int, dict[str, Limit]]:
    """Live limits of these patients in one query (none for no patients)."""
    ids = list(patient_ids)
    if not ids:
        return {}
    found: dict[int, dict[str, Limit]] = {}
    for limit in live_limits().filter(patient_id__in=ids):
        found.setdefault(limit.patient_id, {})[limit.parameter] = as_rule(limit)
    return found


def limits_of(patient: Any) -> dict[str, Limit]:
    """A patient's (or patient id's) live limits: from the prefetch when the caller made one, else one query."""
    rows = getattr(patient, LIVE_LIMITS_ATTR, None)
    if rows is None:
        rows = list(live_limits().filter(patient_id=getattr(patient, "pk", patient)))
    return {row.parameter: as_rule(row) for row in rows}


def assess_score(score: Any, limits: dict[str, Limit] | None) -> Assessment:
    return assess(
        score.sub_scores or {}, total=score.total, spo2_scale=score.spo2_scale, limits=limits, risk=score.risk
    )


def agreed_now(patient: Any, score: Any) -> dict[str, Any] | None:
    """What agreed parameters make of the patient's score, for a screen or the API; None if no score."""
    if score is None:
        return None
    return assess_score(score, limits_of(patient)).to_dict()


def limit_history(*, patient: Any) -> QuerySet[AgreedLimit]:
    return AgreedLimit.objects.filter(patient=patient).select_related("set_by", "ended_by").order_by("-set_at")


def plan_of(*, patient: Any) -> EscalationPlan | None:
    return EscalationPlan.objects.filter(patient=patient).select_related("updated_by").first()
