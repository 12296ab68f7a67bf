"""Staff pages for not-spots: where dropouts cluster (operator, cell, postcode district) and the kit team's tasks.

Ward-scoped like every page: a clinician sees their wards' patients, the command centre all.
Both pages read patients' records (a postcode places a home; a task names a patient), so both
are audited for the patients they drew on; closing a task is audited by the service.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.access import can_act_on_patient, visible_patients
from accounts.audit_hooks import audit_note, audited
from accounts.permissions import staff_required
from devices import notspots
from devices.models import KitTask

PERIODS = (1, 7, 30, 90)


@staff_required
@require_GET
@audited("connectivity.areas_viewed")
def connectivity_areas(request: HttpRequest) -> HttpResponse:
    raw = request.GET.get("days", "30")
    days = int(raw) if raw.isdigit() and 1 <= int(raw) <= 365 else 30
    since = timezone.now() - timedelta(days=days)
    patients = visible_patients(request.user)
    areas = notspots.dropout_areas(since=since, patients=patients)
    audit_note(request, *notspots.area_patients(since=since, patients=patients))
    context = {"areas": areas, "days": days, "periods": PERIODS, "bad_days": raw != str(days)}
    return render(request, "frontend/connectivity_areas.html", context)


@staff_required
@require_GET
@audited("kit_task.listed")
def kit_tasks(request: HttpRequest) -> HttpResponse:
    tasks = list(notspots.open_kit_tasks(patients=visible_patients(request.user)))
    audit_note(request, *(task.patient_id for task in tasks))
    return render(request, "frontend/kit_tasks.html", {"tasks": tasks})


@staff_required
@require_POST
def kit_task_done(request: HttpRequest, task_id: int) -> HttpResponse:
    task = KitTask.objects.filter(pk=task_id, patient__in=visible_patients(request.user)).first()
    if task is None or not can_act_on_patient(request.user, task.patient_id):
        raise Http404("No such task.")
    try:
        notspots.kit_task_done(task=task, user=request.user, note=request.POST.get("note", ""))
    except notspots.KitTaskError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Kit task for {task.device} marked done.")
    return redirect("frontend:kit-tasks")
