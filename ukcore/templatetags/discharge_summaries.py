"""The patient page's list of discharge summaries (included by frontend/patient.html)."""

from __future__ import annotations

from typing import Any

from django import template

from ukcore.models import DischargeSummary

register = template.Library()


@register.inclusion_tag("ukcore/_discharge_summaries_list.html")
def discharge_summaries(patient: Any) -> dict[str, Any]:
    # The page is already audited as a view of this patient (frontend.views.patient_detail).
    summaries = DischargeSummary.objects.filter(patient=patient).only(
        "id", "patient_id", "created_at", "state", "attempts", "last_error", "sent_at"
    )[:10]
    return {"patient": patient, "summaries": list(summaries)}
