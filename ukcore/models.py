"""What the platform sent to other FHIR systems, with the delivery state of each sending."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Delivery(models.TextChoices):
    NOT_CONFIGURED = "not_configured", "Not sent: no FHIR endpoint is configured"
    QUEUED = "queued", "Queued"
    RETRYING = "retrying", "Retrying"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed: technical alert raised"


class Sending(models.Model):
    """Where a FHIR payload went and how that went; one row per payload, never overwritten."""

    state = models.CharField(max_length=16, choices=Delivery.choices)
    endpoint = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class DischargeSummary(Sending):
    """The discharge summary for the GP: the FHIR document as sent, and its human-readable form.

    Both are made once, at discharge, from the record as it then was, so the GP, the patient
    page and the audit trail all see the same document.
    """

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="discharge_summaries")
    document_id = models.UUIDField(default=uuid.uuid4, unique=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    document = models.JSONField(help_text="The FHIR document Bundle (UK Core Composition first).")
    html = models.TextField(help_text="The same summary for a person to read.")
    text = models.TextField(help_text="The same summary as Markdown, from which its PDF is drawn.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "-created_at"], name="discharge_summary_patient")]

    def __str__(self) -> str:
        return f"Discharge summary for patient {self.patient_id} ({self.get_state_display()})"


class ObservationPush(Sending):
    """One transaction Bundle of newly scored observations for the shared care record."""

    created_at = models.DateTimeField()
    bundle = models.JSONField()
    resource_count = models.PositiveIntegerField()
    patient_ids = models.JSONField(default=list)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "created_at"], name="observation_push_state")]

    def __str__(self) -> str:
        return f"{self.resource_count} observations pushed at {self.created_at:%Y-%m-%d %H:%M} ({self.state})"
