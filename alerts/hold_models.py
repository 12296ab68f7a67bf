"""A single-parameter alert held back by the persistence rule (alerts.persistence), and its end.

Imported by ``alerts.models`` so Django registers it with the alerts app. Rows are kept after
they end: what was held, for how long and why it ended (an artefact dropped, or an alert
raised) is part of the record.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class PersistenceHold(models.Model):
    class Outcome(models.TextChoices):
        RAISED = "raised", "Persisted: alert raised"
        REFUTED = "refuted", "Did not persist: no alert"
        HIGH_TOTAL = "high_total", "Total reached HIGH: alert raised at once"
        JOINED = "joined", "Raised with another parameter's alert"

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="+")
    parameter = models.CharField(max_length=24)
    value = models.FloatField(null=True, blank=True)
    # No constraint in the database: observations are partitioned by time on PostgreSQL, so their
    # key is (id, measured_at) and no foreign key can name id alone (docs/history.md). Readings are
    # never deleted while a hold is open (retention keeps what fed a score), so the link stays good.
    observation = models.ForeignKey(
        "patients.Observation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    since = models.DateTimeField(help_text="When the red reading was measured.")
    held_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    alert = models.ForeignKey("alerts.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["since", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "parameter"], condition=Q(ended_at__isnull=True), name="one_open_hold_per_parameter"
            )
        ]
        indexes = [models.Index(fields=["since"], condition=Q(ended_at__isnull=True), name="open_hold_since")]

    def __str__(self) -> str:
        return f"{self.parameter} held for patient {self.patient_id} since {self.since:%H:%M:%S}"
