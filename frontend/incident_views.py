"""The triage screen's actions on a connectivity incident: acknowledge, assign (alerts.services.incident_actions).

The same shape as an alert's actions in frontend.views: a POST form, sent by the queue's script
with fetch (a refusal is shown on the incident's card) or as a plain form (a message after the
redirect); the service checks who may act and audits what was done.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.access import can_triage, visible_patients
from accounts.permissions import staff_required
from alerts.incident_models import ConnectivityIncident, IncidentMember
from alerts.services import AlertActionError, incident_acknowledge, incident_assign
from alerts.services.incident_actions import incident_to_dict

ACTIONS = ("acknowledge", "assign")


@staff_required
@require_POST
def incident_action(request: HttpRequest, incident_id: int, action: str) -> HttpResponse:
    seen = IncidentMember.objects.filter(patient__in=visible_patients(request.user)).values("incident_id")
    incident = ConnectivityIncident.objects.filter(pk=incident_id, pk__in=seen).first()
    if incident is None or action not in ACTIONS or not can_triage(request.user):
        raise Http404("No such incident.")
    error = None
    try:
        if action == "acknowledge":
            incident = incident_acknowledge(incident=incident, user=request.user)
        else:
            incident = incident_assign(incident=incident, user=request.user, assignee=_assignee(request))
    except AlertActionError as exc:
        error = str(exc)
    if "application/json" in request.headers.get("Accept", ""):
        if error:
            return JsonResponse({"ok": False, "error": error}, status=400)
        return JsonResponse({"ok": True, "incident": incident_to_dict(incident)})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Incident {incident_id}: {action} recorded.")
    return redirect(reverse("frontend:triage") + f"#incident-{incident_id}")


def _assignee(request: HttpRequest) -> Any:
    raw = request.POST.get("assignee", "")
    if raw == "me":
        return request.user
    if not raw.isdigit():
        return None
    return get_user_model().objects.filter(pk=int(raw), is_active=True).first()
