"""Roles and the append-only audit trail."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    CLINICIAN = "clinician", "Clinician"
    OPERATOR = "operator", "Command-centre operator"
    ADMINISTRATOR = "administrator", "Administrator"


class StaffProfile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CLINICIAN)

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"


class AuditEvent(models.Model):
    """Who viewed which patient's record and who acted on which alert. Rows are never changed.

    Each event is a link of a SHA-256 hash chain (``accounts.audit_chain``): ``seq`` counts from
    1 without gaps and ``hash`` covers the event's content and the previous event's hash, so a
    changed, removed or inserted row breaks the chain where it happened (``manage.py audit_verify``).
    """

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=40)
    patient = models.ForeignKey("patients.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    route = models.CharField(max_length=200, blank=True, help_text="Page, API path or websocket.")
    detail = models.JSONField(default=dict, blank=True)
    seq = models.PositiveBigIntegerField(unique=True, help_text="Position in the hash chain, from 1, no gaps.")
    prev_hash = models.CharField(max_length=64, help_text="SHA-256 (hex) of the previous event in the chain.")
    hash = models.CharField(max_length=64, help_text="SHA-256 (hex) of prev_hash and this event's content.")

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} by {self.actor_id}"

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.pk is not None:
            raise ValueError("Audit events are append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise ValueError("Audit events are append-only and cannot be deleted.")
