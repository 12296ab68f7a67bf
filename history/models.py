"""Per-minute summaries of raw continuous readings that were summarised away (history.retention)."""

from __future__ import annotations

from django.db import models


class ObservationMinute(models.Model):
    """One minute of one continuous device's readings of one type: what stays once the raw go.

    Written by the retention job only for readings that fed no score and no alert; those that
    did are kept raw for the record's life, and are counted here as well.
    """

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="+", db_index=False)
    device = models.ForeignKey("devices.Device", on_delete=models.PROTECT, related_name="+", db_index=False)
    type = models.CharField(max_length=20)
    minute = models.DateTimeField()
    count = models.PositiveIntegerField()
    minimum = models.FloatField()
    maximum = models.FloatField()
    mean = models.FloatField()

    class Meta:
        ordering = ["-minute"]
        indexes = [models.Index(fields=["patient", "type", "-minute"], name="obs_minute_patient_type")]
        constraints = [
            models.UniqueConstraint(fields=["device", "type", "minute"], name="obs_minute_unique_device_type"),
        ]

    def __str__(self) -> str:
        return f"{self.type} x{self.count} at {self.minute:%Y-%m-%d %H:%M}"
