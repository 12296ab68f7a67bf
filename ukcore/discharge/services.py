"""Making a discharge summary when a patient leaves the ward, and recording its delivery."""

from __future__ import annotations

import logging
import uuid
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from alerts.models import AlertKind, Severity
from alerts.services.core import AlertNews, raise_or_escalate
from patients.models import Patient
from ukcore import delivery
from ukcore.discharge.content import gather
from ukcore.discharge.document import document_bundle
from ukcore.discharge.render import summary_html, summary_markdown
from ukcore.models import Delivery, DischargeSummary

logger = logging.getLogger(__name__)


def discharge_summary_on_discharge(*, patient_id: int, user_id: int | None) -> DischargeSummary | None:
    """Receiver of ``patients.signals.patient_discharged`` (after the discharge committed).

    The discharge itself can no longer be undone from here, so a failure to make the summary is
    recorded as a technical alert for the ward rather than raised to the person discharging.
    """
    try:
        return discharge_summary_create(patient_id=patient_id, user_id=user_id)
    except Exception as exc:
        logger.exception("Discharge summary for patient %s could not be made", patient_id)
        _alert(patient_id, f"The discharge summary could not be made ({type(exc).__name__}). Write it by hand.")
        return None


def discharge_summary_create(*, patient_id: int, user_id: int | None) -> DischargeSummary:
    patient = Patient.objects.select_related("ward").get(pk=patient_id)
    author = get_user_model().objects.filter(pk=user_id).first() if user_id is not None else None
    created_at = timezone.now()
    document_id = uuid.uuid4()
    summary = gather(patient, author)
    endpoint = settings.VW_FHIR_DISCHARGE_URL
    with transaction.atomic():
        row = DischargeSummary.objects.create(
            patient=patient,
            document_id=document_id,
            created_at=created_at,
            created_by=author,
            document=document_bundle(summary, document_id, created_at),
            html=summary_html(summary, created_at),
            text=summary_markdown(summary, created_at),
            state=Delivery.QUEUED if endpoint else Delivery.NOT_CONFIGURED,
            endpoint=endpoint,
        )
        detail = {"document_id": str(document_id), "state": row.state}
        audit_record(actor=author, action="discharge_summary.made", patient=patient, obj=row, detail=detail)
        if endpoint:
            transaction.on_commit(partial(_send_later, row.pk))
    return row


def _send_later(summary_id: int) -> None:
    from ukcore.tasks import send_discharge_summary

    send_discharge_summary.delay(summary_id)


def discharge_summary_sent(*, summary_id: int, status: int, attempts: int) -> None:
    delivery.mark(DischargeSummary, summary_id, state=Delivery.SENT, attempts=attempts, status=status)


def discharge_summary_retrying(*, summary_id: int, error: str, attempts: int) -> None:
    delivery.mark(DischargeSummary, summary_id, state=Delivery.RETRYING, attempts=attempts, error=error)


def discharge_summary_failed(*, summary_id: int, error: str, attempts: int) -> None:
    """Gave up: record it and raise a technical alert, so the summary reaches the GP another way."""
    with transaction.atomic():
        if not delivery.mark(DischargeSummary, summary_id, state=Delivery.FAILED, attempts=attempts, error=error):
            return  # already recorded by another run of the task
        row = DischargeSummary.objects.get(pk=summary_id)
        _alert(
            row.patient_id,
            f"Not delivered to {row.endpoint} after {attempts} attempt(s): {error[:300]}. "
            "Download it from the patient's page and send it to the GP another way.",
            data={"discharge_summary_id": summary_id},
        )


def _alert(patient_id: int, detail: str, data: dict | None = None) -> None:
    patient = Patient.objects.select_related("ward").get(pk=patient_id)
    news = AlertNews(
        kind=AlertKind.FHIR_DELIVERY_FAILED,
        severity=Severity.MEDIUM,
        title="Discharge summary not sent to the GP",
        detail=detail,
        data=data or {},
        always_escalate=True,
    )
    with transaction.atomic():
        raise_or_escalate(patient=patient, news=news, now=timezone.now())
