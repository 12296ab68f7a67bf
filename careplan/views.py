"""Staff pages for agreed parameters and the self-escalation plan: translate, call the services.

Forms post here from the patient page (careplan/_patient_section.html) and come back to it with
the outcome as a message: a refused limit names the rule it broke.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.audit_hooks import audited, noted_patient
from accounts.permissions import staff_required
from careplan import selectors, services
from careplan.forms import AgreedLimitForm, EndLimitForm, EscalationPlanForm
from careplan.models import AgreedLimit


def _back(patient: Any) -> HttpResponse:
    return redirect(reverse("frontend:patient", args=[patient.pk]) + "#care-plan")


def _errors(exc: ValidationError | PermissionDenied) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


def _form_errors(form: Any) -> str:
    return " ".join(f"{form.fields[name].label or name if name in form.fields else ''}: {' '.join(errs)}".lstrip(": ")
                    for name, errs in form.errors.items())  # fmt: skip


@staff_required
@require_POST
def limit_set(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = noted_patient(request, patient_id)
    form = AgreedLimitForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Agreed parameters not changed. {_form_errors(form)}")
        return _back(patient)
    try:
        limit = services.agreed_limit_set(patient=patient, user=request.user, **form.cleaned_data)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, f"Agreed parameters not changed. {_errors(exc)}")
    else:
        messages.success(request, f"Agreed: {limit.get_parameter_display()} {limit.low:g}–{limit.high:g}.")
    return _back(patient)


@staff_required
@require_POST
def limit_end(request: HttpRequest, patient_id: int, limit_id: int) -> HttpResponse:
    patient = noted_patient(request, patient_id)
    limit = AgreedLimit.objects.filter(pk=limit_id, patient=patient).select_related("patient").first()
    if limit is None:
        raise Http404("No such agreement.")
    form = EndLimitForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the agreement ends.")
        return _back(patient)
    try:
        services.agreed_limit_end(limit=limit, user=request.user, reason=form.cleaned_data["reason"])
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, f"{limit.get_parameter_display()}: agreement ended; the chart alone decides.")
    return _back(patient)


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
@audited("careplan.plan_viewed")
def plan_edit(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = noted_patient(request, patient_id)
    plan = selectors.plan_of(patient=patient)
    if request.method == "POST":
        form = EscalationPlanForm(request.POST)
        if form.is_valid():
            try:
                services.escalation_plan_save(patient=patient, user=request.user, **form.cleaned_data)
            except (ValidationError, PermissionDenied) as exc:
                form.add_error(None, _errors(exc))
            else:
                messages.success(request, "Self-escalation plan saved; the patient sees it on their check-in link.")
                return _back(patient)
        return render(request, "careplan/plan_edit.html", {"patient": patient, "form": form}, status=400)
    initial = {name: getattr(plan, name) for name in services.PLAN_FIELDS} if plan else services.default_plan(patient)
    form = EscalationPlanForm(initial=initial)
    return render(request, "careplan/plan_edit.html", {"patient": patient, "form": form, "plan": plan})
