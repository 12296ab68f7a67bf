"""The care-plan sections of the patient page, rendered by inclusion tags so patient.html only
includes them (its data is read here, inside the page's audited view)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils import timezone

from careplan import selectors
from careplan.forms import AgreedLimitForm
from careplan.rules import LABELS, SAFETY_BOUNDS, UNITS

register = template.Library()


@register.inclusion_tag("careplan/_section.html", takes_context=True)
def care_plan_section(context: Any, patient: Any) -> dict[str, Any]:
    history = list(selectors.limit_history(patient=patient)[:20])
    live = [limit for limit in history if limit.is_live]
    today = timezone.localdate()
    return {
        "patient": patient,
        "csrf_token": context.get("csrf_token"),
        "live": [{"limit": limit, "overdue": limit.review_by < today} for limit in live],
        "ended": [limit for limit in history if not limit.is_live],
        "agreed": selectors.agreed_now(patient, patient.current_score),
        "plan": selectors.plan_of(patient=patient),
        "form": AgreedLimitForm(initial={"review_by": today + dt.timedelta(days=7)}),
        "bounds": [
            {"label": LABELS[name], "low": low, "high": high, "unit": UNITS[name]}
            for name, (low, high) in SAFETY_BOUNDS.items()
        ],
    }


@register.inclusion_tag("careplan/_score_agreed.html")
def score_agreed(patient: Any, score_id: Any = None) -> dict[str, Any]:
    """One line under "NEWS2 now": what the patient's agreed parameters make of the score."""
    agreed = selectors.agreed_now(patient, patient.current_score)
    shown = agreed if agreed and (agreed["within"] or agreed["set_aside"]) else None
    return {"agreed": shown}
