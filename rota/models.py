"""Escalation to people: who is on duty, the ladder an unacknowledged alert climbs, and every
message sent to a person with its delivery state."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class DutyRole(models.TextChoices):
    WARD_CLINICIAN = "ward_clinician", "Ward clinician"
    COMMAND_CENTRE_OPERATOR = "command_centre_operator", "Command-centre operator"
    COMMAND_CENTRE_SENIOR = "command_centre_senior", "Command-centre senior"
    ON_CALL_DOCTOR = "on_call_doctor", "On-call doctor"


class Shift(models.Model):
    """One person on duty in one role, for one ward (or, with no ward, for every ward)."""

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="shifts")
    role = models.CharField(max_length=32, choices=DutyRole.choices)
    ward = models.ForeignKey(
        "patients.Ward",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="shifts",
        help_text="Leave empty for a command-centre or cross-ward shift: it covers every ward.",
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at", "role"]
        indexes = [models.Index(fields=["starts_at", "ends_at"], name="shift_time")]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="shift_ends_after_start")]

    def __str__(self) -> str:
        return f"{self.person} – {self.get_role_display()} {self.starts_at:%d %b %H:%M}–{self.ends_at:%H:%M}"


class Track(models.TextChoices):
    """Which ladder an alert climbs."""

    HIGH = "high", "Clinical, high"
    MEDIUM = "medium", "Clinical, medium and low–medium"
    TECHNICAL = "technical", "Technical"


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS (GOV.UK Notify)"
    PUSH = "push", "Web push"


def all_channels() -> list[str]:
    return list(Channel.values)


class EscalationStep(models.Model):
    """One rung: this long after an alert is raised and still unacknowledged, notify this role.

    Steps for a ward replace the defaults for that ward and track; steps with no ward replace
    the built-in defaults (``rota.ladder.DEFAULT_LADDER``) for every ward without its own.
    """

    ward = models.ForeignKey("patients.Ward", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    track = models.CharField(max_length=12, choices=Track.choices)
    after_seconds = models.PositiveIntegerField(help_text="Seconds unacknowledged before this step; 0 = at once.")
    role = models.CharField(max_length=32, choices=DutyRole.choices)
    channels = models.JSONField(default=all_channels, help_text='Any of "email", "sms", "push".')

    class Meta:
        ordering = ["track", "after_seconds", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["ward", "track", "after_seconds", "role"], name="one_rung_per_role_and_time"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_track_display()}: +{self.after_seconds} s → {self.get_role_display()}"


class LadderRung(models.Model):
    """A step of the ladder taken for one alert: the claim that makes each step fire once.

    ``epoch`` is when the alert last started waiting (raised, or back after a review), so an
    alert that comes back climbs the ladder again.
    """

    # An alert's rung, or a connectivity incident's (its technical ladder, for every ward it touches).
    alert = models.ForeignKey(
        "alerts.Alert", null=True, blank=True, on_delete=models.CASCADE, related_name="ladder_rungs"
    )
    incident = models.ForeignKey(
        "alerts.ConnectivityIncident", null=True, blank=True, on_delete=models.CASCADE, related_name="ladder_rungs"
    )
    epoch = models.DateTimeField()
    # An alert that worsens into another track (medium → high) climbs the new track from its start.
    track = models.CharField(max_length=12, choices=Track.choices, default=Track.HIGH)
    after_seconds = models.PositiveIntegerField()
    role = models.CharField(max_length=32, choices=DutyRole.choices)
    fired_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "epoch", "track", "after_seconds", "role"], name="each_rung_fires_once"
            ),
            models.UniqueConstraint(
                fields=["incident", "epoch", "track", "after_seconds", "role"],
                condition=Q(incident__isnull=False),
                name="each_incident_rung_fires_once",
            ),
            models.CheckConstraint(
                condition=Q(alert__isnull=False) | Q(incident__isnull=False), name="rung_for_an_alert_or_incident"
            ),
        ]

    def __str__(self) -> str:
        about = f"Alert {self.alert_id}" if self.alert_id else f"Incident {self.incident_id}"
        return f"{about}: +{self.after_seconds} s → {self.role} at {self.fired_at:%H:%M}"


class StaffContact(models.Model):
    """How a member of staff is reached away from the screen (e-mail is the user's own)."""

    person = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact")
    mobile = models.CharField(max_length=20, blank=True, help_text="UK mobile, e.g. 07700 900123.")

    def __str__(self) -> str:
        return f"{self.person}: {self.mobile or 'no mobile'}"


class PushSubscription(models.Model):
    """A browser's Web Push subscription (RFC 8030/8291): where to post, and its keys."""

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.person}: {self.endpoint[:40]}…"


class Notification(models.Model):
    """One message to one person on one channel, and what became of it."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed after retries"
        NOT_SENT = "not_sent", "Not sent"

    # About an alert, or about a connectivity incident (many devices silent together).
    alert = models.ForeignKey(
        "alerts.Alert", null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    incident = models.ForeignKey(
        "alerts.ConnectivityIncident",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notifications")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    reason = models.CharField(max_length=200, help_text="Why this person: the ladder step, or who escalated.")
    subject = models.CharField(max_length=200)
    body = models.TextField()
    address = models.CharField(max_length=1000, blank=True, help_text="E-mail, mobile or push endpoint used.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    provider_ref = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["alert", "created_at"], name="notification_alert")]
        constraints = [
            models.CheckConstraint(
                condition=Q(alert__isnull=False) | Q(incident__isnull=False), name="notification_about_something"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} to {self.recipient} – {self.get_state_display()}"


class Handover(models.Model):
    """A shift hand-over for one ward (or, with no ward, the command centre's every ward).

    The outgoing person starts it, naming who takes over; when that person accepts, the outgoing
    person's live alerts in scope move to them, each move recorded in the alert's timeline.
    """

    ward = models.ForeignKey("patients.Ward", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    outgoing = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    incoming = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    created_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    moved_alert_ids = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Hand-over {self.outgoing} → {self.incoming} ({self.ward or 'command centre'})"
