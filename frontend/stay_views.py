"""Admission, discharge, readmission and the patient's record, from the screens.

Thin translations: forms turn text into typed values, the services in ``patients`` decide and
audit. Every form is a plain POST with CSRF that works without JavaScript; a refused form is
shown again with its errors (400), a done one redirects to the patient's page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import visible_patients, visible_wards
from accounts.permissions import staff_required
from devices.models import KitTask
from frontend import views
from frontend.stay_forms import (
    AdmitForm,
    ContactForm,
    DischargeForm,
    ExpectedDischargeForm,
    PhoneForm,
    ReadmitForm,
    RecordForm,
)
from patients import record_services, services, stays
from patients.models import Contact, PatientPhone
from patients.record_services import RECORD_FIELDS


def _form_errors_from(form: Any, exc: Exception) -> None:
    """Put a service's refusal on the form: on its field where the form has one, else on top."""
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    elif isinstance(exc, ValidationError):
        form.add_error(None, exc.messages)
    else:
        form.add_error(None, str(exc) or "That is not allowed.")


def _patient_page_again(request: HttpRequest, patient: Any, **forms: Any) -> HttpResponse:
    context = views._patient_context(request, patient)
    context.update(forms)
    return render(request, "frontend/patient.html", context, status=400)


def _patient_form_post(
    request: HttpRequest, patient: Any, form: Any, *, shown_as: str, act: Callable[[dict], object], done: str
) -> HttpResponse:
    """One form posted from the patient page: ``act`` on its data, then back to the page.

    A refusal (the form's or the service's) shows the page again with ``form`` as ``shown_as``.
    """
    if form.is_valid():
        try:
            act(form.cleaned_data)
        except (ValidationError, PermissionDenied) as exc:
            _form_errors_from(form, exc)
    if form.errors:
        return _patient_page_again(request, patient, **{shown_as: form})
    messages.success(request, done)
    return redirect("frontend:patient", patient_id=patient.pk)


@staff_required
@require_http_methods(["GET", "POST"])
def admit(request: HttpRequest) -> HttpResponse:
    wards = visible_wards(request.user).order_by("name")
    if request.method == "GET":
        initial = {"ward": request.GET.get("ward")} if request.GET.get("ward") else {}
        return render(request, "frontend/admit.html", {"form": AdmitForm(wards=wards, initial=initial)})
    form = AdmitForm(request.POST, wards=wards)
    patient = None
    if form.is_valid():
        try:
            patient = services.patient_admit(user=request.user, **form.service_arguments())
        except (ValidationError, PermissionDenied) as exc:
            _form_errors_from(form, exc)
    if patient is None:
        return render(request, "frontend/admit.html", {"form": form}, status=400)
    messages.success(request, f"{patient.name} admitted to {patient.ward.name}. Next: pair their kit.")
    return redirect("frontend:patient", patient_id=patient.pk)


@staff_required
@require_POST
def discharge(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = views._patient_or_404(request, patient_id)

    def act(data: dict) -> None:
        given = {name: value for name, value in data.items() if name != "confirm_end_monitoring"}
        services.patient_discharge(patient=patient, user=request.user, **given)

    done = f"{patient.name} discharged. Monitoring has ended; the kit to collect is listed below."
    return _patient_form_post(
        request, patient, DischargeForm(request.POST), shown_as="discharge_form", act=act, done=done
    )


@staff_required
@require_POST
def readmit(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = views._patient_or_404(request, patient_id)
    form = ReadmitForm(request.POST, wards=visible_wards(request.user))

    def act(data: dict) -> None:
        details = {name: value for name, value in data.items() if name not in ("ward", "admitted_at")}
        stays.patient_readmit(
            patient=patient, user=request.user, ward=data["ward"], admitted_at=data["admitted_at"],
            details=stays.StayDetails(**details),
        )  # fmt: skip

    done = f"{patient.name} readmitted. Next: pair their kit."
    return _patient_form_post(request, patient, form, shown_as="readmit_form", act=act, done=done)


@staff_required
@require_POST
def expected_discharge(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = views._patient_or_404(request, patient_id)
    form = ExpectedDischargeForm(request.POST)
    stay = patient.open_stay
    if stay is None:
        form.add_error(None, "This patient is not on a virtual ward.")
        return _patient_page_again(request, patient, expected_form=form)

    def act(data: dict) -> None:
        stays.stay_set_expected_discharge(
            stay=stay, user=request.user, expected_discharge_on=data["expected_discharge_on"]
        )

    done = "Expected discharge date saved."
    return _patient_form_post(request, patient, form, shown_as="expected_form", act=act, done=done)


@staff_required
@require_POST
def record(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = views._patient_or_404(request, patient_id)

    def act(data: dict) -> None:
        changes = {name: data[name] for name in RECORD_FIELDS}
        record_services.patient_record_update(patient=patient, user=request.user, changes=changes)

    done = "The patient's record has been updated."
    return _patient_form_post(request, patient, RecordForm(request.POST), shown_as="record_form", act=act, done=done)


@staff_required
@require_POST
def phone_add(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = views._patient_or_404(request, patient_id)
    return _patient_form_post(
        request, patient, PhoneForm(request.POST), shown_as="phone_form", done="Phone number added.",
        act=lambda data: record_services.patient_phone_add(patient=patient, user=request.user, **data),
    )  # fmt: skip


@staff_required
@require_POST
def phone_remove(request: HttpRequest, patient_id: int, phone_id: int) -> HttpResponse:
    phone = PatientPhone.objects.filter(pk=phone_id, patient__in=visible_patients(request.user)).first()
    if phone is None or phone.patient_id != patient_id:
        raise Http404("No such phone number.")
    record_services.patient_phone_remove(phone=phone, user=request.user)
    messages.success(request, "Phone number removed.")
    return redirect("frontend:patient", patient_id=patient_id)


@staff_required
@require_POST
def contact_add(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = views._patient_or_404(request, patient_id)
    return _patient_form_post(
        request, patient, ContactForm(request.POST), shown_as="contact_form", done="Contact added.",
        act=lambda data: record_services.contact_add(patient=patient, user=request.user, **data),
    )  # fmt: skip


@staff_required
@require_POST
def contact_remove(request: HttpRequest, patient_id: int, contact_id: int) -> HttpResponse:
    contact = Contact.objects.filter(pk=contact_id, patient__in=visible_patients(request.user)).first()
    if contact is None or contact.patient_id != patient_id:
        raise Http404("No such contact.")
    record_services.contact_remove(contact=contact, user=request.user)
    messages.success(request, "Contact removed.")
    return redirect("frontend:patient", patient_id=patient_id)


@staff_required
@require_POST
def kit_collected(request: HttpRequest, patient_id: int, task_id: int) -> HttpResponse:
    task = KitTask.objects.filter(
        Q(pk=task_id, patient_id=patient_id), patient__in=visible_patients(request.user)
    ).first()
    if task is None:
        raise Http404("No such kit task.")
    from patients.monitoring import kit_collected as mark

    mark(task=task, user=request.user)
    messages.success(request, f"{task.device} marked as collected.")
    return redirect("frontend:patient", patient_id=patient_id)
