"""The check-ins section of the patient page (read here, inside the page's audited view)."""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import Prefetch
from django.utils import timezone

from checkins import questions as data
from checkins.models import Checkin, CheckinAnswer, CheckinLink
from checkins.services import link_language_for

register = template.Library()


@register.inclusion_tag("checkins/_section.html", takes_context=True)
def checkins_section(context: Any, patient: Any) -> dict[str, Any]:
    link = (
        CheckinLink.objects.filter(patient=patient, revoked_at__isnull=True, expires_at__gt=timezone.now())
        .order_by("-issued_at")
        .first()
    )
    answers = Prefetch("answers", queryset=CheckinAnswer.objects.select_related("question"))
    checkins = Checkin.objects.filter(patient=patient).select_related("recorded_by").prefetch_related(answers)[:14]
    return {
        "patient": patient,
        "csrf_token": context.get("csrf_token"),
        "pathway": patient.ward.get_pathway_display(),
        "link": link,
        "languages": data.languages(),
        "preferred_language": link_language_for(patient),
        "checkins": list(checkins),
    }
