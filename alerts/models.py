"""Clinical and technical alerts, their lifecycle, and every action taken on them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class AlertKind(models.TextChoices):
    NEWS2_RISK = "news2_risk", "NEWS2 risk band reached"
    SINGLE_PARAMETER = "single_parameter", "Single parameter scored 3"
    FALL = "fall", "Fall detected"
    DEVICE_OFFLINE = "device_offline", "Device offline"
    OBSERVATIONS_OVERDUE = "observations_overdue", "Observations overdue"
    LOW_BATTERY = "low_battery", "Low battery"
    NOTIFICATION_FAILED = "notification_failed", "Notification not delivered"
    # The patient's own daily check-in (checkins): an answer that is a red flag, or no answer.
    CHECKIN_RED_FLAG = "checkin_red_flag", "Check-in red flag"
    CHECKIN_OVERDUE = "checkin_overdue", "Check-in overdue"
    # A patient's agreed parameters (careplan) are past their review date.
    AGREED_REVIEW_DUE = "agreed_review_due", "Agreed parameters review due"
    # The GP's discharge summary could not be sent to the configured FHIR endpoint (ukcore).
    FHIR_DELIVERY_FAILED = "fhir_delivery_failed", "Discharge summary not delivered"


CLINICAL_KINDS = frozenset(
    {AlertKind.NEWS2_RISK, AlertKind.SINGLE_PARAMETER, AlertKind.FALL, AlertKind.CHECKIN_RED_FLAG}
)


class Category(models.TextChoices):
    CLINICAL = "clinical", "Clinical"
    TECHNICAL = "technical", "Technical"


class Severity(models.IntegerChoices):
    # Ordered so that "most urgent first" is a plain descending sort.
    INFO = 10, "Information"
    LOW = 20, "Low"
    LOW_MEDIUM = 30, "Low–medium"
    MEDIUM = 40, "Medium"
    HIGH = 50, "High"


class AlertState(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class Outcome(models.TextChoices):
    # NICE HTE13 asks of each alert whether it changed clinical management; alerts.outcomes
    # sorts these into "changed management" and "non-actionable" for /triage/summary/.
    ADVICE_BY_PHONE = "advice_by_phone", "Advice by phone"
    MEDICATION_CHANGE = "medication_change", "Medication changed"
    VIDEO_REVIEW = "video_review", "Video review"
    HOME_VISIT = "home_visit", "Home visit"
    ESCALATED_TO_HOSPITAL = "escalated_to_hospital", "Escalated to hospital"
    AMBULANCE = "ambulance", "Ambulance called (999)"
    REVIEWED_PLAN_IN_PLACE = "reviewed_plan_in_place", "Reviewed — plan in place"
    DEVICE_FIXED = "device_fixed", "Device problem fixed"
    NO_ACTION = "no_action", "No action needed"
    FALSE_ALARM = "false_alarm", "False alarm / artefact"
    AUTO_RESOLVED = "auto_resolved", "Resolved automatically"


class Alert(models.Model):
    kind = models.CharField(max_length=24, choices=AlertKind.choices)
    category = models.CharField(max_length=10, choices=Category.choices)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    state = models.CharField(max_length=12, choices=AlertState.choices, default=AlertState.OPEN)
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="alerts")
    device = models.ForeignKey(
        "devices.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    score = models.ForeignKey(
        "scoring.EarlyWarningScore", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    title = models.CharField(max_length=200)
    detail = models.TextField(blank=True)

    opened_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    escalated_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="assigned_alerts"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=24, choices=Outcome.choices, blank=True)
    # What the alert was raised for, kept as raised: the card compares it with the patient now.
    raised_total = models.PositiveSmallIntegerField(null=True, blank=True)
    raised_risk = models.CharField(max_length=12, blank=True)
    # What the patient's agreed parameters made of the score when raised (careplan.rules):
    # {"within": [...], "alerting_total": n, "alerting_risk": ...}; empty when none applied.
    agreed = models.JSONField(default=dict, blank=True)
    # Set when a clinical alert is closed (or, at HIGH, kept) while the patient is still in its
    # band: at this time the review sweep brings the alert back if the patient still is.
    review_by = models.DateTimeField(null=True, blank=True, db_index=True)
    # When a review found the patient still in band and brought the alert back: it waits from here.
    reopened_at = models.DateTimeField(null=True, blank=True)
    # A technical alert snoozed with a reason: it stays in the queue, below the rest, and calls
    # nobody until this time. Clinical alerts are never snoozed (alerts.services.snooze).
    snoozed_until = models.DateTimeField(null=True, blank=True)
    snooze_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-severity", "opened_at"]
        indexes = [models.Index(fields=["state", "-severity", "opened_at"], name="alert_queue")]
        constraints = [
            # One live alert per patient and kind (per device for device alerts): worse news
            # escalates that alert in place instead of raising a flood of duplicates.
            models.UniqueConstraint(
                fields=["patient", "kind"],
                condition=Q(state__in=["open", "acknowledged"], device__isnull=True),
                name="one_live_alert_per_patient_kind",
            ),
            models.UniqueConstraint(
                fields=["device", "kind"],
                condition=Q(state__in=["open", "acknowledged"], device__isnull=False),
                name="one_live_alert_per_device_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} – {self.title}"

    @property
    def is_live(self) -> bool:
        return self.state != AlertState.RESOLVED


class AlertEvent(models.Model):
    """Append-only history: who did what to an alert, and when."""

    class Action(models.TextChoices):
        RAISED = "raised", "Raised"
        ESCALATED = "escalated", "Escalated"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        ASSIGNED = "assigned", "Assigned"
        NOTE = "note", "Note added"
        RESOLVED = "resolved", "Resolved"
        AUTO_RESOLVED = "auto_resolved", "Resolved automatically"
        REOPENED = "reopened", "Reopened"
        REVIEW_PLANNED = "review_planned", "Plan recorded, review set"
        REVIEW_CLOSED = "review_closed", "Review passed, out of band"
        SNOOZED = "snoozed", "Snoozed"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=16, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField()
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} at {self.at:%Y-%m-%d %H:%M}"


# Connectivity incidents live in their own module; imported here so the app registers them.
from alerts.hold_models import PersistenceHold  # noqa: E402, F401
from alerts.incident_models import ConnectivityIncident, GroupKind, IncidentMember, IncidentState  # noqa: E402, F401
