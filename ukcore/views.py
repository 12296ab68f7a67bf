"""The discharge summary from the patient's page: HTML, PDF and the FHIR document as sent."""

from __future__ import annotations

import json

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from accounts.audit_hooks import audit_note, audited
from accounts.permissions import patient_for, staff_required
from ukcore.discharge.render import summary_pdf
from ukcore.models import DischargeSummary


def _summary(request: HttpRequest, patient_id: int, summary_id: int) -> DischargeSummary:
    patient = patient_for(request.user, patient_id)  # another ward's patient: 404, as missing
    summary = DischargeSummary.objects.filter(patient=patient, pk=summary_id).first()
    if summary is None:
        raise Http404("No such discharge summary.")
    audit_note(request, patient)
    return summary


def _attachment(summary: DischargeSummary, extension: str) -> str:
    return f'attachment; filename="discharge-summary-{summary.patient.nhs_number}-{summary.pk}.{extension}"'


@staff_required
@require_GET
@audited("discharge_summary.viewed")
def summary_html(request: HttpRequest, patient_id: int, summary_id: int) -> HttpResponse:
    return HttpResponse(_summary(request, patient_id, summary_id).html, content_type="text/html; charset=utf-8")


@staff_required
@require_GET
@audited("discharge_summary.downloaded")
def summary_pdf_view(request: HttpRequest, patient_id: int, summary_id: int) -> HttpResponse:
    summary = _summary(request, patient_id, summary_id)
    response = HttpResponse(summary_pdf(summary.text, summary.created_at), content_type="application/pdf")
    response["Content-Disposition"] = _attachment(summary, "pdf")
    return response


@staff_required
@require_GET
@audited("discharge_summary.downloaded")
def summary_document(request: HttpRequest, patient_id: int, summary_id: int) -> HttpResponse:
    summary = _summary(request, patient_id, summary_id)
    response = HttpResponse(json.dumps(summary.document, ensure_ascii=False), content_type="application/fhir+json")
    response["Content-Disposition"] = _attachment(summary, "json")
    return response
