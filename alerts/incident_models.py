"""Connectivity incidents: many devices silent together, told to the command centre as one.

Imported by ``alerts.models`` so Django registers them with the alerts app. The rule that opens
an incident is ``alerts.grouping``; the writes are ``alerts.services.incidents``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class GroupKind(models.TextChoices):
    BROKER = "broker", "Every network (the platform's broker)"
    OPERATOR = "operator", "Mobile network"
    CELL = "cell", "Mobile cell"
    WARD = "ward", "Ward"


class IncidentState(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class ConnectivityIncident(models.Model):
    """One outage: the devices of one group (operator, cell, ward, or all) that went silent together."""

    group_kind = models.CharField(max_length=10, choices=GroupKind.choices)
    group_value = models.CharField(max_length=64, blank=True)
    label = models.CharField(max_length=120)
    state = models.CharField(max_length=8, choices=IncidentState.choices, default=IncidentState.OPEN)
    # The earliest silence among its devices: when the outage began, not when it was noticed.
    started_at = models.DateTimeField()
    opened_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    # What the grouping rule saw: devices silent in the window, and what the usual rate expected.
    silent_in_window = models.PositiveIntegerField(default=0)
    expected_in_window = models.FloatField(default=0.0)
    # Acknowledged and owned like an alert (alerts.services.incident_actions); its folded
    # dropouts inherit both, and acknowledging stops its escalation ladder (rota).
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["group_kind", "group_value"],
                condition=Q(state="open"),
                name="one_open_incident_per_group",
            )
        ]

    def __str__(self) -> str:
        return f"Connectivity incident {self.pk}: {self.label}"


class IncidentMember(models.Model):
    """A device's dropout folded under an incident, with the patient's risk when last heard from.

    The device's own 'device offline' alert is still raised and recorded; while ``released_at``
    is empty it is shown under the incident instead of on its own in the queue.
    """

    incident = models.ForeignKey(ConnectivityIncident, on_delete=models.CASCADE, related_name="members")
    device = models.ForeignKey("devices.Device", on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="+")
    gap = models.ForeignKey(
        "devices.ConnectivityGap", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    alert = models.ForeignKey("alerts.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="folds")
    silent_since = models.DateTimeField()
    joined_at = models.DateTimeField()
    returned_at = models.DateTimeField(null=True, blank=True)
    # Set when the incident closed without this device: its alert stands on its own again.
    released_at = models.DateTimeField(null=True, blank=True)
    # The patient's risk when last heard from (the NEWS2 current at the dropout).
    risk = models.CharField(max_length=12, blank=True, help_text="Blank: never scored.")
    news2_total = models.PositiveSmallIntegerField(null=True, blank=True)
    spo2_scale = models.PositiveSmallIntegerField(default=1)
    on_oxygen = models.BooleanField(default=False)

    class Meta:
        ordering = ["incident", "id"]
        constraints = [models.UniqueConstraint(fields=["incident", "device"], name="one_membership_per_device")]
        indexes = [models.Index(fields=["alert"], condition=Q(released_at__isnull=True), name="folded_alert")]

    def __str__(self) -> str:
        return f"Device {self.device_id} in incident {self.incident_id}"
