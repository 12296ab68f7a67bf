"""A patient's agreed parameters (personal alerting limits, the SpO2 target) and self-escalation plan.

Agreed parameters never change the NEWS2 score (scoring.news2 stays the RCP chart); they change
which readings raise which alerts (careplan.rules, applied in alerts.services.clinical). Every
limit is kept: ending one (or replacing it) stamps ``ended_at``, so the history of what was
agreed, by whom, why and until when is never lost.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class AgreedParameter(models.TextChoices):
    # Consciousness (ACVPU) and supplemental oxygen are deliberately absent: new confusion
    # always alerts, and oxygen is not a baseline (careplan.rules, docs/care-plan.md).
    RESPIRATORY_RATE = "respiratory_rate", "Respiration rate"
    SPO2 = "spo2", "SpO2 target range"
    SYSTOLIC_BP = "systolic_bp", "Systolic blood pressure"
    HEART_RATE = "heart_rate", "Pulse"
    TEMPERATURE = "temperature", "Temperature"


class AgreedLimit(models.Model):
    """Readings of ``parameter`` from ``low`` to ``high`` (inclusive) are within this patient's
    agreed parameters. For SpO2 it is the target range, with the scale it is scored on: Scale 2
    is the 88-92 % target of hypercapnic respiratory failure (patients.Patient.spo2_scale)."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="agreed_limits")
    parameter = models.CharField(max_length=20, choices=AgreedParameter.choices)
    low = models.FloatField()
    high = models.FloatField()
    spo2_scale = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.TextField()
    review_by = models.DateField(help_text="The date by which a clinician reviews this agreement.")
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    end_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["parameter", "-set_at"]
        indexes = [models.Index(fields=["patient", "ended_at"], name="agreed_limit_patient_live")]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "parameter"], condition=Q(ended_at__isnull=True), name="one_live_limit_per_parameter"
            ),
            models.CheckConstraint(condition=Q(low__lte=models.F("high")), name="agreed_limit_low_not_above_high"),
            models.CheckConstraint(
                condition=Q(parameter__in=[choice.value for choice in AgreedParameter]),
                name="agreed_limit_parameter_allowed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_parameter_display()} {self.low:g}–{self.high:g} for patient {self.patient_id}"

    @property
    def is_live(self) -> bool:
        return self.ended_at is None


class EscalationPlan(models.Model):
    """What the patient (or carer) does if they feel worse: shown on their phone and to staff."""

    patient = models.OneToOneField("patients.Patient", on_delete=models.CASCADE, related_name="escalation_plan")
    if_worse = models.TextField(help_text="What to do first if you feel worse.")
    call_ward_when = models.TextField()
    call_111_when = models.TextField()
    call_999_when = models.TextField()
    ward_phone = models.CharField(max_length=40)
    ward_hours = models.CharField(max_length=200, help_text="e.g. 8am to 8pm, every day")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Self-escalation plan for patient {self.patient_id}"
