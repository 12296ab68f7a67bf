"""Every NEWS2 computed is kept: its sub-scores, the scale, where each came from, what was missing."""

from __future__ import annotations

from django.db import models


class EarlyWarningScore(models.Model):
    class Risk(models.TextChoices):
        LOW = "low", "Low"
        LOW_MEDIUM = "low-medium", "Low–medium"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="scores")
    computed_at = models.DateTimeField()
    # The moment the score describes: the newest measured_at among the readings used.
    as_of = models.DateTimeField()
    total = models.PositiveSmallIntegerField()
    risk = models.CharField(max_length=12, choices=Risk.choices)
    band = models.CharField(max_length=12)
    spo2_scale = models.PositiveSmallIntegerField()
    complete = models.BooleanField()
    single_parameter_3 = models.BooleanField(default=False)
    # {"spo2": {"value": 93, "score": 2, "observation_id": 17, "measured_at": "..."}, ...}
    sub_scores = models.JSONField()
    missing = models.JSONField(default=list)
    stale = models.JSONField(default=list)
    clinical_response = models.TextField()
    monitoring_frequency = models.CharField(max_length=80)
    monitoring_interval_s = models.PositiveIntegerField()

    class Meta:
        ordering = ["-as_of", "-id"]
        indexes = [models.Index(fields=["patient", "-as_of"], name="score_patient_time")]

    def __str__(self) -> str:
        mark = "" if self.complete else " (incomplete)"
        return f"NEWS2 {self.total} {self.risk}{mark}"
